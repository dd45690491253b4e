import Foundation
import Testing

@testable import Backup

/// Backup job schedules: PVE's calendar-event forms the jobs use, matched against fixed times (UTC).
@Suite struct CalendarEventTests {
    static var utc: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }

    static func at(_ text: String) -> Date {
        let f = ISO8601DateFormatter()
        return f.date(from: text + "Z")!
    }

    @Test func weekdaysHoursAndSteps() throws {
        let sat = try CalendarEvent("sat 02:00")
        #expect(sat.matches(Self.at("2026-12-05T02:00:30"), calendar: Self.utc))  // a Saturday
        #expect(!sat.matches(Self.at("2026-12-04T02:00:00"), calendar: Self.utc))
        let weekdays = try CalendarEvent("mon..fri 21:30")
        #expect(
            weekdays.matches(Self.at("2026-12-04T21:30:00"), calendar: Self.utc)
                && !weekdays.matches(Self.at("2026-12-06T21:30:00"), calendar: Self.utc))
        let quarter = try CalendarEvent("*/15")
        #expect(
            quarter.matches(Self.at("2026-12-04T13:45:00"), calendar: Self.utc)
                && !quarter.matches(Self.at("2026-12-04T13:50:00"), calendar: Self.utc))
        let lists = try CalendarEvent("2,14:00/30")
        #expect(
            lists.matches(Self.at("2026-12-04T14:30:00"), calendar: Self.utc) && !lists.matches(Self.at("2026-12-04T03:00:00"), calendar: Self.utc))
        #expect(try CalendarEvent("daily").next(after: Self.at("2026-12-04T13:00:00"), calendar: Self.utc) == Self.at("2026-12-05T00:00:00"))
        #expect(try CalendarEvent("sun").next(after: Self.at("2026-12-04T13:00:00"), calendar: Self.utc) == Self.at("2026-12-06T00:00:00"))
        for bad in ["fri 25:00", "funday", "2026-12-24 10:00", "*/0", "1 2 3"] {
            #expect(throws: CalendarEventError.self, "\(bad)") { try CalendarEvent(bad) }
        }
    }
}

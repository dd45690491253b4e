import Foundation

/// PVE's schedule syntax (systemd calendar events), the part backup jobs use:
/// `[WEEKDAYS] [HOUR:]MINUTE`, each field `*`, a number, a list `a,b`, a range `a..b` and a step
/// `x/y` or `*/y`; weekdays `mon`…`sun` as lists and ranges; and `minutely`, `hourly`, `daily`,
/// `weekly`, `monthly` (the first day of the month at 00:00). A date part (`YYYY-MM-DD`) is refused.
public struct CalendarEvent: Sendable, Equatable {
    let weekdays: Set<Int>  // 1 = mon … 7 = sun
    let hours: Set<Int>
    let minutes: Set<Int>
    let firstOfMonth: Bool

    static let days = ["mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7]

    public init(_ text: String) throws {
        let words = text.lowercased().split(separator: " ").map(String.init)
        var weekdays = Set(1...7), hours = Set(0..<24), minutes: Set<Int> = [0], first = false
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "minutely": minutes = Set(0..<60)
        case "hourly": break
        case "daily": hours = [0]
        case "weekly":
            weekdays = [1]
            hours = [0]
        case "monthly":
            hours = [0]
            first = true
        default:
            guard !words.isEmpty, words.count <= 2 else { throw CalendarEventError("invalid schedule '\(text)'") }
            var rest = words
            if let day = rest.first, day.first?.isLetter == true {
                weekdays = try Self.weekdays(day)
                rest.removeFirst()
            }
            if let time = rest.first {
                guard !time.contains("-") else { throw CalendarEventError("dates in schedules are not supported: '\(text)'") }
                let parts = time.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                switch parts.count {
                case 1: minutes = try Self.field(parts[0], range: 0..<60)
                case 2, 3:
                    hours = try Self.field(parts[0], range: 0..<24)
                    minutes = try Self.field(parts[1], range: 0..<60)
                default: throw CalendarEventError("invalid time '\(time)'")
                }
            } else {
                hours = [0]
            }
        }
        self.weekdays = weekdays
        self.hours = hours
        self.minutes = minutes
        self.firstOfMonth = first
    }

    static func weekdays(_ text: String) throws -> Set<Int> {
        var out = Set<Int>()
        for item in text.split(separator: ",") {
            let range = item.components(separatedBy: "..")
            guard let a = days[String(range[0].prefix(3))], range.count <= 2 else { throw CalendarEventError("invalid weekday '\(item)'") }
            if range.count == 2 {
                guard let b = days[String(range[1].prefix(3))] else { throw CalendarEventError("invalid weekday '\(item)'") }
                out.formUnion(a <= b ? Array(a...b) : Array(a...7) + Array(1...b))
            } else {
                out.insert(a)
            }
        }
        return out
    }

    static func field(_ text: String, range: Range<Int>) throws -> Set<Int> {
        var out = Set<Int>()
        for item in text.split(separator: ",").map(String.init) {
            let stepParts = item.split(separator: "/", maxSplits: 1).map(String.init)
            var values: [Int]
            if stepParts[0] == "*" {
                values = Array(range)
            } else if stepParts[0].contains("..") {
                let ends = stepParts[0].components(separatedBy: "..").map { Int($0) }
                guard ends.count == 2, let a = ends[0], let b = ends[1], range.contains(a), range.contains(b), a <= b else {
                    throw CalendarEventError("invalid range '\(item)'")
                }
                values = Array(a...b)
            } else {
                guard let n = Int(stepParts[0]), range.contains(n) else { throw CalendarEventError("invalid value '\(item)'") }
                values = stepParts.count == 2 ? Array(n..<range.upperBound) : [n]
            }
            if stepParts.count == 2 {
                guard let step = Int(stepParts[1]), step > 0 else { throw CalendarEventError("invalid step '\(item)'") }
                values = values.enumerated().filter { $0.offset % step == 0 }.map(\.element)
            }
            out.formUnion(values)
        }
        return out
    }

    /// Whether the event fires in the minute that holds `date` (local time).
    public func matches(_ date: Date, calendar: Calendar = .current) -> Bool {
        let c = calendar.dateComponents([.weekday, .hour, .minute, .day], from: date)
        let weekday = (c.weekday! + 5) % 7 + 1  // Calendar: 1 = Sunday
        return weekdays.contains(weekday) && hours.contains(c.hour!) && minutes.contains(c.minute!) && (!firstOfMonth || c.day == 1)
    }

    /// The next minute the event fires after `date`, within a year.
    public func next(after date: Date, calendar: Calendar = .current) -> Date? {
        var t = Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
        for _ in 0..<(366 * 24 * 60) {
            if matches(t, calendar: calendar) { return t }
            t = t.addingTimeInterval(60)
        }
        return nil
    }
}

public struct CalendarEventError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

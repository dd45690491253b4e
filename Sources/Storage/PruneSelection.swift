import Foundation

/// Which backups a retention setting (`keep-last=3,keep-daily=7,…`) keeps: PVE's rules. Backups are
/// taken newest first; each rule in turn (last, hourly, daily, weekly, monthly, yearly) keeps the
/// newest backup of each period it has not seen, up to its count; a period already covered by a
/// backup an earlier rule kept uses none of the count. Protected backups are kept apart from all
/// rules; `keep-all=1` (or no rule at all) keeps everything.
public enum PruneSelection {
    public enum Mark: String, Sendable { case keep, remove, protected }

    public struct Entry: Sendable {
        public var id: String
        public var ctime: Int64
        public var protected: Bool
        public init(id: String, ctime: Int64, protected: Bool) {
            self.id = id
            self.ctime = ctime
            self.protected = protected
        }
    }

    static let rules = ["keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly"]

    /// The setting's counts (`keep-all` as itself).
    public static func parse(_ text: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let n = Int(parts[1]) { out[String(parts[0])] = n }
        }
        return out
    }

    public static func mark(_ entries: [Entry], keep: [String: Int]) -> [String: Mark] {
        var marks: [String: Mark] = [:]
        let sorted = entries.sorted { $0.ctime > $1.ctime }
        for entry in sorted where entry.protected { marks[entry.id] = .protected }
        let counted = rules.filter { (keep[$0] ?? 0) > 0 }
        if keep["keep-all"] == 1 || counted.isEmpty {
            for entry in sorted where marks[entry.id] == nil { marks[entry.id] = .keep }
            return marks
        }
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone.current
        func period(_ rule: String, _ ctime: Int64) -> String {
            let date = Date(timeIntervalSince1970: TimeInterval(ctime))
            let c = calendar.dateComponents([.year, .month, .day, .hour, .weekOfYear, .yearForWeekOfYear], from: date)
            switch rule {
            case "keep-last": return "\(ctime)-\(UUID().uuidString)"  // every backup is a period of its own
            case "keep-hourly": return "\(c.year!)/\(c.month!)/\(c.day!)/\(c.hour!)"
            case "keep-daily": return "\(c.year!)/\(c.month!)/\(c.day!)"
            case "keep-weekly": return "\(c.yearForWeekOfYear!)/\(c.weekOfYear!)"
            case "keep-monthly": return "\(c.year!)/\(c.month!)"
            default: return "\(c.year!)"
            }
        }
        for rule in counted {
            var covered = Set<String>(), newly = 0
            let limit = keep[rule] ?? 0
            for entry in sorted where !entry.protected {
                let key = period(rule, entry.ctime)
                if marks[entry.id] == .keep {
                    covered.insert(key)
                } else if !covered.contains(key), newly < limit {
                    covered.insert(key)
                    newly += 1
                    marks[entry.id] = .keep
                }
            }
        }
        for entry in sorted where marks[entry.id] == nil { marks[entry.id] = .remove }
        return marks
    }
}

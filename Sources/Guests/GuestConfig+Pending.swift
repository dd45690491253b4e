import Foundation
import Schema

extension GuestConfig {
    /// Applies `[PENDING]` to the current config (at start, or while the guest is stopped); `replaced`
    /// hears of every key whose old value is replaced or deleted, so volumes can become `unusedN`.
    public mutating func applyPending(replaced: (inout GuestConfig, _ key: String, _ old: String, _ new: String?) -> Void = { _, _, _, _ in }) {
        for (key, value) in pending.values.sorted(by: { $0.key < $1.key }) {
            if let old = current[key] { replaced(&self, key, old, value) }
            current[key] = value
        }
        for (key, _) in pendingDelete {
            if let old = current.values.removeValue(forKey: key) { replaced(&self, key, old, nil) }
        }
        pending = GuestConfig.Section()
        pendingDelete = []
    }

    /// GET …/pending: every key with its current value, pending value and pending deletion.
    public var pendingList: [JSON] {
        let keys = Set(current.values.keys).union(pending.values.keys).union(pendingDelete.map(\.key))
        return keys.sorted().map { key in
            var item: [String: JSON] = ["key": .string(key)]
            if let value = current[key] { item["value"] = .string(value) }
            if let value = pending[key] { item["pending"] = .string(value) }
            if let delete = pendingDelete.first(where: { $0.key == key }) { item["delete"] = delete.force ? 2 : 1 }
            return .object(item)
        }
    }

    /// The first free `unusedN` key.
    public func nextUnusedKey() -> String {
        var n = 0
        while current["unused\(n)"] != nil || pending["unused\(n)"] != nil { n += 1 }
        return "unused\(n)"
    }
}

/// Facts about a guest's host process.
public enum GuestProcess {
    /// Seconds since the process started, from `/proc`.
    public static func uptime(_ pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")"),
            let uptimeText = try? String(contentsOfFile: "/proc/uptime", encoding: .utf8),
            let systemUptime = Double(uptimeText.split(separator: " ").first ?? "")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let ticks = Double(fields[19]) else { return nil }
        return max(0, systemUptime - ticks / Double(sysconf(Int32(_SC_CLK_TCK))))
    }
}

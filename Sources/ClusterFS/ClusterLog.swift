import Glibc

/// One entry of the cluster log (PVE's `.clusterlog` shape).
public struct ClusterLogEntry: Equatable, Sendable {
    public var time: UInt32
    public var priority: UInt8  // syslog priority: 3 error, 4 warning, 6 info
    public var node: String
    public var pid: UInt32
    public var user: String
    public var tag: String
    public var message: String
}

/// The cluster log: each node keeps its own recent entries as one status-channel value, so every
/// node sees every node's entries without anything being stored in the tree.
extension ClusterFS {
    static let clusterLogKey = "clusterlog"
    static let clusterLogKeep = 100

    /// Adds an entry under this node's name; the other nodes see it through the status channel.
    public func clusterLog(_ message: String, tag: String, user: String = "root@pam", priority: UInt8 = 6) {
        let entry = ClusterLogEntry(
            time: UInt32(time(nil)), priority: priority, node: nodeName, pid: UInt32(getpid()), user: user, tag: tag, message: message)
        let own = (status.value(node: nodeName, key: Self.clusterLogKey)).flatMap { try? Self.decodeLog($0) } ?? []
        status.set(Self.clusterLogKey, Self.encodeLog(Array((own + [entry]).suffix(Self.clusterLogKeep))))
    }

    /// Every online node's entries, newest first.
    public func clusterLogEntries() -> [ClusterLogEntry] {
        // a node's own entries are in order; within one second that order decides
        status.values(key: Self.clusterLogKey).values
            .flatMap { ((try? Self.decodeLog($0)) ?? []).enumerated().map { (index: $0.offset, entry: $0.element) } }
            .sorted { ($0.entry.time, $0.entry.node, $0.index) > ($1.entry.time, $1.entry.node, $1.index) }
            .map(\.entry)
    }

    func clusterLogJSON() -> String {
        let items = clusterLogEntries().enumerated().map { index, e in
            "{\"uid\": \(index + 1), \"time\": \(e.time), \"pri\": \(e.priority), \"tag\": \(jsonString(e.tag)), \"pid\": \(e.pid), \"node\": \(jsonString(e.node)), \"user\": \(jsonString(e.user)), \"msg\": \(jsonString(e.message))}"
        }
        return "{\n\"data\": [\n" + items.joined(separator: ",\n") + "\n]\n}\n"
    }

    static func encodeLog(_ entries: [ClusterLogEntry]) -> [UInt8] {
        var w = WireWriter()
        w.u32(UInt32(entries.count))
        for e in entries {
            w.u32(e.time); w.u8(e.priority); w.string(e.node); w.u32(e.pid); w.string(e.user); w.string(e.tag); w.string(e.message)
        }
        return w.bytes
    }

    static func decodeLog(_ bytes: [UInt8]) throws(WireError) -> [ClusterLogEntry] {
        var r = WireReader(bytes)
        let n = try r.count(elementSize: 25)
        return try (0..<n).map { _ throws(WireError) in
            ClusterLogEntry(
                time: try r.u32(), priority: try r.u8(), node: try r.string(), pid: try r.u32(), user: try r.string(),
                tag: try r.string(), message: try r.string())
        }
    }
}

/// A JSON string literal (quotes, backslashes and control characters escaped).
func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

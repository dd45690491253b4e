/// A task's unique ID, in PVE's exact text form:
/// `UPID:<node>:<pid 8 hex>:<pstart 8 hex>:<starttime 8 hex>:<type>:<id>:<user>:`.
public struct UPID: Hashable, Sendable, CustomStringConvertible {
    public let node: String
    public let pid: UInt32
    public let pstart: UInt64
    public let starttime: Int64
    public let type: String
    public let id: String
    public let user: String

    public init(node: String, pid: UInt32, pstart: UInt64, starttime: Int64, type: String, id: String, user: String) {
        self.node = node
        self.pid = pid
        self.pstart = pstart
        self.starttime = starttime
        self.type = type
        self.id = id
        self.user = user
    }

    public var description: String {
        "UPID:\(node):\(Self.hex8(UInt64(pid))):\(Self.hex8(pstart)):\(Self.hex8(UInt64(starttime))):\(type):\(id):\(user):"
    }

    /// Parses a UPID string; nil when it is not one. The type may not contain ':', the id may be empty.
    public init?(_ text: String) {
        let fields = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        // UPID, node, pid, pstart, starttime, type, id, user (may contain no ':'), trailing empty field
        guard fields.count == 9, fields[0] == "UPID", fields[8].isEmpty,
            !fields[1].isEmpty, fields[1].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }),
            fields[2].count == 8, fields[3].count >= 8, fields[4].count == 8,
            let pid = UInt32(fields[2], radix: 16), let pstart = UInt64(fields[3], radix: 16),
            let start = UInt32(fields[4], radix: 16),
            !fields[5].isEmpty, !fields[7].isEmpty
        else { return nil }
        self.init(
            node: fields[1], pid: pid, pstart: pstart, starttime: Int64(start), type: fields[5], id: fields[6],
            user: fields[7])
    }

    /// The last hex digit of the start time: the task log's subdirectory, as PVE lays them out.
    public var logSubdirectory: String { String(Self.hex8(UInt64(starttime)).last!) }

    static func hex8(_ value: UInt64) -> String {
        let s = String(value, radix: 16, uppercase: true)
        return s.count >= 8 ? s : String(repeating: "0", count: 8 - s.count) + s
    }
}

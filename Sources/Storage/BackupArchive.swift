import Foundation

/// A backup archive's name as vzdump writes it, `vzdump-<qemu|lxc>-<vmid>-<YYYY_MM_DD-HH_MM_SS>.<ext>`,
/// and its side files: `<archive>.notes` (the notes), `<archive>.protected` (kept from pruning and
/// removal) and `<stem>.log` (the stem is the name without its extensions).
public struct BackupArchive: Sendable, Equatable {
    public var type: String
    public var vmid: Int
    /// When the backup was made (the name's time, UTC as vzdump writes it).
    public var ctime: Int64
    public var stem: String
    /// The archive's file name.
    public var file: String

    public init?(name: String) {
        let file = name.split(separator: "/").last.map(String.init) ?? name
        let parts = file.split(separator: "-", maxSplits: 4).map(String.init)
        guard parts.count == 5, parts[0] == "vzdump", ["qemu", "lxc", "openvz"].contains(parts[1]), let vmid = Int(parts[2]) else { return nil }
        let rest = parts[3] + "-" + parts[4]
        let stamp = String(rest.prefix(19))
        var components = DateComponents()
        let fields = stamp.split(whereSeparator: { $0 == "_" || $0 == "-" }).compactMap { Int($0) }
        guard stamp.count == 19, fields.count == 6 else { return nil }
        (components.year, components.month, components.day, components.hour, components.minute, components.second) =
            (fields[0], fields[1], fields[2], fields[3], fields[4], fields[5])
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: components) else { return nil }
        self.type = parts[1]
        self.vmid = vmid
        self.ctime = Int64(date.timeIntervalSince1970)
        self.stem = "vzdump-\(parts[1])-\(parts[2])-\(stamp)"
        self.file = file
    }

    /// The side files of an archive at `path`.
    public static func notesPath(_ path: String) -> String { path + ".notes" }
    public func protectedPath(directory: String) -> String { directory + "/" + file + ".protected" }
    public func logPath(directory: String) -> String { directory + "/" + stem + ".log" }

    /// Whether a file of a backup directory is an archive (not a side file).
    public static func isArchive(_ file: String) -> Bool {
        BackupArchive(name: file) != nil && ![".notes", ".protected", ".log", ".tmp"].contains(where: { file.hasSuffix($0) })
    }
}

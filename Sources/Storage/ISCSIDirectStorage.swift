import Foundation
import Schema

/// An iSCSI target QEMU reaches itself through libiscsi (PVE's `iscsidirect`): no kernel initiator,
/// no device on the host. Its LUNs are the volumes (`lunN`), made and removed on the target by its
/// admin, never by Corral; a volume's `path` is the `iscsi://PORTAL/TARGET/N` a VM's disk opens.
public struct ISCSIDirectStorage: TargetLUNStorage {
    public static let driver = StorageDriver(
        type: "iscsidirect", content: ["images", "none"], defaultContent: ["images"], formats: ["raw"], defaultFormat: "raw",
        capabilities: [.shared],
        options: targetOptions
    ) { entry throws(StorageError) in try ISCSIDirectStorage(entry: entry) }

    public let entry: StorageConfig.Entry
    public var capabilities: StorageCapabilities { Self.driver.capabilities }
    public var defaultFormat: String { "raw" }
    public var formats: Set<String> { ["raw"] }
    let portal: String
    let target: String
    let runner: CommandRunner

    public init(entry: StorageConfig.Entry, runner: CommandRunner = .system) throws(StorageError) {
        guard let portal = entry["portal"], let target = entry["target"] else {
            throw StorageError(500, "storage '\(entry.id)' needs 'portal' and 'target'")
        }
        self.entry = entry
        self.portal = portal
        self.target = target
        self.runner = runner
    }

    var url: String { "iscsi://\(portal)/\(target)" }

    func lun(_ name: String) throws(StorageError) -> Int {
        guard name.hasPrefix("lun"), let n = Int(name.dropFirst(3)), n >= 0 else {
            throw StorageError(400, "unable to parse volume name '\(name)' of iSCSI storage '\(entry.id)' (lunN)")
        }
        return n
    }

    public func path(_ name: String) throws(StorageError) -> String { "\(url)/\(try lun(name))" }

    /// The target's disk LUNs and their sizes (`iscsi-ls -s`, then the exact size from the LUN itself).
    func luns() throws(StorageError) -> [(lun: Int, size: Int64)] {
        let out = try runner.run(["iscsi-ls", "-s", url])
        // only the lines after this target's own header are its LUNs
        var mine = false, lines: [Substring] = []
        for line in out.split(separator: "\n") {
            if line.hasPrefix("Target:") { mine = line.split(separator: " ").first == "Target:\(target)" } else if mine { lines.append(line) }
        }
        return try Self.parseLUNs(lines.joined(separator: "\n")).map { n throws(StorageError) in (n, try lunSize(n)) }
    }

    /// `Lun:1    Type:DIRECT_ACCESS (Size:63M)` lines: the disks among the LUNs (not the controller).
    static func parseLUNs(_ text: String) -> [Int] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(whereSeparator: \.isWhitespace)
            guard let first = fields.first, first.hasPrefix("Lun:"), line.contains("Type:DIRECT_ACCESS") else { return nil }
            return Int(first.dropFirst(4))
        }
    }

    func lunSize(_ n: Int) throws(StorageError) -> Int64 {
        let out = try runner.run(["qemu-img", "info", "--output=json", "\(url)/\(n)"])
        let json = (try? JSONSerialization.jsonObject(with: Data(out.utf8))) as? [String: Any] ?? [:]
        return (json["virtual-size"] as? NSNumber)?.int64Value ?? 0
    }

    public func list(content: String?, vmid: Int?) throws(StorageError) -> [VolumeInfo] {
        guard content == nil || content == "images", vmid == nil else { return [] }
        return try luns().map { lun in
            VolumeInfo(
                volid: "\(entry.id):lun\(lun.lun)", content: "images", format: "raw", size: lun.size, used: lun.size, vmid: nil, ctime: nil,
                parent: nil)
        }
    }

    /// The LUNs' sizes: all used, nothing left to allocate.
    public func status() throws(StorageError) -> (total: Int64, used: Int64, available: Int64) {
        let total = try luns().reduce(0) { $0 + $1.size }
        return (total, total, 0)
    }

    public func size(_ name: String) throws(StorageError) -> Int64 { try lunSize(try lun(name)) }

    /// The target must answer at the portal (what is wrong is named).
    public func activate() throws(StorageError) {
        let output: String
        do { output = try runner.run(["iscsi-ls", "-s", url]) } catch {
            throw StorageError(
                500, "unable to activate storage '\(entry.id)' - target '\(target)' does not answer at portal \(portal): \(error.message)")
        }
        // the portal lists all its targets, whichever was asked for
        guard StorageScan.iscsiTargets(output).contains(where: { $0.target == target }) else {
            throw StorageError(
                500, "unable to activate storage '\(entry.id)' - target '\(target)' does not answer at portal \(portal) (not offered there)")
        }
    }

    /// Raw bytes as QEMU reads them: through qemu-img, which speaks libiscsi.
    public func export(_ name: String, format: String, to sink: any VolumeSink) throws(StorageError) {
        guard format == "raw+size" else { throw StorageError(400, "iSCSI volumes export as 'raw+size' only") }
        let temp = NSTemporaryDirectory() + "corral-export-\(UUID().uuidString).raw"
        defer { unlink(temp) }
        try runner.run(["qemu-img", "convert", "-f", "raw", "-O", "raw", try path(name), temp])
        try VolumeStream.export(path: temp, to: sink)
    }
}

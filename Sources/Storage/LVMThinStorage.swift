import Foundation
import Schema

/// An LVM thin pool: each disk is a thin volume `vm-<vmid>-disk-<n>` in `vgname`, drawn from
/// `thinpool`; snapshots and linked clones are thin snapshots, so both are instant.
public struct LVMThinStorage: StoragePlugin {
    public static let driver = StorageDriver(
        type: "lvmthin", content: ["images", "rootdir"], defaultContent: ["images", "rootdir"], formats: ["raw"], defaultFormat: "raw",
        capabilities: [.snapshots, .linkedClones, .needsActivation, .localPaths],
        options: [
            "vgname": Schema.string(pattern: "[a-zA-Z0-9\\.\\+\\_][a-zA-Z0-9\\.\\+\\_\\-]*"),
            "thinpool": Schema.string(pattern: "[a-zA-Z0-9\\.\\+\\_][a-zA-Z0-9\\.\\+\\_\\-]*"),
        ]
    ) { entry throws(StorageError) in try LVMThinStorage(entry: entry) }

    public let entry: StorageConfig.Entry
    public var capabilities: StorageCapabilities { Self.driver.capabilities }
    public var defaultFormat: String { "raw" }
    public var formats: Set<String> { ["raw"] }
    let vg: String
    let pool: String

    public init(entry: StorageConfig.Entry) throws(StorageError) {
        guard let vg = entry["vgname"], let pool = entry["thinpool"] else {
            throw StorageError(500, "storage '\(entry.id)' needs 'vgname' and 'thinpool'")
        }
        self.entry = entry
        self.vg = vg
        self.pool = pool
    }

    /// `base-100-disk-0/vm-101-disk-0` (a linked clone) lives as `vm-101-disk-0`.
    func lvName(_ name: String) throws(StorageError) -> String {
        let last = name.split(separator: "/").last.map(String.init) ?? ""
        guard !last.isEmpty, last.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
            throw StorageError(400, "invalid volume name '\(name)'")
        }
        return last
    }

    public func path(_ name: String) throws(StorageError) -> String { "/dev/\(vg)/\(try lvName(name))" }

    public func allocate(vmid: Int, format: String, size: Int64, name: String?) throws(StorageError) -> String {
        guard format == "raw" else { throw StorageError(400, "storage '\(entry.id)' holds raw volumes only, not '\(format)'") }
        let existing = Set(try volumes().map(\.name))
        let lv = name ?? nextDiskName(vmid: vmid, existing: existing)
        try lvm(["lvcreate", "-q", "-y", "-V", "\((size + 1023) / 1024)k", "-T", "\(vg)/\(pool)", "-n", lv])
        return lv
    }

    public func free(_ name: String) throws(StorageError) {
        let lv = try lvName(name)
        // the volume's snapshots go with it
        for snapshot in try volumes() where snapshot.name.hasPrefix("snap_\(lv)_") { try lvm(["lvremove", "-q", "-f", "\(vg)/\(snapshot.name)"]) }
        try lvm(["lvremove", "-q", "-f", "\(vg)/\(lv)"])
    }

    struct LV { var name: String; var size: Int64; var origin: String; var ctime: Int64? }

    func volumes() throws(StorageError) -> [LV] {
        let out = try lvm(["lvs", "--noheadings", "--units", "b", "--nosuffix", "--separator", "|", "-o", "lv_name,lv_size,origin,pool_lv", vg])
        return out.split(separator: "\n").compactMap { line in
            let f = line.trimmingCharacters(in: .whitespaces).split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 4, f[3] == pool else { return nil }
            return LV(name: f[0], size: Int64(f[1]) ?? 0, origin: f[2], ctime: nil)
        }
    }

    public func list(content: String?, vmid: Int?) throws(StorageError) -> [VolumeInfo] {
        guard content == nil || content == "images" || content == "rootdir" else { return [] }
        return try volumes().compactMap { lv in
            let id = VolumeID(storage: entry.id, name: lv.name)
            guard let owner = id.ownerVMID, vmid == nil || owner == vmid else { return nil }
            let name = lv.origin.hasPrefix("base-") ? "\(lv.origin)/\(lv.name)" : lv.name
            return VolumeInfo(
                volid: "\(entry.id):\(name)", content: "images", format: "raw", size: lv.size, used: nil, vmid: owner, ctime: nil,
                parent: lv.origin.hasPrefix("base-") ? "\(entry.id):\(lv.origin)" : nil)
        }
    }

    public func status() throws(StorageError) -> (total: Int64, used: Int64, available: Int64) {
        let out = try lvm(["lvs", "--noheadings", "--units", "b", "--nosuffix", "--separator", "|", "-o", "lv_size,data_percent", "\(vg)/\(pool)"])
        let f = out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        guard f.count == 2, let total = Int64(f[0]) else { throw StorageError(500, "cannot read the thin pool \(vg)/\(pool)") }
        let used = Int64(Double(total) * (Double(f[1]) ?? 0) / 100)
        return (total, used, total - used)
    }

    public func size(_ name: String) throws(StorageError) -> Int64 {
        let lv = try lvName(name)
        guard let volume = try volumes().first(where: { $0.name == lv }) else { throw StorageError(404, "no volume '\(entry.id):\(name)'") }
        return volume.size
    }

    public func resize(_ name: String, to bytes: Int64) throws(StorageError) {
        try lvm(["lvextend", "-q", "-L", "\((bytes + 1023) / 1024)k", "\(vg)/\(try lvName(name))"])
    }

    public func canSnapshot(_ name: String) -> Bool { true }

    public func snapshot(_ name: String, snapshot: String) throws(StorageError) {
        let lv = try lvName(name)
        try lvm(["lvcreate", "-q", "-s", "-n", "snap_\(lv)_\(snapshot)", "\(vg)/\(lv)"])
    }

    public func rollback(_ name: String, snapshot: String) throws(StorageError) {
        let lv = try lvName(name)
        // thin snapshots cannot be merged back while kept, so the volume is replaced by a new snapshot of the snapshot
        try lvm(["lvremove", "-q", "-f", "\(vg)/\(lv)"])
        try lvm(["lvcreate", "-q", "-s", "-n", lv, "\(vg)/snap_\(lv)_\(snapshot)"])
        try lvm(["lvchange", "-q", "-ay", "-K", "\(vg)/\(lv)"])
    }

    public func deleteSnapshot(_ name: String, snapshot: String) throws(StorageError) {
        try lvm(["lvremove", "-q", "-f", "\(vg)/snap_\(try lvName(name))_\(snapshot)"])
    }

    public func makeBase(_ name: String) throws(StorageError) -> String {
        let lv = try lvName(name)
        guard lv.hasPrefix("vm-") else { throw StorageError(400, "volume '\(name)' cannot become a base volume") }
        let base = "base-" + lv.dropFirst(3)
        try lvm(["lvrename", "-q", vg, lv, base])
        try lvm(["lvchange", "-q", "-pr", "\(vg)/\(base)"])
        return base
    }

    public func canLinkClone(_ name: String) -> Bool { VolumeID(storage: entry.id, name: name).isBase }

    public func linkedClone(_ base: String, vmid: Int, name: String?) throws(StorageError) -> String {
        let baseLV = try lvName(base)
        let existing = Set(try volumes().map(\.name))
        let lv = name ?? nextDiskName(vmid: vmid, existing: existing)
        try lvm(["lvcreate", "-q", "-s", "-n", lv, "\(vg)/\(baseLV)"])
        try lvm(["lvchange", "-q", "-ay", "-K", "-prw", "\(vg)/\(lv)"])
        return "\(baseLV)/\(lv)"
    }

    /// The volume group and its thin pool must exist; what is wrong is named.
    public func activate() throws(StorageError) {
        guard (try? Command.execute(["vgs", "--noheadings", "-o", "vg_name", vg]))?.status == 0 else {
            throw StorageError(500, "unable to activate storage '\(entry.id)' - volume group '\(vg)' not found")
        }
        let lv = try? Command.execute(["lvs", "--noheadings", "-o", "lv_attr", "\(vg)/\(pool)"])
        guard lv?.status == 0, lv?.stdout.trimmingCharacters(in: .whitespaces).hasPrefix("t") == true else {
            throw StorageError(500, "unable to activate storage '\(entry.id)' - thin pool '\(vg)/\(pool)' not found")
        }
    }

    /// Activates a volume (thin snapshots start inactive).
    public func activateVolume(_ name: String) throws(StorageError) {
        try lvm(["lvchange", "-q", "-ay", "-K", "\(vg)/\(try lvName(name))"])
    }

    @discardableResult
    func lvm(_ arguments: [String]) throws(StorageError) -> String {
        do { return try Command.run(arguments) } catch { throw StorageError(wrapping: error) }
    }
}

import Foundation
import Schema

/// A (thick) LVM volume group: each disk is a logical volume `vm-<vmid>-disk-<n>` of its full size
/// in `vgname`, activated before a guest opens it and deactivated after (so a `shared` group on a
/// SAN is used by one node at a time). No snapshots and no linked clones (as PVE's `lvm`);
/// `saferemove` zeroes a volume before it is removed.
public struct LVMStorage: StoragePlugin {
    static let lvNamePattern = "[a-zA-Z0-9\\.\\+\\_][a-zA-Z0-9\\.\\+\\_\\-]*"

    public static let driver = StorageDriver(
        type: "lvm", content: ["images", "rootdir"], defaultContent: ["images", "rootdir"], formats: ["raw"], defaultFormat: "raw",
        capabilities: [.needsActivation, .localPaths],
        options: [
            "vgname": Schema.string(pattern: lvNamePattern), "base": Schema.string(format: "pve-volume-id").optional(),
            "saferemove": Schema.boolean().optional(), "saferemove_throughput": Schema.string().optional(),
            "tagged_only": Schema.boolean().optional(),
        ]
    ) { entry throws(StorageError) in try LVMStorage(entry: entry) }

    public let entry: StorageConfig.Entry
    public var capabilities: StorageCapabilities { Self.driver.capabilities.union(entry["shared"] == "1" ? .shared : []) }
    public var defaultFormat: String { "raw" }
    public var formats: Set<String> { ["raw"] }
    let vg: String
    let runner: CommandRunner

    public init(entry: StorageConfig.Entry, runner: CommandRunner = .system) throws(StorageError) {
        guard let vg = entry["vgname"] else { throw StorageError(500, "storage '\(entry.id)' needs 'vgname'") }
        self.entry = entry
        self.vg = vg
        self.runner = runner
    }

    func lvName(_ name: String) throws(StorageError) -> String {
        guard !name.contains("/"), !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.+".contains($0) }) else {
            throw StorageError(400, "invalid volume name '\(name)' of storage '\(entry.id)'")
        }
        return name
    }

    public func path(_ name: String) throws(StorageError) -> String { "/dev/\(vg)/\(try lvName(name))" }

    struct LV { var name: String; var size: Int64; var tags: String }

    func volumes() throws(StorageError) -> [LV] {
        let out = try runner.run(["lvs", "--noheadings", "--units", "b", "--nosuffix", "--separator", "|", "-o", "lv_name,lv_size,lv_tags", vg])
        return out.split(separator: "\n").compactMap { line in
            let f = line.trimmingCharacters(in: .whitespaces).split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 2, let size = Int64(f[1]) else { return nil }
            return LV(name: f[0], size: size, tags: f.count > 2 ? f[2] : "")
        }
    }

    public func allocate(vmid: Int, format: String, size: Int64, name: String?) throws(StorageError) -> String {
        guard format == "raw" else { throw StorageError(400, "storage '\(entry.id)' holds raw volumes only, not '\(format)'") }
        let lv: String
        if let name { lv = try lvName(name) } else { lv = nextDiskName(vmid: vmid, existing: Set(try volumes().map(\.name))) }
        // the volume is created active (as PVE): whoever asked is about to write to it
        try runner.run(["lvcreate", "-q", "-y", "-Wy", "--setactivationskip", "n", "-L", "\((size + 1023) / 1024)k", "-n", lv, vg])
        return lv
    }

    public func free(_ name: String) throws(StorageError) {
        let lv = try lvName(name)
        if entry["saferemove"] == "1" {
            // what the guest wrote must not reach the next volume carved from the same extents
            try runner.run(["lvchange", "-q", "-ay", "\(vg)/\(lv)"])
            try runner.run(["blkdiscard", "--zeroout", try path(name)])
        }
        try runner.run(["lvremove", "-q", "-f", "\(vg)/\(lv)"])
    }

    public func list(content: String?, vmid: Int?) throws(StorageError) -> [VolumeInfo] {
        guard content == nil || content == "images" || content == "rootdir" else { return [] }
        return try volumes().compactMap { lv in
            guard let owner = VolumeID(storage: entry.id, name: lv.name).ownerVMID, vmid == nil || owner == vmid else { return nil }
            return VolumeInfo(
                volid: "\(entry.id):\(lv.name)", content: "images", format: "raw", size: lv.size, used: nil, vmid: owner, ctime: nil, parent: nil)
        }
    }

    public func status() throws(StorageError) -> (total: Int64, used: Int64, available: Int64) {
        let out = try runner.run(["vgs", "--noheadings", "--units", "b", "--nosuffix", "--separator", "|", "-o", "vg_size,vg_free", vg])
        let f = out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        guard f.count == 2, let total = Int64(f[0]), let free = Int64(f[1]) else {
            throw StorageError(500, "cannot read volume group '\(vg)' of storage '\(entry.id)'")
        }
        return (total, total - free, free)
    }

    public func size(_ name: String) throws(StorageError) -> Int64 {
        let lv = try lvName(name)
        guard let volume = try volumes().first(where: { $0.name == lv }) else { throw StorageError(404, "no volume '\(entry.id):\(name)'") }
        return volume.size
    }

    public func resize(_ name: String, to bytes: Int64) throws(StorageError) {
        try runner.run(["lvextend", "-q", "-L", "\((bytes + 1023) / 1024)k", "\(vg)/\(try lvName(name))"])
    }

    public func canSnapshot(_ name: String) -> Bool { false }
    public func snapshot(_ name: String, snapshot: String) throws(StorageError) { throw noSnapshots }
    public func rollback(_ name: String, snapshot: String) throws(StorageError) { throw noSnapshots }
    public func deleteSnapshot(_ name: String, snapshot: String) throws(StorageError) { throw noSnapshots }
    var noSnapshots: StorageError { StorageError(400, "storage '\(entry.id)' (lvm) cannot take snapshots: use lvmthin for that") }

    public func makeBase(_ name: String) throws(StorageError) -> String {
        let lv = try lvName(name)
        guard lv.hasPrefix("vm-") else { throw StorageError(400, "volume '\(name)' cannot become a base volume") }
        let base = "base-" + lv.dropFirst(3)
        try runner.run(["lvrename", "-q", vg, lv, base])
        try runner.run(["lvchange", "-q", "-pr", "\(vg)/\(base)"])
        return base
    }

    public func canLinkClone(_ name: String) -> Bool { false }
    public func linkedClone(_ base: String, vmid: Int, name: String?) throws(StorageError) -> String {
        throw StorageError(400, "storage '\(entry.id)' (lvm) has no linked clones: make a full clone")
    }

    /// The volume group must exist (named in the error when it does not).
    public func activate() throws(StorageError) {
        guard runner.succeeds(["vgs", "--noheadings", "-o", "vg_name", vg]) else {
            throw StorageError(500, "unable to activate storage '\(entry.id)' - volume group '\(vg)' not found")
        }
    }

    public func activateVolume(_ name: String) throws(StorageError) { try runner.run(["lvchange", "-q", "-ay", "\(vg)/\(try lvName(name))"]) }
    public func deactivateVolume(_ name: String) throws(StorageError) { try runner.run(["lvchange", "-q", "-an", "\(vg)/\(try lvName(name))"]) }
}

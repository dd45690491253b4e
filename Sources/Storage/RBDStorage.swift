import Foundation
import Glibc
import Schema

/// A Ceph RBD pool (PVE's `rbd`): each disk an RBD image `vm-<vmid>-disk-<n>`. QEMU opens images
/// itself through librbd (the path is Corral's `rbd://USER@MONITORS/POOL/IMAGE`, a network disk in
/// the domain XML) or, with `krbd 1`, through the kernel's mapping `/dev/rbd/POOL/IMAGE`.
/// Snapshots are RBD snapshots; templates are renamed `base-…` with a protected `@__base__`
/// snapshot that linked clones are `rbd clone`s of. The key (`keyring`) lives in priv/storage.
public struct RBDStorage: StoragePlugin {
    public static let driver = StorageDriver(
        type: "rbd", content: ["images", "rootdir"], defaultContent: ["images"], formats: ["raw"], defaultFormat: "raw",
        capabilities: [.snapshots, .linkedClones, .shared, .needsActivation],
        options: [
            "pool": Schema.string().optional(), "namespace": Schema.string().optional(),
            "monhost": Schema.string(format: "pve-storage-portal-dns-list").optional(), "username": Schema.string().optional(),
            "krbd": Schema.boolean().optional(), "keyring": Schema.string().optional(), "data-pool": Schema.string().optional(),
        ]
    ) { entry throws(StorageError) in try RBDStorage(entry: entry) }

    public let entry: StorageConfig.Entry
    public var capabilities: StorageCapabilities { Self.driver.capabilities.union(krbd ? .localPaths : []) }
    public var defaultFormat: String { "raw" }
    public var formats: Set<String> { ["raw"] }
    let pool: String
    let user: String
    let krbd: Bool
    let runner: CommandRunner

    public init(entry: StorageConfig.Entry, runner: CommandRunner = .system) throws(StorageError) {
        self.entry = entry
        pool = entry["pool"] ?? "rbd"
        user = entry["username"] ?? "admin"
        krbd = entry["krbd"] == "1"
        self.runner = runner
    }

    var monitors: [String] { (entry["monhost"] ?? "").split(whereSeparator: { " ,;".contains($0) }).map(String.init) }

    /// Where the key is written for the tools (root only; made again whenever it is needed).
    var keyringPath: String { NSTemporaryDirectory() + "corral-rbd-\(entry.id).keyring" }

    /// The options every `rbd` call takes: the pool, the monitors, the user and its key.
    func rbd(_ arguments: [String]) throws(StorageError) -> String {
        var command = ["rbd", "-p", pool]
        if let namespace = entry["namespace"] { command += ["--namespace", namespace] }
        if !monitors.isEmpty { command += ["-m", monitors.joined(separator: ",")] }
        command += ["--id", user]
        if let key = entry["keyring"] {
            let text = key.contains("[client.") ? key : "[client.\(user)]\n\tkey = \(key)\n"
            guard FileManager.default.createFile(atPath: keyringPath, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw StorageError(500, "cannot write the key of storage '\(entry.id)'")
            }
            command += ["--keyring", keyringPath]
        }
        return try runner.run(command + arguments)
    }

    func image(_ name: String) throws(StorageError) -> String {
        let last = name.split(separator: "/").last.map(String.init) ?? ""
        guard !last.isEmpty, !name.contains(".."), name.split(separator: "/").count <= 2,
            last.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) })
        else { throw StorageError(400, "invalid volume name '\(name)' of storage '\(entry.id)'") }
        return last
    }

    public func path(_ name: String) throws(StorageError) -> String {
        let img = try image(name)
        let scoped = entry["namespace"].map { "\(pool)/\($0)/\(img)" } ?? "\(pool)/\(img)"
        if krbd { return "/dev/rbd/\(scoped)" }
        return "rbd://\(user)@\((monitors.isEmpty ? ["localhost"] : monitors).joined(separator: ","))/\(scoped)"
    }

    struct Image: Decodable { var image: String; var size: Int64; var parent: Parent?; var snapshot: String? }
    struct Parent: Decodable { var image: String; var snapshot: String }

    func images() throws(StorageError) -> [Image] {
        let out = try rbd(["ls", "-l", "--format", "json"])
        guard let all = try? JSONDecoder().decode([Image].self, from: Data(out.utf8)) else {
            throw StorageError(500, "cannot read the images of pool '\(pool)' (storage '\(entry.id)')")
        }
        return all.filter { $0.snapshot == nil }
    }

    public func allocate(vmid: Int, format: String, size: Int64, name: String?) throws(StorageError) -> String {
        guard format == "raw" else { throw StorageError(400, "storage '\(entry.id)' holds raw images only, not '\(format)'") }
        let img: String
        if let name { img = try image(name) } else { img = nextDiskName(vmid: vmid, existing: Set(try images().map(\.image))) }
        var command = ["create", "--image-feature", "layering", "--size", "\(max(1, (size + 1_048_575) / 1_048_576))"]
        if let data = entry["data-pool"] { command += ["--data-pool", data] }
        _ = try rbd(command + [img])
        return img
    }

    public func free(_ name: String) throws(StorageError) {
        let img = try image(name)
        _ = try rbd(["snap", "purge", img])
        _ = try rbd(["rm", img])
    }

    public func list(content: String?, vmid: Int?) throws(StorageError) -> [VolumeInfo] {
        guard content == nil || content == "images" || content == "rootdir" else { return [] }
        return try images().compactMap { img in
            guard let owner = VolumeID(storage: entry.id, name: img.image).ownerVMID, vmid == nil || owner == vmid else { return nil }
            let base = img.parent?.snapshot == "__base__" ? img.parent?.image : nil
            return VolumeInfo(
                volid: "\(entry.id):" + (base.map { "\($0)/\(img.image)" } ?? img.image), content: "images", format: "raw", size: img.size, used: nil,
                vmid: owner, ctime: nil, parent: base.map { "\(entry.id):\($0)" })
        }
    }

    public func status() throws(StorageError) -> (total: Int64, used: Int64, available: Int64) {
        var command = ["ceph", "df", "--format", "json", "--id", user]
        if !monitors.isEmpty { command += ["-m", monitors.joined(separator: ",")] }
        let out = try runner.run(command)
        let json = (try? JSONSerialization.jsonObject(with: Data(out.utf8))) as? [String: Any] ?? [:]
        let pools = json["pools"] as? [[String: Any]] ?? []
        guard let stats = pools.first(where: { $0["name"] as? String == pool })?["stats"] as? [String: Any],
            let used = (stats["stored"] as? NSNumber)?.int64Value ?? (stats["bytes_used"] as? NSNumber)?.int64Value,
            let available = (stats["max_avail"] as? NSNumber)?.int64Value
        else { throw StorageError(500, "pool '\(pool)' of storage '\(entry.id)' not found in 'ceph df'") }
        return (used + available, used, available)
    }

    public func size(_ name: String) throws(StorageError) -> Int64 {
        let img = try image(name)
        guard let found = try images().first(where: { $0.image == img }) else { throw StorageError(404, "no volume '\(entry.id):\(name)'") }
        return found.size
    }

    public func resize(_ name: String, to bytes: Int64) throws(StorageError) {
        _ = try rbd(["resize", "--size", "\((bytes + 1_048_575) / 1_048_576)", try image(name)])
    }

    public func canSnapshot(_ name: String) -> Bool { (try? image(name)) != nil }
    public func snapshot(_ name: String, snapshot: String) throws(StorageError) { _ = try rbd(["snap", "create", "\(try image(name))@\(snapshot)"]) }
    public func rollback(_ name: String, snapshot: String) throws(StorageError) {
        _ = try rbd(["snap", "rollback", "\(try image(name))@\(snapshot)"])
    }
    public func deleteSnapshot(_ name: String, snapshot: String) throws(StorageError) {
        _ = try rbd(["snap", "rm", "\(try image(name))@\(snapshot)"])
    }

    public func makeBase(_ name: String) throws(StorageError) -> String {
        let img = try image(name)
        guard img.hasPrefix("vm-") else { throw StorageError(400, "volume '\(name)' cannot become a base volume") }
        let base = "base-" + img.dropFirst(3)
        _ = try rbd(["rename", img, base])
        _ = try rbd(["snap", "create", "\(base)@__base__"])
        // a clone's parent snapshot must not go while clones use it
        _ = try rbd(["snap", "protect", "\(base)@__base__"])
        return base
    }

    public func canLinkClone(_ name: String) -> Bool { VolumeID(storage: entry.id, name: name).isBase }

    public func linkedClone(_ base: String, vmid: Int, name: String?) throws(StorageError) -> String {
        guard canLinkClone(base) else { throw StorageError(400, "'\(base)' is not a base volume of storage '\(entry.id)'") }
        let baseImage = try image(base)
        let img: String
        if let name { img = try image(name) } else { img = nextDiskName(vmid: vmid, existing: Set(try images().map(\.image))) }
        _ = try rbd(["clone", "\(pool)/\(baseImage)@__base__", "\(pool)/\(img)"])
        return "\(baseImage)/\(img)"
    }

    /// The pool must answer (monitors reachable, the key accepted, the pool there).
    public func activate() throws(StorageError) {
        do { _ = try rbd(["ls"]) } catch {
            throw StorageError(500, "unable to activate storage '\(entry.id)' - pool '\(pool)' cannot be listed: \(error.message)")
        }
    }

    /// With `krbd`, the image is mapped to a block device (once).
    public func activateVolume(_ name: String) throws(StorageError) {
        guard krbd, !FileManager.default.fileExists(atPath: try path(name)) else { return }
        _ = try rbd(["map", try image(name)])
    }

    public func deactivateVolume(_ name: String) throws(StorageError) {
        guard krbd, FileManager.default.fileExists(atPath: try path(name)) else { return }
        _ = try rbd(["unmap", try path(name)])
    }
}

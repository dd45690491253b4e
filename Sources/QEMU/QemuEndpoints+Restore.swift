import API
import Archive
import Blocking
import Foundation
import Guests
import Schema
import Storage

extension QemuEndpoints {
    /// `POST /nodes/{node}/qemu` with `archive`: a VMA backup made a VM (to `storage`, or where each
    /// disk came from); `force` replaces a stopped VM of the same ID, `unique` gives new MACs.
    static func restore(_ m: VMManager, _ context: RequestContext, vmid: Int, archive: String) throws -> JSON {
        let force = context.bool("force") ?? false, unique = context.bool("unique") ?? false, storage = context.string("storage")
        if let owner = m.owner(of: vmid) {
            guard force, owner.type == "qemu", owner.node == m.node else {
                throw APIError(500, "unable to restore VM \(vmid) - VM \(vmid) already exists on node '\(owner.node)'")
            }
            guard !m.isRunning(vmid) else { throw APIError(500, "unable to restore VM \(vmid) - VM is running") }
        }
        let path: String
        do { path = archive.hasPrefix("/") ? archive : try m.storage.path(archive) } catch { throw APIError.parameters(["archive": "\(error)"]) }
        guard FileManager.default.fileExists(atPath: path) else { throw APIError.parameters(["archive": "archive '\(archive)' does not exist"]) }
        if archive.hasPrefix("/") && context.user != "root@pam" { throw APIError(403, "only root can restore from a host path") }
        if let id = VolumeID(archive), !context.has(["Datastore.AllocateSpace", "Datastore.Audit"], on: "/storage/\(id.storage)", any: true) {
            throw APIError(403, "Permission check failed (/storage/\(id.storage), Datastore.Audit)")
        }
        if let storage, !context.has(["Datastore.AllocateSpace"], on: "/storage/\(storage)") {
            throw APIError(403, "Permission check failed (/storage/\(storage), Datastore.AllocateSpace)")
        }
        return try task(context, "qmrestore", vmid) { log in
            if m.owner(of: vmid) != nil {
                log("destroying VM \(vmid) to restore over it (force)")
                try await m.destroy(vmid, purge: false, unreferenced: false, skiplock: false, log: log)
            }
            try await BlockingExecutor.shared.run {
                try VMRestore(vms: m).restore(vmid, archive: archive, storage: storage, unique: unique, log: log)
            }
        }
    }
}

extension VMManager {
    /// Writes this VM's backup into `target` (see `VMBackup`); returns bytes read and zero bytes left out.
    public func writeBackup(
        _ vmid: Int, mode: String, into target: VMBackupTarget, throttle: Throttle? = nil, log: @escaping @Sendable (String) -> Void
    ) throws -> (bytes: UInt64, zero: UInt64) {
        try VMBackup(vms: self).write(vmid, mode: mode, into: target, throttle: throttle, log: log)
    }

    /// Which disks a backup of this VM takes and why (the rules of `VMBackup.disks`): CD-ROMs are
    /// not listed, as PVE does not.
    public func backupInclusion(_ vmid: Int) -> [(key: String, volume: String, included: Bool, reason: String)] {
        guard let section = try? load(vmid).config.current else { return [] }
        return VMConfig(section).drives.sorted { $0.key < $1.key }.filter { !$0.isCDROM }.map { drive in
            let volume = drive.volid ?? drive.file
            if drive.options["backup"]?.boolValue == false { return (drive.key, volume, false, "backup=no") }
            if drive.key == "efidisk0" && section["bios"] != "ovmf" { return (drive.key, volume, false, "efidisk but no OVMF BIOS") }
            return (drive.key, volume, true, "default")
        }
    }

    /// The archived config (`qemu-server.conf`) of a VMA file or chunk-store backup, as text.
    public func archivedConfigText(_ archive: String) throws -> String {
        let path = archive.hasPrefix("/") ? archive : try storage.path(archive)
        let reader = try VMRestore.open(path)
        defer { reader.close() }
        guard let config = reader.reader.config("qemu-server.conf") else { throw QEMUError(500, "the archive has no qemu-server.conf") }
        return String(decoding: config, as: UTF8.self)
    }
}

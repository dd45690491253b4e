import Foundation
import Guests
import Libvirt
import Schema
import Storage

extension VMManager {
    /// Grows a disk (`+2G` or an absolute size). Shrinking is refused, as on PVE.
    public func resize(_ vmid: Int, disk key: String, size text: String, digest: String?, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "resize disk of VM \(vmid)") {
            var (config, current) = try load(vmid)
            if let digest, digest != current { throw QEMUError(500, "detected modified configuration - file changed by other user? Try again.") }
            try checkLock(config, vmid)
            guard let drive = VMConfig(config.current).drives.first(where: { $0.key == key }), !drive.isCDROM,
                let volid = drive.volid.flatMap(VolumeID.init)
            else {
                throw QEMUError.parameter("disk", "no disk '\(key)' to resize")
            }
            let plugin = try storage.plugin(volid.storage)
            let old = try plugin.size(volid.name)
            let grow = text.hasPrefix("+")
            guard let amount = DiskSize.bytes(grow ? String(text.dropFirst()) : text) else {
                throw QEMUError.parameter("size", "invalid size '\(text)'")
            }
            let new = grow ? old + amount : amount
            guard new >= old else { throw QEMUError.parameter("size", "shrinking disks is not supported") }
            if isRunning(vmid) {
                let domain = try runningDomain(vmid)
                try domain.blockResize(DomainXML.target(drive), bytes: UInt64(new))
            } else {
                try plugin.resize(volid.name, to: new)
            }
            var props = drive.options
            props["size"] = .string(DiskSize.text(new))
            config.current[key] = Self.printDrive(props, format: VMOptionSchema.format(key)!)
            try save(vmid, config)
            log("resized \(volid) from \(DiskSize.text(old)) to \(DiskSize.text(new))")
        }
    }

    /// Removes `unused` entries (and their volumes) or detaches disks to unused.
    public func unlink(_ vmid: Int, ids: [String], force: Bool, log: @escaping @Sendable (String) -> Void) async throws {
        try await update(vmid: vmid, parameters: [:], delete: ids, revert: [], digest: nil, skiplock: false, log: log)
        if force {
            // detached disks became unused entries: remove those too
            let (config, _) = try load(vmid)
            let unused = VMConfig(config.current).unusedVolumes.map(\.key)
            if !unused.isEmpty { try await update(vmid: vmid, parameters: [:], delete: unused, revert: [], digest: nil, skiplock: false, log: log) }
        }
    }
}

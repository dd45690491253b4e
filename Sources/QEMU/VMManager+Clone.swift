import Foundation
import Guests
import Storage

extension VMManager {
    /// Turns a stopped VM into a template: every disk becomes a read-only base volume.
    public func template(_ vmid: Int, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "template VM \(vmid)") {
            var (config, _) = try load(vmid)
            try checkLock(config, vmid)
            if VMConfig(config.current).isTemplate { throw QEMUError(400, "VM \(vmid) is already a template") }
            if isRunning(vmid) { throw QEMUError(400, "you can't convert a running VM to a template") }
            if !config.snapshots.isEmpty { throw QEMUError(400, "you can't convert a VM with snapshots to a template") }
            for disk in try snapshotDisks(config.current) where !VolumeID(disk.drive.volid!)!.isBase {
                let base = try disk.plugin.makeBase(disk.name)
                let volid = "\(disk.plugin.entry.id):\(base)"
                var props = disk.drive.options
                props["file"] = .string(volid)
                config.current[disk.drive.key] = Self.printDrive(props, format: VMOptionSchema.format(disk.drive.key)!)
                // the config follows each disk at once, so a failure part-way leaves a config that matches the disks
                try save(vmid, config)
                log("\(disk.drive.volid!) is now the base volume \(volid)")
            }
            config.current["template"] = "1"
            try save(vmid, config)
        }
    }

    /// Clones a VM: linked (copy-on-write, from a template) or full. The new VM gets new MACs, a new
    /// SMBIOS UUID and generation ID. Clones of one template run side by side (shared lock on it).
    public func clone(
        _ vmid: Int, newid: Int, name: String?, description: String?, full requested: Bool?, target: String?, format: String?,
        snapname: String?, log: @escaping @Sendable (String) -> Void
    ) async throws {
        let (probe, _) = try load(vmid)
        let isTemplate = VMConfig(probe.current).isTemplate
        let full = requested ?? !isTemplate
        if !full && !isTemplate { throw QEMUError.parameter("full", "linked clones can only be made from a template") }
        if snapname != nil { throw QEMUError.parameter("snapname", "cloning from a snapshot is not supported yet") }
        try await locks.with(vmid, shared: isTemplate, what: "clone VM \(vmid)") {
            let (config, _) = try load(vmid)
            try checkLock(config, vmid)
            if !isTemplate && isRunning(vmid) { throw QEMUError(400, "cloning a running VM is not supported yet: stop it or make it a template") }
            try await locks.with(newid, what: "clone to VM \(newid)") {
                let reverter = Reverter()
                do {
                    var reserve = GuestConfig()
                    reserve.current["lock"] = "clone"
                    do { try fs.create(configPath(newid), Array(reserve.serialized().utf8)) } catch {
                        throw QEMUError.parameter("newid", "VM \(newid) already exists")
                    }
                    let path = configPath(newid), fs = fs
                    reverter.add("remove \(path)") { try fs.delete(path) }
                    var section = config.current
                    for key in ["lock", "parent", "template", "vmstate", "snaptime"] { section[key] = nil }
                    section.values = section.values.filter { !$0.key.hasPrefix("unused") }
                    section["name"] = name ?? "Copy-of-VM-\(config.current["name"] ?? "\(vmid)")"
                    section.description = description ?? config.current.description
                    section["smbios1"] = "uuid=\(UUID().uuidString.lowercased())"
                    section["vmgenid"] = UUID().uuidString.lowercased()
                    for nic in VMConfig(section).nics {
                        var props = nic.options
                        props["macaddr"] = .string(Self.randomMAC(prefix: macPrefix()))
                        section[nic.key] = Self.printNIC(props, format: VMOptionSchema.format(nic.key)!)
                    }
                    for disk in try snapshotDisks(config.current) {
                        let newName: String
                        let storageID: String
                        if full {
                            storageID = target ?? disk.plugin.entry.id
                            let destination = try storage.plugin(storageID)
                            let size = try disk.plugin.size(disk.name)
                            let fmt = format ?? (destination.formats.contains(disk.name.hasSuffix(".qcow2") ? "qcow2" : "raw") ? (disk.name.hasSuffix(".qcow2") ? "qcow2" : "raw") : destination.defaultFormat)
                            newName = try destination.allocate(vmid: newid, format: fmt, size: size, name: nil)
                            let volid = "\(storageID):\(newName)"
                            let storage = storage
                            reverter.add("free \(volid)") { try storage.free(volid) }
                            log("copying \(disk.drive.volid!) to \(volid)")
                            do {
                                try Command.run(["qemu-img", "convert", "-p", "-n", "-f", disk.name.hasSuffix(".qcow2") ? "qcow2" : "raw", "-O", fmt,
                                                 try disk.plugin.path(disk.name), try destination.path(newName)])
                            } catch { throw QEMUError(500, "copying \(disk.drive.volid!) failed: \(error)") }
                        } else {
                            storageID = disk.plugin.entry.id
                            guard disk.plugin.canLinkClone(disk.name) else {
                                throw QEMUError(500, "linked clone feature is not available for \(disk.drive.key) (\(disk.drive.volid!))")
                            }
                            newName = try disk.plugin.linkedClone(disk.name, vmid: newid, name: nil)
                            let volid = "\(storageID):\(newName)"
                            let storage = storage
                            reverter.add("free \(volid)") { try storage.free(volid) }
                            log("linked clone \(volid) of \(disk.drive.volid!)")
                        }
                        var props = disk.drive.options
                        props["file"] = .string("\(storageID):\(newName)")
                        section[disk.drive.key] = Self.printDrive(props, format: VMOptionSchema.format(disk.drive.key)!)
                    }
                    var result = GuestConfig()
                    result.current = section
                    try save(newid, result)
                    reverter.succeed()
                    log("cloned VM \(vmid) to \(newid)\(full ? "" : " (linked)")")
                } catch {
                    reverter.revert(log: log)
                    throw error
                }
            }
        }
    }

    /// Grows a disk (`+2G` or an absolute size). Shrinking is refused, as on PVE.
    public func resize(_ vmid: Int, disk key: String, size text: String, digest: String?, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "resize disk of VM \(vmid)") {
            var (config, current) = try load(vmid)
            if let digest, digest != current { throw QEMUError(400, "detected modified configuration - file changed by other user? Try again.") }
            try checkLock(config, vmid)
            guard let drive = VMConfig(config.current).drives.first(where: { $0.key == key }), !drive.isCDROM, let volid = drive.volid.flatMap(VolumeID.init) else {
                throw QEMUError.parameter("disk", "no disk '\(key)' to resize")
            }
            let plugin = try storage.plugin(volid.storage)
            let old = try plugin.size(volid.name)
            let grow = text.hasPrefix("+")
            guard let amount = DiskSize.bytes(grow ? String(text.dropFirst()) : text) else { throw QEMUError.parameter("size", "invalid size '\(text)'") }
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

    /// Whether snapshot/clone/copy work for every disk of the VM (or of a snapshot).
    public func hasFeature(_ vmid: Int, feature: String, snapname: String?) throws -> Bool {
        let (config, _) = try load(vmid)
        let section = snapname.flatMap { config.snapshots[$0] } ?? config.current
        let disks = try snapshotDisks(section)
        switch feature {
        case "snapshot": return disks.allSatisfy { $0.plugin.canSnapshot($0.name) }
        case "clone": return VMConfig(section).isTemplate && disks.allSatisfy { $0.plugin.canLinkClone($0.name) }
        case "copy": return true
        default: return false
        }
    }
}

import Blocking
import Foundation
import Glibc
import Guests
import Schema
import Storage

extension ContainerManager {
    /// Turns a stopped container into a template: its volumes become base volumes, read-only.
    public func makeTemplate(_ vmid: Int, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "template CT \(vmid)") {
            try await BlockingExecutor.shared.run { [self] in
                let (config, _) = try load(vmid)
                try store.checkLock(config, vmid)
                if isRunning(vmid) { throw GuestError(500, "CT \(vmid) is running; a template must be stopped") }
                if !config.snapshots.isEmpty { throw GuestError(500, "CT \(vmid) has snapshots; remove them first") }
                var section = config.current
                for v in try snapshotVolumes(config.current) {
                    let base = try v.plugin.makeBase(v.name)
                    let format = CTOptionSchema.format(v.key)!
                    var props = try PropertyString.parse(section[v.key]!, format: format)
                    props["volume"] = .string("\(VolumeID(v.volid)!.storage):\(base)")
                    section[v.key] = Self.printVolume(props)
                    log("\(v.volid) is now base volume \(base)")
                }
                section["template"] = "1"
                try store.modify(vmid) { $0.current = section }
            }
        }
    }

    /// A full clone: every volume copied to a new one of the new container, new MACs, a new hostname.
    public func clone(_ vmid: Int, newid: Int, hostname: String?, description: String?, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, shared: true, what: "clone CT \(vmid)") {
            try await BlockingExecutor.shared.run { [self] in
                let (config, _) = try load(vmid)
                try store.checkLock(config, vmid)
                let source = CTConfig(config.current)
                if isRunning(vmid) && !source.isTemplate { throw GuestError(500, "CT \(vmid) is running; clone it stopped (or make it a template)") }
                let reverter = Reverter()
                do {
                    try store.reserve(newid, lock: "clone")
                    let path = store.configPath(newid), fs = fs
                    reverter.add("remove \(path)") { try fs.delete(path) }
                    var section = config.current
                    for v in try snapshotVolumes(config.current) {
                        let from = try v.plugin.path(v.name)
                        let isDirectory = (try? FileManager.default.attributesOfItem(atPath: from))?[.type] as? FileAttributeType == .typeDirectory
                        let size = isDirectory ? 0 : try v.plugin.size(v.name)
                        let name = try v.plugin.allocate(vmid: newid, format: isDirectory ? "subvol" : "raw", size: size, name: nil)
                        let volid = "\(v.plugin.entry.id):\(name)", storage = storage
                        reverter.add("free \(volid)") { try storage.free(volid) }
                        let to = try v.plugin.path(name)
                        do {
                            if isDirectory {
                                _ = try Command.run(["cp", "-a", "--", from + "/.", to])
                            } else {
                                _ = try Command.run(["dd", "if=\(from)", "of=\(to)", "bs=4M", "conv=sparse,notrunc", "status=none"])
                            }
                        } catch { throw GuestError(500, "cannot copy \(v.volid): \(error)") }
                        var props = try PropertyString.parse(section[v.key]!, format: CTOptionSchema.format(v.key)!)
                        props["volume"] = .string(volid)
                        section[v.key] = Self.printVolume(props)
                        log("copied \(v.volid) to \(volid)")
                    }
                    for nic in source.nics {
                        var props = nic.options
                        props["hwaddr"] = .string(MACAddress.new(fs))
                        section[nic.key] = Self.printProperties(props, first: "name")
                    }
                    for key in section.values.keys where key.hasPrefix("unused") || key == "parent" || key == "lock" || key == "template" { section[key] = nil }
                    section["hostname"] = hostname ?? "CT\(newid)"
                    if let description { section.description = description }
                    var clone = GuestConfig()
                    clone.current = section
                    try store.save(newid, clone)
                    reverter.succeed()
                    log("CT \(newid) cloned from CT \(vmid)")
                } catch {
                    reverter.revert(log: log)
                    throw error
                }
            }
        }
    }
}

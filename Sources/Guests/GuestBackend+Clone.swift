import Blocking
import ClusterFS
import Foundation
import Schema
import Storage

/// Templates and clones, written once for every guest type.
extension GuestBackend {
    /// Turns a stopped guest without snapshots into a template: every volume becomes a read-only
    /// base volume; the config follows each volume at once, so a failure part-way leaves a config
    /// that matches the volumes.
    public func template(_ vmid: Int, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "template \(noun) \(vmid)") {
            try await BlockingExecutor.shared.run { [self] in
                var (config, _) = try load(vmid)
                try store.checkLock(config, vmid)
                if isTemplate(config.current) { throw GuestError(400, "\(noun) \(vmid) is already a template") }
                if isRunning(vmid) { throw GuestError(400, "you can't convert a running \(noun) to a template") }
                if !config.snapshots.isEmpty { throw GuestError(400, "you can't convert a \(noun) with snapshots to a template") }
                for v in try volumes(config.current) where !VolumeID(v.volid)!.isBase {
                    let base = "\(v.plugin.entry.id):\(try v.plugin.makeBase(v.name))"
                    config.current[v.key] = try replacingVolume(in: config.current, key: v.key, with: base)
                    try store.save(vmid, config)
                    log("\(v.volid) is now the base volume \(base)")
                }
                config.current["template"] = "1"
                try store.save(vmid, config)
            }
        }
    }

    /// Clones a guest: linked (copy-on-write, from a template: the default where the storages can) or full, to `target` storage or each
    /// volume's own. Clones of one template run side by side (a shared lock on it). The new guest
    /// is reserved first and every later step registers its undo, so a failed clone leaves nothing.
    public func clone(
        _ vmid: Int, newid: Int, name: String?, description: String?, full requested: Bool?, target: String?, format: String?,
        log: @escaping @Sendable (String) -> Void
    ) async throws {
        if let owner = store.owner(of: newid) {
            throw GuestError.parameter("newid", "\(noun) \(newid) already exists on node '\(owner.node)'")
        }
        let (probe, _) = try load(vmid)
        let fromTemplate = isTemplate(probe.current)
        // a template is cloned linked by default, where every volume's storage can; otherwise in full
        let full = try requested ?? (!fromTemplate || !volumes(probe.current).allSatisfy { $0.plugin.canLinkClone($0.name) })
        if !full && !fromTemplate { throw GuestError.parameter("full", "linked clones can only be made from a template") }
        try await locks.with(vmid, shared: fromTemplate, what: "clone \(noun) \(vmid)") {
            try await locks.with(newid, what: "clone to \(noun) \(newid)") {
                try await BlockingExecutor.shared.run { [self] in
                    let (config, _) = try load(vmid)
                    try store.checkLock(config, vmid)
                    if !fromTemplate && isRunning(vmid) {
                        throw GuestError(400, "\(noun) \(vmid) is running: clone it stopped, or make it a template")
                    }
                    let reverter = Reverter()
                    do {
                        try store.reserve(newid, lock: "clone", parameter: "newid")
                        let path = store.configPath(newid), fs = store.fs
                        reverter.add("remove \(path)") { try fs.delete(path) }
                        var section = config.current
                        for v in try volumes(config.current) {
                            let copy: String
                            if full {
                                let destination = try target.map { try storage.plugin($0) } ?? v.plugin
                                log("copying \(v.volid) to storage '\(destination.entry.id)'")
                                copy =
                                    "\(destination.entry.id):\(try storage.copyVolume(v.name, of: v.plugin, to: destination, vmid: newid, format: format))"
                            } else {
                                guard v.plugin.canLinkClone(v.name) else {
                                    throw GuestError(500, "linked clone feature is not available for \(v.key) (\(v.volid))")
                                }
                                copy = "\(v.plugin.entry.id):\(try v.plugin.linkedClone(v.name, vmid: newid, name: nil))"
                                log("linked clone \(copy) of \(v.volid)")
                            }
                            let volumes = self.storage
                            reverter.add("free \(copy)") { try volumes.free(copy) }
                            section[v.key] = try replacingVolume(in: section, key: v.key, with: copy)
                        }
                        for key in ["lock", "parent", "template", "vmstate", "snaptime"] { section[key] = nil }
                        section.values = section.values.filter { !$0.key.hasPrefix("unused") }
                        var result = GuestConfig()
                        result.current = clonedSection(section, newid: newid, name: name, description: description)
                        try store.save(newid, result)
                        reverter.succeed()
                        log("cloned \(noun) \(vmid) to \(newid)\(full ? "" : " (linked)")")
                    } catch {
                        reverter.revert(log: log)
                        throw error
                    }
                }
            }
        }
    }
}

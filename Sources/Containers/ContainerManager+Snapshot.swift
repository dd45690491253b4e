import Blocking
import Foundation
import Guests
import Schema
import Storage

extension ContainerManager {
    /// The volumes a snapshot covers (bind mounts excluded), with the storage that holds each.
    func snapshotVolumes(_ section: GuestConfig.Section) throws -> [(key: String, volid: String, plugin: any StoragePlugin, name: String)] {
        let ct = CTConfig(section)
        return try ([ct.rootfs].compactMap { $0 } + ct.mountPoints).compactMap { mp in
            guard let volid = mp.volid, mp.options["backup"]?.plainText != "0" || mp.key == "rootfs", let id = VolumeID(volid) else { return nil }
            return (mp.key, volid, try storage.plugin(id.storage), id.name)
        }
    }

    /// Takes a snapshot of every volume through its storage. A running container is frozen for the
    /// moment the snapshots take, so they agree with each other. Storages that cannot (a dir
    /// storage's raw images and directories) make the call fail before anything changes.
    public func snapshot(_ vmid: Int, name: String, description: String?, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "snapshot CT \(vmid)") {
            try await BlockingExecutor.shared.run { [self] in
                let (config, _) = try load(vmid)
                try store.checkLock(config, vmid)
                try config.checkNewSnapshot(name, isTemplate: CTConfig(config.current).isTemplate)
                let volumes = try snapshotVolumes(config.current)
                for v in volumes where !v.plugin.canSnapshot(v.name) {
                    throw GuestError(500, "snapshot feature is not available for \(v.key) (\(v.volid)): storage type '\(v.plugin.entry.type)' cannot snapshot this volume")
                }
                try store.modify(vmid) { $0.current["lock"] = "snapshot" }
                let container = try container(vmid)
                let frozen = container.isRunning && container.state == "RUNNING"
                do {
                    if frozen { try container.freeze() }
                    defer { if frozen { try? container.unfreeze() } }
                    for v in volumes {
                        try v.plugin.snapshot(v.name, snapshot: name)
                        log("snapshot of \(v.volid)")
                    }
                } catch {
                    _ = try? store.modify(vmid) { $0.current["lock"] = nil }
                    throw GuestError(500, "\(error)")
                }
                try store.modify(vmid) { $0.recordSnapshot(name, description: description) }
                log("snapshot '\(name)' of CT \(vmid) taken")
            }
        }
    }

    /// Stops the container, rolls every volume back and restores the snapshot's config.
    public func rollback(_ vmid: Int, name: String, start: Bool, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "rollback CT \(vmid)") {
            let (config, _) = try load(vmid)
            try store.checkLock(config, vmid)
            guard let snapshot = config.snapshots[name] else { throw GuestError(500, "snapshot '\(name)' does not exist") }
            if isRunning(vmid) {
                try await stopLocked(vmid)
                log("stopped CT \(vmid)")
            }
            try await BlockingExecutor.shared.run { [self] in
                try store.modify(vmid) { $0.current["lock"] = "rollback" }
                for v in try snapshotVolumes(snapshot) {
                    try v.plugin.rollback(v.name, snapshot: name)
                    log("rolled back \(v.volid)")
                }
                try store.modify(vmid) { $0.restoreSnapshot(name) }
                if start { try startLocked(vmid, log: log) }
            }
        }
    }

    /// Deletes a snapshot from every volume and from the config.
    public func deleteSnapshot(_ vmid: Int, name: String, force: Bool, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "delete snapshot of CT \(vmid)") {
            try await BlockingExecutor.shared.run { [self] in
                let (config, _) = try load(vmid)
                if !force { try store.checkLock(config, vmid) }
                guard let snapshot = config.snapshots[name] else { throw GuestError(500, "snapshot '\(name)' does not exist") }
                for v in try snapshotVolumes(snapshot) {
                    do { try v.plugin.deleteSnapshot(v.name, snapshot: name) } catch {
                        guard force else { throw GuestError(500, "\(error)") }
                        log("warning: \(error)")
                    }
                }
                try store.modify(vmid) { $0.removeSnapshot(name) }
                log("deleted snapshot '\(name)'")
            }
        }
    }
}

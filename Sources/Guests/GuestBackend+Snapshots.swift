import Blocking
import Schema
import Storage

/// Snapshots, written once for every guest type: the lock, the checks, the `lock: snapshot` marker,
/// the config's snapshot tree; the backend's hooks do what differs (memory state, frozen writes).
extension GuestBackend {
    /// Refuses before anything changes when a storage cannot snapshot one of the volumes.
    func checkSnapshottable(_ volumes: [GuestVolume]) throws {
        for v in volumes where !v.plugin.canSnapshot(v.name) {
            throw GuestError(
                500, "snapshot feature is not available for \(v.key) (\(v.volid)): storage type '\(v.plugin.entry.type)' cannot snapshot this volume")
        }
    }

    public func snapshot(
        _ vmid: Int, name: String, description: String?, vmstate: Bool = false, log: @escaping @Sendable (String) -> Void
    ) async throws {
        try await locks.with(vmid, what: "snapshot \(noun) \(vmid)") {
            try await BlockingExecutor.shared.run { [self] in
                let (config, _) = try load(vmid)
                try store.checkLock(config, vmid)
                try config.checkNewSnapshot(name, isTemplate: isTemplate(config.current))
                let volumes = try self.volumes(config.current)
                try checkSnapshottable(volumes)
                try store.modify(vmid) { $0.current["lock"] = "snapshot" }
                let withState: Bool
                do {
                    withState = try takeSnapshot(vmid, name: name, volumes: volumes, vmstate: vmstate, log: log)
                } catch {
                    _ = try? store.modify(vmid) { $0.current["lock"] = nil }
                    throw error
                }
                try store.modify(vmid) {
                    $0.recordSnapshot(name, description: description, extra: ["vmstate": withState ? "1" : nil, "runningmachine": nil])
                }
                log("snapshot '\(name)' of \(noun) \(vmid) taken")
            }
        }
    }

    /// The default: every volume's storage snapshot, with the guest's writes paused while they run.
    public func takeSnapshot(
        _ vmid: Int, name: String, volumes: [GuestVolume], vmstate: Bool, log: @escaping @Sendable (String) -> Void
    ) throws -> Bool {
        let running = isRunning(vmid)
        if vmstate && running {
            throw GuestError(500, "\(noun) \(vmid) cannot keep its memory state in a snapshot of these volumes; take it with vmstate=0")
        }
        try snapshotOnStorages(vmid, name: name, volumes: volumes, pause: running, log: log)
        return false
    }

    /// Every volume's storage snapshot; with `pause`, the guest's writes are paused while they run,
    /// so the snapshots agree with each other.
    public func snapshotOnStorages(_ vmid: Int, name: String, volumes: [GuestVolume], pause: Bool, log: @escaping @Sendable (String) -> Void) throws {
        if pause { try freeze(vmid) }
        defer { if pause { try? thaw(vmid) } }
        for v in volumes {
            try v.plugin.snapshot(v.name, snapshot: name)
            log("snapshot of \(v.volid)")
        }
    }

    /// Stops the guest, rolls every volume back, restores the snapshot's config, then lets the
    /// backend resume it.
    public func rollback(_ vmid: Int, name: String, start: Bool, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "rollback \(noun) \(vmid)") {
            let (config, _) = try load(vmid)
            try store.checkLock(config, vmid)
            guard let snapshot = config.snapshots[name] else { throw GuestError(500, "snapshot '\(name)' does not exist") }
            if isRunning(vmid) {
                try await stopLocked(vmid)
                log("stopped \(noun) \(vmid)")
            }
            try await BlockingExecutor.shared.run { [self] in
                try store.modify(vmid) { $0.current["lock"] = "rollback" }
                for v in try volumes(snapshot) {
                    try v.plugin.rollback(v.name, snapshot: name)
                    log("rolled back \(v.volid)")
                }
                try store.modify(vmid) { $0.restoreSnapshot(name, dropping: ["vmstate"]) }
                try resumeAfterRollback(vmid, name: name, snapshot: snapshot, start: start, log: log)
            }
        }
    }

    public func resumeAfterRollback(
        _ vmid: Int, name: String, snapshot: GuestConfig.Section, start: Bool, log: @escaping @Sendable (String) -> Void
    ) throws {
        if start { try startLocked(vmid, log: log) }
    }

    /// Deletes a snapshot from every volume and from the config; its children get its parent.
    public func deleteSnapshot(_ vmid: Int, name: String, force: Bool, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "delete snapshot of \(noun) \(vmid)") {
            try await BlockingExecutor.shared.run { [self] in
                let (config, _) = try load(vmid)
                if !force { try store.checkLock(config, vmid) }
                guard let snapshot = config.snapshots[name] else { throw GuestError(500, "snapshot '\(name)' does not exist") }
                try deleteSnapshot(vmid, name: name, volumes: try volumes(snapshot), force: force, log: log)
                try store.modify(vmid) { $0.removeSnapshot(name) }
                log("deleted snapshot '\(name)'")
            }
        }
    }

    public func deleteSnapshot(_ vmid: Int, name: String, volumes: [GuestVolume], force: Bool, log: @escaping @Sendable (String) -> Void) throws {
        for v in volumes {
            do { try v.plugin.deleteSnapshot(v.name, snapshot: name) } catch {
                guard force else { throw GuestError(wrapping: error) }
                log("warning: \(error)")
            }
        }
    }

    /// The snapshot tree as PVE lists it: each snapshot, then `current` ("You are here!").
    public func snapshotList(_ vmid: Int) throws -> [JSON] {
        let (config, digest) = try load(vmid)
        return config.snapshotList(digest: digest, running: isRunning(vmid))
    }

    /// Whether snapshot, clone or copy work for every volume (of the guest or of one snapshot).
    public func hasFeature(_ vmid: Int, feature: String, snapname: String?) throws -> Bool {
        let (config, _) = try load(vmid)
        let section = snapname.flatMap { config.snapshots[$0] } ?? config.current
        let volumes = try volumes(section)
        switch feature {
        case "snapshot": return volumes.allSatisfy { $0.plugin.canSnapshot($0.name) }
        case "clone": return isTemplate(section) && volumes.allSatisfy { $0.plugin.canLinkClone($0.name) }
        case "copy": return true
        default: return false
        }
    }
}

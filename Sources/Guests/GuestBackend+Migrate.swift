import API
import ClusterFS
import Foundation
import Schema
import Storage

/// Moving a guest to another cluster node. Volumes on a storage the target shares stay where they
/// are; the others are copied (GuestBackend+MigrateVolumes). The config moves by one rename into
/// the target's directory (one step in the cluster filesystem, so the guest is always on exactly
/// one node); a running container is shut down, moved and started there (PVE's restart
/// migration). What cannot move says why, and nothing changes.
extension GuestBackend {
    /// Frees the source volumes of copies that arrived on the target (a failure only warns: the
    /// guest has moved).
    public func freeSources(_ copies: [VolumeCopy], log: @escaping @Sendable (String) -> Void) {
        for copy in copies {
            guard let id = VolumeID(copy.volid) else { continue }
            do {
                try storage.plugin(id.storage).free(id.name)
                log("removed \(copy.volid) from this node")
            } catch {
                log("WARN: could not remove \(copy.volid) from this node: \(error)")
            }
        }
    }

    /// Guests that cannot move while running (containers move by restart instead).
    public func migrateRunning(
        _ vmid: Int, target: String, copies: [VolumeCopy], bwlimit: Int?, call: @escaping @Sendable (APICall) async throws -> JSON,
        tunnel: @escaping @Sendable (APICall) throws -> any ByteTunnel, log: @escaping @Sendable (String) -> Void
    ) async throws {
        throw GuestError.parameter("online", "\(noun) \(vmid) cannot move while it runs")
    }

    /// Online cluster members other than this node, from `.members` (none when not clustered).
    func memberStates() -> [String: Bool] { store.fs.clusterMembers().mapValues(\.online) }

    /// The volids of the guest (current config and snapshots, CD-ROM images too) that are not on a
    /// shared storage available on `target`, with the reason for each.
    public func localVolumes(_ config: GuestConfig, target: String) -> [(volid: String, reason: String)] {
        var out: [(volid: String, reason: String)] = []
        var seen = Set<String>()
        var sections = [config.current]
        sections += config.snapshots.keys.sorted().map { config.snapshots[$0]! }
        for section in sections {
            var volids = ((try? volumes(section)) ?? []).map(\.volid)
            // CD-ROM images (`ide2: local:iso/x.iso,media=cdrom`) are not among a guest's volumes but must move too
            for (_, value) in section.values where value.contains("media=cdrom") {
                let volid = String(value.split(separator: ",").first ?? "")
                if volid.contains(":") { volids.append(volid) }
            }
            for volid in volids where seen.insert(volid).inserted {
                guard let id = VolumeID(volid), let plugin = try? storage.plugin(id.storage) else {
                    out.append((volid, "storage of \(volid) does not exist"))
                    continue
                }
                if !plugin.capabilities.contains(.shared) {
                    out.append((volid, "storage '\(id.storage)' is not shared"))
                } else if !plugin.entry.isAvailable(on: target) {
                    out.append((volid, "storage '\(id.storage)' is not available on node '\(target)'"))
                }
            }
        }
        return out
    }

    /// The precondition check: 400 naming the field for every reason the move cannot happen; the
    /// volumes to copy (those not on a storage the target shares), mapped by `mapping`.
    public func checkMigration(
        _ vmid: Int, target: String, online: Bool, restart: Bool, mapping: String? = nil, withLocalDisks: Bool = false
    ) throws -> (config: GuestConfig, running: Bool, copies: [VolumeCopy]) {
        let (config, _) = try load(vmid)
        try store.checkLock(config, vmid)
        if target == store.node { throw GuestError.parameter("target", "target is local node.") }
        let members = memberStates()
        guard let up = members[target] else { throw GuestError.parameter("target", "no such cluster node '\(target)'") }
        if !up { throw GuestError.parameter("target", "node '\(target)' is not online") }
        let running = isRunning(vmid)
        if running {
            if type == "lxc" && !restart && !online {
                throw GuestError.parameter("restart", "CT \(vmid) is running: use restart mode (or stop it first)")
            }
            if type == "lxc" && online && !restart {
                throw GuestError.parameter("online", "containers cannot move while running: use restart mode")
            }
            if type == "qemu" && !online {
                throw GuestError.parameter("online", "VM \(vmid) is running: migrate it online (or shut it down first)")
            }
        }
        let copies = try copyPlan(config, target: target, mapping: mapping, field: type == "qemu" ? "targetstorage" : "target-storage")
        if running && type == "qemu" && !copies.isEmpty && !withLocalDisks {
            throw GuestError.parameter(
                "with-local-disks",
                "VM \(vmid) has disks on local storage (\(copies.map(\.volid).joined(separator: ", "))): copy them with with-local-disks")
        }
        return (config, running, copies)
    }

    /// Moves the guest: shuts a running container down (restart mode), copies its local volumes,
    /// moves the config, and starts it on the target when it ran here. `call` sends an API call to
    /// the target node (the cluster forwarder).
    public func migrate(
        _ vmid: Int, target: String, online: Bool, restart: Bool, timeout: Int, mapping: String? = nil, bwlimit: Int? = nil,
        withLocalDisks: Bool = false, call: @escaping @Sendable (APICall) async throws -> JSON,
        tunnel: (@Sendable (APICall) throws -> any ByteTunnel)? = nil, log: @escaping @Sendable (String) -> Void
    ) async throws {
        let (_, running, copies) = try checkMigration(
            vmid, target: target, online: online, restart: restart, mapping: mapping, withLocalDisks: withLocalDisks)
        let began = Date()
        if running && type == "qemu" {
            guard let tunnel else { throw GuestError(500, "no tunnel to node '\(target)' for an online migration") }
            try await migrateRunning(vmid, target: target, copies: copies, bwlimit: bwlimit, call: call, tunnel: tunnel, log: log)
            log(String(format: "migration finished in %.1f s", Date().timeIntervalSince(began)))
            return
        }
        // beyond PVE: a running container's directory volumes are copied while it runs, and after it
        // stops only the changes go (its downtime)
        let precopy =
            running && type == "lxc" && !copies.isEmpty
            && copies.allSatisfy { copy in VolumeID(copy.volid).flatMap { try? storage.plugin($0.storage).exportFormats($0.name).first } == "tar+size"
            }
        let states = Dictionary(uniqueKeysWithValues: copies.map { ($0.key, NSTemporaryDirectory() + "corral-precopy-\(UUID().uuidString).snar") })
        defer { for state in states.values { unlink(state) } }
        var precopied: [String: String] = [:]
        if precopy {
            log("pre-copy: copying the volumes while \(noun) \(vmid) runs")
            precopied = try await copyVolumes(copies, vmid: vmid, target: target, bwlimit: bwlimit, listed: states, call: call, log: log)
        }
        let stopped = Date()
        if running {
            log("shutting down \(noun) \(vmid) (timeout \(timeout) s)")
            do { try await shutdown(vmid, timeout: timeout, forceStop: true, log: log) } catch {
                await removeCopies(Array(precopied.values), target: target, call: call, log: log)
                throw error
            }
        }
        let from = store.configPath(vmid)
        let to = GuestStore(fs: store.fs, node: target, type: type).configPath(vmid)
        try await locks.with(vmid, timeout: 10, what: "migrate \(noun) \(vmid)") {
            guard !isRunning(vmid) else { throw GuestError(500, "\(noun) \(vmid) is running again; not moved") }
            let (before, _) = try load(vmid)
            var copied: [String: String] = [:]
            if !copies.isEmpty {
                try store.modify(vmid) { $0.current["lock"] = "migrate" }
                do {
                    if precopy { log("sending what changed since the pre-copy") }
                    copied = try await copyVolumes(
                        copies, vmid: vmid, target: target, bwlimit: bwlimit, listed: precopy ? states : [:], into: precopied, call: call, log: log)
                } catch {
                    try? store.save(vmid, before)
                    await removeCopies(Array(precopied.values), target: target, call: call, log: log)
                    throw error
                }
            }
            log("moving the config of \(noun) \(vmid) to node '\(target)'")
            do {
                var moved = before
                for (key, volid) in copied { moved.current[key] = try replacingVolume(in: moved.current, key: key, with: volid) }
                if !copied.isEmpty { try store.save(vmid, moved) }
                try store.fs.rename(from, to: to)
            } catch {
                try? store.save(vmid, before)
                await removeCopies(Array(copied.values), target: target, call: call, log: log)
                throw GuestError(500, "cannot move \(from) to \(to): \(error)")
            }
            freeSources(copies, log: log)
        }
        log("\(noun) \(vmid) is on node '\(target)' now")
        if running {
            log("starting \(noun) \(vmid) on node '\(target)'")
            _ = try await call(APICall(method: "POST", segments: ["nodes", target, type, "\(vmid)", "status", "start"]))
            // the start is a task there: the downtime ends when the guest runs
            let status = APICall(method: "GET", segments: ["nodes", target, type, "\(vmid)", "status", "current"])
            for _ in 0..<300 where (try? await call(status))?["status"]?.stringValue != "running" { try await Task.sleep(for: .milliseconds(100)) }
            log(String(format: "downtime %.1f s (from the shutdown until it runs on the target)", Date().timeIntervalSince(stopped)))
        }
        log(String(format: "migration finished in %.1f s", Date().timeIntervalSince(began)))
    }
}

import API
import Access
import Schema
import Storage
import Tasks

/// Pieces every guest type's endpoints share.
public enum GuestEndpoints {
    /// Runs `work` as a task named `type` for the guest and returns its UPID.
    public static func task(
        _ context: RequestContext, _ type: String, _ vmid: Int,
        _ work: @escaping @Sendable (@escaping @Sendable (String) -> Void) async throws -> Void
    ) throws -> JSON {
        let upid = try context.services.tasks.start(type: type, id: "\(vmid)", user: context.user) { log in
            try await work { log.log($0) }
        }
        return .string(upid.description)
    }

    /// The config as the API returns it: values, description, digest (pending applied unless
    /// `current`). `stringKeys` stay strings even when they look numeric, as PVE's schema says.
    public static func configJSON(_ config: GuestConfig, digest: String, current: Bool, stringKeys: [String]) -> [String: JSON] {
        var view = config
        if !current, !view.pending.values.isEmpty || !view.pendingDelete.isEmpty {
            for (key, value) in view.pending.values { view.current[key] = value }
            for (key, _) in view.pendingDelete { view.current[key] = nil }
        }
        var out: [String: JSON] = view.current.values.mapValues { value in
            if let n = Int64(value), !value.hasPrefix("0") || value == "0" { return .int(n) }
            return .string(value)
        }
        for key in stringKeys { if let v = view.current[key] { out[key] = .string(v) } }
        if let description = view.current.description { out["description"] = .string(description) }
        if !view.current.lxc.isEmpty { out["lxc"] = .array(view.current.lxc.map { .array([.string($0.key), .string($0.value)]) }) }
        out["digest"] = .string(digest)
        return out
    }

    /// The config of one snapshot, or of the guest (GET …/config with `snapshot`).
    public static func configResponse(_ config: GuestConfig, digest: String, snapshot: String?, current: Bool, stringKeys: [String]) throws -> JSON {
        if let name = snapshot {
            guard let section = config.snapshots[name] else { throw APIError(500, "snapshot '\(name)' does not exist") }
            var view = GuestConfig()
            view.current = section
            return .object(configJSON(view, digest: digest, current: true, stringKeys: stringKeys))
        }
        return .object(configJSON(config, digest: digest, current: current, stringKeys: stringKeys))
    }

    /// Creating a guest: VM.Allocate on its VMID, or on the pool it is created into.
    public static func checkAllocate(_ context: RequestContext, vmid: Int) throws {
        let pool = context.string("pool")
        guard context.has(["VM.Allocate"], on: "/vms/\(vmid)") || pool.map({ context.has(["VM.Allocate"], on: "/pool/\($0)") }) == true else {
            throw APIError(403, "Permission check failed (/vms/\(vmid), VM.Allocate)")
        }
    }

    /// `skiplock` is root@pam's.
    public static func checkSkiplock(_ context: RequestContext) throws -> Bool {
        let skiplock = context.bool("skiplock") ?? false
        if skiplock && context.user != "root@pam" { throw APIError.parameters(["skiplock": "Only root may use this option."]) }
        return skiplock
    }

    /// `purge`: the VMID leaves every ACL and pool, so a later guest with this ID inherits nothing.
    /// The pool a create names must exist (a `die` in PVE: 500), checked before anything is made.
    public static func checkPool(_ context: RequestContext, access: AccessControl?) throws -> String? {
        guard let pool = context.string("pool") else { return nil }
        if let access, access.userConfig.pools[pool] == nil { throw APIError(500, "pool '\(pool)' does not exist") }
        return pool
    }

    /// The part of a create every guest type shares: the pool checked before anything is made; in the
    /// task, the guest made, put in its pool, and started when asked.
    public static func createTask(
        _ context: RequestContext, _ type: String, _ vmid: Int, guest: any GuestBackend, access: AccessControl?,
        create: @escaping @Sendable ([String: JSON], @escaping @Sendable (String) -> Void) async throws -> Void
    ) throws -> JSON {
        let pool = try checkPool(context, access: access)
        let parameters = context.parameters
        let start = context.bool("start") ?? false
        return try task(context, type, vmid) { log in
            try await create(parameters, log)
            try joinPool(pool, vmid: vmid, access: access, log: log)
            if start { try await guest.start(vmid, skiplock: false, log: log) }
        }
    }

    /// A new guest joins the pool its create named (and leaves any other, as a guest is in one pool).
    public static func joinPool(_ pool: String?, vmid: Int, access: AccessControl?, log: @Sendable (String) -> Void) throws {
        guard let pool, let access else { return }
        try access.updateUserConfig { config in
            guard config.pools[pool] != nil else { throw APIError(500, "pool '\(pool)' does not exist") }
            for id in config.pools.keys { config.pools[id]!.vms.removeAll { $0 == vmid } }
            config.pools[pool]!.vms.append(vmid)
        }
        log("added \(vmid) to pool '\(pool)'")
    }

    /// A destroyed guest leaves its pool (always, as PVE) and, with `purge`, the ACLs naming it.
    public static func purge(_ vmid: Int, access: AccessControl?, noun: String, acls: Bool, log: @Sendable (String) -> Void) throws {
        guard let access else { return }
        let config = access.userConfig
        let pooled = config.pools.values.contains { $0.vms.contains(vmid) }
        let named = acls && config.acl.contains { $0.path == "/vms/\(vmid)" }
        guard pooled || named else { return }
        try access.updateUserConfig { config in
            if acls { config.acl.removeAll { $0.path == "/vms/\(vmid)" } }
            for id in config.pools.keys { config.pools[id]!.vms.removeAll { $0 == vmid } }
        }
        log("removed \(noun) \(vmid) from \(acls ? "ACLs and pools" : "its pool")")
    }

    /// `POST …/{qemu|lxc}/{vmid}/status/COMMAND`: the guest is local, `skiplock` is root's, and every
    /// command but the starting ones needs the guest running; the work runs as a task.
    public static func power(
        _ store: GuestStore, _ command: String, task type: String, description: String, needsRunning: Bool,
        isRunning: @escaping @Sendable (Int) -> Bool,
        _ work: @escaping @Sendable (Int, RequestContext, @escaping @Sendable (String) -> Void) async throws -> Void
    ) -> Endpoint {
        Endpoint(
            pve: "POST /nodes/{node}/\(store.type)/{vmid}/status/\(command)", description: description, returns: .string(),
            permission: .privileges(path: "/vms/{vmid}", ["VM.PowerMgmt"]),
            handler: .blocking { context in
                let vmid = Int(context.int("vmid") ?? 0)
                try store.checkLocal(vmid)
                _ = try checkSkiplock(context)
                // an HA guest's start and stop are requests to the HA manager, which would undo them otherwise
                if ["start", "stop", "shutdown"].contains(command), GuestHA.shared.requested(type: store.type, vmid: vmid) != nil {
                    let state = command == "start" ? "started" : "stopped"
                    return try task(context, command == "start" ? "hastart" : "hastop", vmid) { log in
                        log("Requesting HA \(command == "start" ? "start" : "stop") for \(store.noun) \(vmid)")
                        try GuestHA.shared.request(type: store.type, vmid: vmid, state: state)
                    }
                }
                if needsRunning && !isRunning(vmid) { throw APIError(400, "\(store.noun) \(vmid) not running") }
                return try task(context, type, vmid) { log in try await work(vmid, context, log) }
            })
    }
}

/// The volume of a drive or volume option (`scsi0`, `rootfs`, `mp0`), without parsing the whole property string.
public enum PropertyStringFirst {
    public static func value(_ text: String) -> String {
        let first = text.split(separator: ",", maxSplits: 1).first.map(String.init) ?? ""
        for prefix in ["file=", "volume="] where first.hasPrefix(prefix) { return String(first.dropFirst(prefix.count)) }
        return first
    }
}

extension GuestEndpoints {
    /// `move_disk` (VMs) and `move_volume` (containers): a stopped guest's volume to another storage.
    public static func moveVolume(
        _ backend: any GuestBackend, pve key: String, volumeParameter: String, targetParameter: String, taskType: String, description: String
    ) -> Endpoint {
        Endpoint(
            pve: key, description: description, returns: .string(), permission: .privileges(path: "/vms/{vmid}", ["VM.Config.Disk"]),
            handler: .blocking { context in
                let vmid = Int(context.int("vmid") ?? 0)
                try backend.store.checkLocal(vmid)
                for name in ["target-vmid", targetParameter, "target-digest"] where context.parameters[name] != nil {
                    throw APIError.parameters([name: "moving a volume to another guest is not supported yet"])
                }
                guard let storage = context.string("storage") else {
                    throw APIError.parameters(["storage": "the storage to move the volume to is needed"])
                }
                guard context.has(["Datastore.AllocateSpace"], on: "/storage/\(storage)") else {
                    throw APIError(403, "Permission check failed (/storage/\(storage), Datastore.AllocateSpace)")
                }
                _ = try backend.storage.plugin(storage)
                let volume = try context.require(volumeParameter), format = context.string("format"), digest = context.string("digest")
                let delete = context.bool("delete") ?? false
                try backend.checkMove(vmid, key: volume, to: storage, format: format, parameter: volumeParameter)
                return try task(context, taskType, vmid) { log in
                    try await backend.moveVolume(
                        vmid, key: volume, to: storage, format: format, delete: delete, digest: digest, parameter: volumeParameter, log: log)
                }
            })
    }
}

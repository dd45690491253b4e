import API
import Guests
import Schema
import Storage

extension LxcEndpoints {
    /// Snapshots (where every volume's storage can take them), templates, clones and resizing.
    static func volumeEndpoints(_ m: ContainerManager) -> [Endpoint] {
        let snap = "/nodes/{node}/lxc/{vmid}/snapshot"
        @Sendable func local(_ context: RequestContext) throws -> Int {
            let vmid = vmid(context)
            try m.store.checkLocal(vmid)
            return vmid
        }
        return [
            GuestEndpoints.moveVolume(
                m, pve: "POST /nodes/{node}/lxc/{vmid}/move_volume", volumeParameter: "volume", targetParameter: "target-volume",
                taskType: "move_volume", description: "Move a stopped container's volume to another storage (the source deleted, or kept as unusedN)."
            ),
            Endpoint(
                pve: "GET \(snap)", description: "The container's snapshots, ending with 'current'.",
                returns: .array(of: .object([:], additionalProperties: true)), permission: ct(["VM.Audit"]),
                handler: .blocking { context in
                    .array(try m.snapshotList(try local(context)))
                }),
            Endpoint(
                pve: "POST \(snap)", description: "Take a snapshot (every volume's storage must support snapshots).",
                returns: .string(), permission: ct(["VM.Snapshot"]),
                handler: .blocking { context in
                    let vmid = try local(context)
                    let name = try context.require("snapname"), description = context.string("description")
                    return try GuestEndpoints.task(context, "vzsnapshot", vmid) { log in
                        try await m.snapshot(vmid, name: name, description: description, log: log)
                    }
                }),
            .directory(
                "\(snap)/{snapname}", name: "snapshot_cmd_idx", key: "cmd", description: "A snapshot's commands.",
                parameters: ["node": .node, "vmid": .vmid, "snapname": Schema.string(format: "pve-configid", maxLength: 40)]),
            Endpoint(
                pve: "GET \(snap)/{snapname}/config", description: "A snapshot's configuration.",
                returns: .object([:], additionalProperties: true), permission: ct(["VM.Snapshot", "VM.Snapshot.Rollback", "VM.Audit"], any: true),
                handler: .blocking { context in
                    let (config, digest) = try m.load(try local(context))
                    return try GuestEndpoints.configResponse(
                        config, digest: digest, snapshot: try context.require("snapname"), current: true, stringKeys: stringKeys)
                }),
            Endpoint(
                pve: "PUT \(snap)/{snapname}/config", description: "Change a snapshot's description.",
                returns: .null, permission: ct(["VM.Snapshot"]),
                handler: .async { context in
                    let vmid = try local(context)
                    let name = try context.require("snapname"), description = context.string("description")
                    _ = try await m.locks.with(vmid, timeout: 10, what: "update snapshot of CT \(vmid)") {
                        try m.store.modify(vmid) { c in
                            guard c.snapshots[name] != nil else { throw APIError(500, "snapshot '\(name)' does not exist") }
                            c.snapshots[name]!.description = description
                        }
                    }
                    return .null
                }),
            Endpoint(
                pve: "POST \(snap)/{snapname}/rollback", description: "Stop the container and roll every volume back to the snapshot.",
                returns: .string(), permission: ct(["VM.Snapshot", "VM.Snapshot.Rollback"], any: true),
                handler: .blocking { context in
                    let vmid = try local(context)
                    let name = try context.require("snapname"), start = context.bool("start") ?? false
                    return try GuestEndpoints.task(context, "vzrollback", vmid) { log in
                        try await m.rollback(vmid, name: name, start: start, log: log)
                    }
                }),
            Endpoint(
                pve: "DELETE \(snap)/{snapname}", description: "Delete a snapshot.",
                returns: .string(), permission: ct(["VM.Snapshot"]),
                handler: .blocking { context in
                    let vmid = try local(context)
                    let name = try context.require("snapname"), force = context.bool("force") ?? false
                    return try GuestEndpoints.task(context, "vzdelsnapshot", vmid) { log in
                        try await m.deleteSnapshot(vmid, name: name, force: force, log: log)
                    }
                }),
            Endpoint(
                pve: "POST /nodes/{node}/lxc/{vmid}/template", description: "Turn the stopped container into a template (base volumes).",
                returns: .string(), permission: ct(["VM.Allocate"]),
                handler: .blocking { context in
                    let vmid = try local(context)
                    return try GuestEndpoints.task(context, "vztemplate", vmid) { log in try await m.template(vmid, log: log) }
                }),
            Endpoint(
                pve: "POST /nodes/{node}/lxc/{vmid}/clone", description: "Clone a container (linked from a template where its storage can, or full).",
                returns: .string(),
                permission: .and([
                    ct(["VM.Clone"]),
                    .or([
                        .privileges(path: "/vms/{newid}", ["VM.Allocate"]),
                        .privilegesIfParameter(path: "/pool/{pool}", ["VM.Allocate"], parameter: "pool"),
                    ]),
                ]),
                handler: .blocking { context in
                    let vmid = try local(context)
                    let newid = Int(context.int("newid") ?? 0)
                    if let target = context.string("target"), target != m.node { throw APIError(501, "cloning to another node is not supported yet") }
                    if let owner = m.store.owner(of: newid) {
                        throw APIError.parameters(["newid": "CT \(newid) already exists on node '\(owner.node)'"])
                    }
                    let storage = context.string("storage"), full = context.bool("full")
                    if let storage {
                        guard context.has(["Datastore.AllocateSpace"], on: "/storage/\(storage)") else {
                            throw APIError(403, "Permission check failed (/storage/\(storage), Datastore.AllocateSpace)")
                        }
                        _ = try m.storage.plugin(storage)
                        if full == false { throw APIError.parameters(["storage": "a linked clone stays on the template's storage"]) }
                    }
                    if context.string("snapname") != nil { throw APIError.parameters(["snapname": "cloning from a snapshot is not supported yet"]) }
                    let hostname = context.string("hostname"), description = context.string("description")
                    return try GuestEndpoints.task(context, "vzclone", vmid) { log in
                        try await m.clone(
                            vmid, newid: newid, name: hostname, description: description, full: full, target: storage, format: nil, log: log)
                    }
                }),
            Endpoint(
                pve: "PUT /nodes/{node}/lxc/{vmid}/resize", description: "Grow a volume and its file system (online when running).",
                returns: .string(), permission: ct(["VM.Config.Disk"], any: true),
                handler: .blocking { context in
                    let vmid = try local(context)
                    let disk = try context.require("disk"), size = try context.require("size"), digest = context.string("digest")
                    return try GuestEndpoints.task(context, "resize", vmid) { log in
                        try await m.resize(vmid, disk: disk, size: size, digest: digest, log: log)
                    }
                }),
        ]
    }
}

import API
import Guests
import Schema

/// `/nodes/{node}/qemu/{vmid}/snapshot…`.
enum SnapshotEndpoints {
    static func all(manager m: VMManager) -> [Endpoint] {
        let vm = QemuEndpoints.vm
        let vmid = QemuEndpoints.vmid
        return [
            Endpoint(
                pve: "GET /nodes/{node}/qemu/{vmid}/snapshot", description: "The VM's snapshots, ending with 'current'.",
                returns: .array(of: .object([:], additionalProperties: true)), permission: vm(["VM.Audit"], false), childKey: "name",
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    return .array(try m.snapshotList(id))
                }),
            Endpoint(
                pve: "POST /nodes/{node}/qemu/{vmid}/snapshot", description: "Take a snapshot (with the RAM state when 'vmstate' and running).",
                returns: .string(), permission: vm(["VM.Snapshot"], false),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    let name = try context.require("snapname")
                    guard GuestConfig.isValidSnapshotName(name), name != "current" else {
                        throw APIError.parameters(["snapname": "invalid snapshot name '\(name)'"])
                    }
                    let description = context.string("description"), vmstate = context.bool("vmstate") ?? false
                    return try QemuEndpoints.task(context, "qmsnapshot", id) { log in
                        try await m.snapshot(id, name: name, description: description, vmstate: vmstate, log: log)
                    }
                }),
            .directory(
                "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}", name: "snapshot_cmd_idx", key: "cmd", description: "Snapshot commands.",
                parameters: ["node": .node, "vmid": .vmid, "snapname": Schema.string(format: "pve-configid", maxLength: 40)]),
            Endpoint(
                pve: "GET /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config", description: "A snapshot's configuration.",
                returns: .object([:], additionalProperties: true), permission: vm(["VM.Snapshot", "VM.Snapshot.Rollback", "VM.Audit"], true),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    let name = try context.require("snapname")
                    let (config, digest) = try m.load(id)
                    guard let snapshot = config.snapshots[name] else { throw APIError(500, "snapshot '\(name)' does not exist") }
                    var view = GuestConfig()
                    view.current = snapshot
                    return .object(QemuEndpoints.configJSON(view, digest: digest, current: true))
                }),
            Endpoint(
                pve: "PUT /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config", description: "Change a snapshot's description.",
                returns: .null, permission: vm(["VM.Snapshot"], false),
                handler: .async { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    let name = try context.require("snapname")
                    _ = try await m.locks.with(id, timeout: 10, what: "update snapshot of VM \(id)") {
                        try m.modify(id) { c in
                            guard c.snapshots[name] != nil else { throw APIError(500, "snapshot '\(name)' does not exist") }
                            if let description = context.string("description") {
                                c.snapshots[name]!.description = description.isEmpty ? nil : description
                            }
                        }
                    }
                    return .null
                }),
            Endpoint(
                pve: "POST /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback", description: "Roll the VM back to a snapshot.",
                returns: .string(), permission: vm(["VM.Snapshot", "VM.Snapshot.Rollback"], true),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    let name = try context.require("snapname"), start = context.bool("start") ?? false
                    return try QemuEndpoints.task(context, "qmrollback", id) { log in try await m.rollback(id, name: name, start: start, log: log) }
                }),
            Endpoint(
                pve: "DELETE /nodes/{node}/qemu/{vmid}/snapshot/{snapname}", description: "Delete a snapshot.",
                returns: .string(), permission: vm(["VM.Snapshot"], false),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    let name = try context.require("snapname"), force = context.bool("force") ?? false
                    return try QemuEndpoints.task(context, "qmdelsnapshot", id) { log in
                        try await m.deleteSnapshot(id, name: name, force: force, log: log)
                    }
                }),
        ]
    }
}

import API
import Guests
import Schema
import Storage

/// Template, clone, resize, unlink and feature of `/nodes/{node}/qemu/{vmid}`.
enum CloneEndpoints {
    static func all(manager m: VMManager) -> [Endpoint] {
        let vm = QemuEndpoints.vm
        let vmid = QemuEndpoints.vmid
        return [
            GuestEndpoints.moveVolume(
                m, pve: "POST /nodes/{node}/qemu/{vmid}/move_disk", volumeParameter: "disk", targetParameter: "target-disk", taskType: "qmmove",
                description: "Move a VM's disk to another storage (a running VM's by a block mirror; the source deleted, or kept as unusedN)."),
            Endpoint(
                pve: "POST /nodes/{node}/qemu/{vmid}/template", description: "Turn a stopped VM into a template.",
                returns: .string(), permission: vm(["VM.Allocate"], false),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    if m.isRunning(id) { throw APIError(400, "you can't convert a running VM to a template") }
                    return try QemuEndpoints.task(context, "qmtemplate", id) { log in try await m.template(id, log: log) }
                }),
            Endpoint(
                pve: "POST /nodes/{node}/qemu/{vmid}/clone", description: "Clone a VM (linked from a template, or full).",
                returns: .string(),
                permission: .and([
                    vm(["VM.Clone"], false),
                    .or([
                        .privileges(path: "/vms/{newid}", ["VM.Allocate"]),
                        .privilegesIfParameter(path: "/pool/{pool}", ["VM.Allocate"], parameter: "pool"),
                    ]),
                ]),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    let newid = Int(context.int("newid") ?? 0)
                    if let owner = m.owner(of: newid) { throw APIError.parameters(["newid": "VM \(newid) already exists on node '\(owner.node)'"]) }
                    if let target = context.string("target"), target != m.node { throw APIError(501, "cloning to another node is not supported yet") }
                    if let storage = context.string("storage") {
                        guard context.has(["Datastore.AllocateSpace"], on: "/storage/\(storage)") else {
                            throw APIError(403, "Permission check failed (/storage/\(storage), Datastore.AllocateSpace)")
                        }
                        _ = try m.storage.plugin(storage)
                    }
                    let name = context.string("name"), description = context.string("description"), full = context.bool("full")
                    let storage = context.string("storage"), format = context.string("format"), snapname = context.string("snapname")
                    if full == false, storage != nil { throw APIError.parameters(["storage": "a linked clone stays on the template's storage"]) }
                    if snapname != nil { throw APIError.parameters(["snapname": "cloning from a snapshot is not supported yet"]) }
                    return try QemuEndpoints.task(context, "qmclone", id) { log in
                        try await m.clone(
                            id, newid: newid, name: name, description: description, full: full, target: storage, format: format, log: log)
                    }
                }),
            Endpoint(
                pve: "PUT /nodes/{node}/qemu/{vmid}/resize", description: "Grow a disk (a `resize` task, as PVE).",
                returns: .string(), permission: vm(["VM.Config.Disk"], false),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    let disk = try context.require("disk"), size = try context.require("size"), digest = context.string("digest")
                    return try QemuEndpoints.task(context, "resize", id) { log in
                        try await m.resize(id, disk: disk, size: size, digest: digest, log: log)
                    }
                }),
            Endpoint(
                pve: "PUT /nodes/{node}/qemu/{vmid}/unlink", description: "Detach disks; with 'force' their volumes are removed too.",
                returns: .null, permission: vm(["VM.Config.Disk"], false),
                handler: .async { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    try await m.unlink(id, ids: Formats.splitList(try context.require("idlist")), force: context.bool("force") ?? false) { _ in }
                    return .null
                }),
            Endpoint(
                pve: "GET /nodes/{node}/qemu/{vmid}/feature", description: "Whether snapshots, clones or copies work for this VM.",
                returns: .object(["hasFeature": .boolean(), "nodes": .array(of: .string())]), permission: vm(["VM.Audit"], false),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    let has = try m.hasFeature(id, feature: try context.require("feature"), snapname: context.string("snapname"))
                    return ["hasFeature": .bool(has), "nodes": [.string(m.node)]]
                }),
        ]
    }
}

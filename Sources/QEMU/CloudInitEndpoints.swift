import API
import Guests
import Schema

/// `/nodes/{node}/qemu/{vmid}/cloudinit…`: what the cloud-init image holds against the config,
/// the image made again, and the generated files as text.
enum CloudInitEndpoints {
    static func all(manager m: VMManager) -> [Endpoint] {
        let vmid = QemuEndpoints.vmid
        return [
            Endpoint(
                pve: "GET /nodes/{node}/qemu/{vmid}/cloudinit",
                description: "The cloud-init options: the value the current image has and the one the next image gets.",
                returns: .array(
                    of: .object([
                        "key": .string(), "value": Schema.string().optional(), "pending": Schema.string().optional(),
                        "delete": Schema.integer(minimum: 0, maximum: 1).optional(),
                    ])),
                permission: QemuEndpoints.vm(["VM.Audit"]),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    return .array(try m.cloudInitPending(id))
                }),
            Endpoint(
                pve: "PUT /nodes/{node}/qemu/{vmid}/cloudinit", description: "Make the cloud-init image again from the current config.",
                returns: .null, permission: QemuEndpoints.vm(["VM.Config.Cloudinit"]),
                handler: .async { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    try await m.regenerateCloudInit(id) { _ in }
                    return .null
                }),
            Endpoint(
                pve: "GET /nodes/{node}/qemu/{vmid}/cloudinit/dump", description: "A generated cloud-init file (user, network or meta) as text.",
                returns: .string(), permission: QemuEndpoints.vm(["VM.Audit"]),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    let (config, _) = try m.load(id)
                    let mask = !context.has(["VM.Config.Cloudinit"], on: "/vms/\(id)")
                    return .string(m.cloudInit(id, config.current.values).dump(try context.require("type"), maskPassword: mask))
                }),
        ]
    }
}

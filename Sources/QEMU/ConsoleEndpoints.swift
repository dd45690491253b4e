import API
import Guests
import Schema
import Tasks

/// `vncproxy`, `termproxy` and `vncwebsocket`: the browser reaches the VM's VNC or serial socket
/// through a one-time ticket and a WebSocket on the API port (no extra ports open).
enum ConsoleEndpoints {
    static func all(manager m: VMManager, sessions: ConsoleSessions) -> [Endpoint] {
        let base: [String: Schema] = ["node": .node, "vmid": .vmid]
        return [
            Endpoint(
                .POST, "/nodes/{node}/qemu/{vmid}/vncproxy", name: "vncproxy", description: "A one-time ticket for the VM's VNC console.",
                parameters: base.merging(["websocket": Schema.boolean().optional(), "generate-password": Schema.boolean().defaulting(to: false)]) {
                    a, _ in a
                },
                returns: .object(
                    ["user": .string(), "ticket": .string(), "cert": .string(), "port": .integer(), "upid": .string()], additionalProperties: true),
                permission: .privileges(path: "/vms/{vmid}", ["VM.Console"]), protected: true,
                handler: .blocking { context in
                    let vmid = try QemuEndpoints.vmid(context)
                    try QemuEndpoints.checkLocal(m, vmid)
                    guard m.isRunning(vmid) else { throw APIError(400, "VM \(vmid) not running") }
                    let (ticket, port) = try sessions.issue(user: context.user, vmid: vmid, path: "\(m.runDirectory)/\(vmid).vnc", kind: .vnc)
                    let upid = try context.services.tasks.start(type: "vncproxy", id: "\(vmid)", user: context.user) { log in
                        log.log("console ticket for port \(port) issued; valid once, for 40 s")
                    }
                    return [
                        "user": .string(context.user), "ticket": .string(ticket), "cert": "", "port": .int(Int64(port)),
                        "upid": .string(upid.description),
                    ]
                }),
            Endpoint(
                .POST, "/nodes/{node}/qemu/{vmid}/termproxy", name: "termproxy", description: "A one-time ticket for the VM's serial console.",
                parameters: base.merging(["serial": Schema.string(enum: ["serial0", "serial1", "serial2", "serial3"]).optional()]) { a, _ in a },
                returns: .object(["user": .string(), "ticket": .string(), "port": .integer(), "upid": .string()]),
                permission: .privileges(path: "/vms/{vmid}", ["VM.Console"]), protected: true,
                handler: .blocking { context in
                    let vmid = try QemuEndpoints.vmid(context)
                    try QemuEndpoints.checkLocal(m, vmid)
                    let serial = context.string("serial") ?? "serial0"
                    let (config, _) = try m.load(vmid)
                    guard config.current[serial] == "socket" else { throw APIError(400, "VM \(vmid) has no '\(serial): socket' to attach to") }
                    guard m.isRunning(vmid) else { throw APIError(400, "VM \(vmid) not running") }
                    let (ticket, port) = try sessions.issue(
                        user: context.user, vmid: vmid, path: "\(m.runDirectory)/\(vmid).\(serial)", kind: .terminal)
                    let upid = try context.services.tasks.start(type: "vncproxy", id: "\(vmid)", user: context.user) { log in
                        log.log("serial console ticket for port \(port) issued; valid once, for 40 s")
                    }
                    return ["user": .string(context.user), "ticket": .string(ticket), "port": .int(Int64(port)), "upid": .string(upid.description)]
                }),
            Endpoint(
                .GET, "/nodes/{node}/qemu/{vmid}/vncwebsocket", name: "vncwebsocket", description: "The console's WebSocket (binary frames).",
                parameters: base.merging(["port": .integer(minimum: 5900, maximum: 5999), "vncticket": Schema.string(maxLength: 512)]) { a, _ in a },
                returns: .object(["port": .string()]), permission: .privileges(path: "/vms/{vmid}", ["VM.Console"]),
                handler: .tunnel { context in
                    try sessions.open(
                        ticket: try context.require("vncticket"), user: context.user, vmid: try QemuEndpoints.vmid(context),
                        port: Int(context.int("port") ?? 0))
                }),
        ]
    }
}

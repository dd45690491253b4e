import API
import Foundation
import Schema

/// `/nodes/{node}/qemu/{vmid}/agent…`: the guest agent's commands as PVE names them. The simple
/// ones answer `{"result": <the agent's return>}`; exec, file-read and file-write have their own shapes.
enum AgentEndpoints {
    /// The commands without arguments, by method (GET reads, POST acts), as PVE sorts them.
    static let reads = [
        "get-fsinfo", "get-host-name", "get-memory-block-info", "get-memory-blocks", "get-osinfo", "get-time", "get-timezone", "get-users",
        "get-vcpus", "info", "network-get-interfaces",
    ]
    static let actions = [
        "fsfreeze-freeze", "fsfreeze-status", "fsfreeze-thaw", "fstrim", "ping", "shutdown", "suspend-disk", "suspend-hybrid", "suspend-ram",
    ]

    /// What PVE's per-command checks ask for: reading needs Audit, file systems FileSystemMgmt,
    /// power the VM's PowerMgmt; Unrestricted covers everything.
    static func privileges(_ command: String) -> [String] {
        let special: [String]
        switch command {
        case "fsfreeze-freeze", "fsfreeze-thaw", "fstrim": special = ["VM.GuestAgent.FileSystemMgmt"]
        case "fsfreeze-status": special = ["VM.GuestAgent.Audit", "VM.GuestAgent.FileSystemMgmt"]
        case "shutdown", "suspend-disk", "suspend-hybrid", "suspend-ram": special = ["VM.PowerMgmt"]
        default: special = ["VM.GuestAgent.Audit"]
        }
        return special + ["VM.GuestAgent.Unrestricted"]
    }

    static func qgaName(_ command: String) -> String { "guest-\(command)" }

    static func all(manager m: VMManager) -> [Endpoint] {
        func vm(_ privileges: [String], any: Bool = false) -> Permission { QemuEndpoints.vm(privileges, any: any) }
        let vmid = QemuEndpoints.vmid
        func simple(_ method: String, _ command: String) -> Endpoint {
            Endpoint(
                pve: "\(method) /nodes/{node}/qemu/{vmid}/agent/\(command)", description: "The guest agent's '\(qgaName(command))'.",
                returns: .object([:], additionalProperties: true), permission: vm(privileges(command), any: true),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    return ["result": try m.agent(id, qgaName(command))]
                })
        }
        return [
            .directory(
                "/nodes/{node}/qemu/{vmid}/agent", description: "The guest agent commands.", parameters: ["node": .node, "vmid": .vmid],
                proxyTo: "node"),
            Endpoint(
                pve: "POST /nodes/{node}/qemu/{vmid}/agent", description: "Run one guest agent command by name.",
                // PVE names the privilege twice; the command's own privileges are checked below
                returns: .object([:], additionalProperties: true),
                permission: vm(["VM.GuestAgent.Unrestricted", "VM.GuestAgent.Unrestricted"], any: true),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    let command = try context.require("command")
                    // PVE checks the command's own privileges here too
                    guard privileges(command).contains(where: { context.has([$0], on: "/vms/\(id)") }) else {
                        throw APIError(403, "Permission check failed (/vms/\(id), \(privileges(command).joined(separator: ", ")))")
                    }
                    return ["result": try m.agent(id, qgaName(command))]
                }),
        ] + reads.map { simple("GET", $0) } + actions.map { simple("POST", $0) } + [
            Endpoint(
                pve: "POST /nodes/{node}/qemu/{vmid}/agent/exec", description: "Start a command in the guest (output captured); answers its pid.",
                returns: .object(["pid": .integer()]), permission: vm(["VM.GuestAgent.Unrestricted"]),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    let command = context.value("command").map(Self.commandWords) ?? []
                    guard !command.isEmpty else { throw APIError.parameters(["command": "property is missing and it is not optional"]) }
                    return try m.agentExec(id, command: command, input: context.string("input-data"))
                }),
            Endpoint(
                pve: "GET /nodes/{node}/qemu/{vmid}/agent/exec-status", description: "A started command's state, exit code and output.",
                returns: .object(
                    [
                        "exited": .boolean(), "exitcode": Schema.integer().optional(), "signal": Schema.integer().optional(),
                        "out-data": Schema.string().optional(), "err-data": Schema.string().optional(),
                        "out-truncated": Schema.boolean().optional(), "err-truncated": Schema.boolean().optional(),
                    ]),
                permission: vm(["VM.GuestAgent.Unrestricted"]),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    return try m.agentExecStatus(id, pid: context.int("pid") ?? 0)
                }),
            Endpoint(
                pve: "GET /nodes/{node}/qemu/{vmid}/agent/file-read", description: "Read a file in the guest.",
                returns: .object(["content": .string(), "truncated": Schema.boolean().optional()]),
                permission: vm(["VM.GuestAgent.FileRead", "VM.GuestAgent.Unrestricted"], any: true),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    return try m.agentFileRead(
                        id, file: try context.require("file"), offset: context.int("offset") ?? 0, count: context.int("count") ?? 16 << 20,
                        decode: context.bool("decode") ?? true)
                }),
            Endpoint(
                pve: "POST /nodes/{node}/qemu/{vmid}/agent/file-write", description: "Write (replace) a file in the guest.",
                returns: .null, permission: vm(["VM.GuestAgent.FileWrite", "VM.GuestAgent.Unrestricted"], any: true),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    try m.agentFileWrite(
                        id, file: try context.require("file"), content: try context.require("content"), encode: context.bool("encode") ?? true)
                    return .null
                }),
            Endpoint(
                pve: "POST /nodes/{node}/qemu/{vmid}/agent/set-user-password", description: "Set a guest user's password.",
                returns: .object([:], additionalProperties: true), permission: vm(["VM.GuestAgent.Unrestricted"]),
                handler: .blocking { context in
                    let id = try vmid(context)
                    try QemuEndpoints.checkLocal(m, id)
                    let password = try context.require("password")
                    let result = try m.agent(
                        id, "guest-set-user-password",
                        [
                            "username": .string(try context.require("username")), "password": .string(Data(password.utf8).base64EncodedString()),
                            "crypted": .bool(context.bool("crypted") ?? false),
                        ])
                    return ["result": result]
                }),
        ]
    }

    /// `command` comes as an array (JSON, or repeated form fields); a single string is one word, as
    /// PVE's older clients send it.
    static func commandWords(_ value: JSON) -> [String] {
        switch value {
        case .array(let items): return items.map(\.plainText)
        default: return [value.plainText]
        }
    }
}

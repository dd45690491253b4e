import API
import Foundation
import Guests
import Schema

extension QemuEndpoints {
    static func configJSON(_ config: GuestConfig, digest: String, current: Bool) -> [String: JSON] {
        let out = GuestEndpoints.configJSON(
            config, digest: digest, current: current, stringKeys: ["name", "tags", "vmgenid", "description", "smbios1", "boot"])
        return maskPassword(.object(out)).objectValue ?? out
    }

    /// The cloud-init password never leaves the node, hashed or not (as PVE).
    static func maskPassword(_ config: JSON) -> JSON {
        guard case .object(var out) = config, let password = out["cipassword"]?.plainText, !password.isEmpty else { return config }
        out["cipassword"] = "**********"
        return .object(out)
    }

    static func configEndpoints(_ m: VMManager) -> [Endpoint] {
        let update: @Sendable (RequestContext) throws -> (Int, @Sendable (@escaping @Sendable (String) -> Void) async throws -> Void) = { context in
            let vmid = try vmid(context)
            try checkLocal(m, vmid)
            let delete = Formats.splitList(context.string("delete") ?? "")
            let revert = Formats.splitList(context.string("revert") ?? "")
            let options = VMManager.options(from: context.parameters)
            try checkOptionPrivileges(context, vmid: vmid, set: options, delete: delete + revert)
            try GuestVnetAccess.check(context, options: options, tree: m.store.fs)
            let skiplock = context.bool("skiplock") ?? false
            if skiplock && context.user != "root@pam" { throw APIError.parameters(["skiplock": "Only root may use this option."]) }
            try m.precheck(options)
            let parameters = context.parameters, digest = context.string("digest")
            return (
                vmid,
                { log in
                    try await m.update(
                        vmid: vmid, parameters: parameters, delete: delete, revert: revert, digest: digest, skiplock: skiplock, log: log)
                }
            )
        }
        return [
            Endpoint(
                pve: "GET /nodes/{node}/qemu/{vmid}/config", description: "The VM's configuration (pending values applied unless 'current').",
                returns: .object([:], additionalProperties: true), permission: vm(["VM.Audit"]),
                handler: .blocking { context in
                    let vmid = try vmid(context)
                    try checkLocal(m, vmid)
                    let (config, digest) = try m.load(vmid)
                    let out = try GuestEndpoints.configResponse(
                        config, digest: digest, snapshot: context.string("snapshot"), current: context.bool("current") ?? false,
                        stringKeys: ["name", "tags", "vmgenid", "description", "smbios1", "boot"])
                    return maskPassword(out)
                }),
            Endpoint(
                pve: "PUT /nodes/{node}/qemu/{vmid}/config", description: "Change the VM's configuration and wait for it.",
                returns: .null, permission: vm(config, any: true),
                handler: .async { context in
                    let (_, work) = try update(context)
                    try await work { _ in }
                    return .null
                }),
            Endpoint(
                pve: "POST /nodes/{node}/qemu/{vmid}/config", description: "Change the VM's configuration in a task (disk allocation may take long).",
                returns: .string(), permission: vm(config, any: true),
                handler: .blocking { context in
                    let (vmid, work) = try update(context)
                    return try task(context, "qmconfig", vmid, work)
                }),
            Endpoint(
                pve: "GET /nodes/{node}/qemu/{vmid}/pending", description: "Current and pending values of every option.",
                returns: .array(of: .object([:], additionalProperties: true)), permission: vm(["VM.Audit"]),
                handler: .blocking { context in
                    let vmid = try vmid(context)
                    try checkLocal(m, vmid)
                    return .array(try m.pendingList(vmid))
                }),
        ]
    }
}

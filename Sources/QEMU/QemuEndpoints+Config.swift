import API
import Foundation
import Guests
import Schema

extension QemuEndpoints {
    /// The config as the API returns it: values, description, digest (pending applied unless `current`).
    static func configJSON(_ config: GuestConfig, digest: String, current: Bool) -> [String: JSON] {
        var view = config
        if !current, !view.pending.values.isEmpty || !view.pendingDelete.isEmpty {
            for (key, value) in view.pending.values { view.current[key] = value }
            for (key, _) in view.pendingDelete { view.current[key] = nil }
        }
        var out: [String: JSON] = view.current.values.mapValues { value in
            if let n = Int64(value), !value.hasPrefix("0") || value == "0" { return .int(n) }
            return .string(value)
        }
        // strings that only look numeric stay strings where PVE's schema says string
        for key in ["name", "tags", "vmgenid", "description", "smbios1", "boot"] { if let v = view.current[key] { out[key] = .string(v) } }
        if let description = view.current.description { out["description"] = .string(description) }
        out["digest"] = .string(digest)
        return out
    }

    static func configEndpoints(_ m: VMManager) -> [Endpoint] {
        let update: @Sendable (RequestContext) throws -> (Int, @Sendable (@escaping @Sendable (String) -> Void) async throws -> Void) = { context in
            let vmid = try vmid(context)
            try checkLocal(m, vmid)
            let delete = Formats.splitList(context.string("delete") ?? "")
            let revert = Formats.splitList(context.string("revert") ?? "")
            let options = VMManager.options(from: context.parameters)
            try checkOptionPrivileges(context, vmid: vmid, set: options, delete: delete + revert)
            let skiplock = context.bool("skiplock") ?? false
            if skiplock && context.user != "root@pam" { throw APIError(403, "Only root may use option 'skiplock'") }
            try m.precheck(options)
            let parameters = context.parameters, digest = context.string("digest")
            return (vmid, { log in
                try await m.update(vmid: vmid, parameters: parameters, delete: delete, revert: revert, digest: digest, skiplock: skiplock, log: log)
            })
        }
        return [
            Endpoint(
                pve: "GET /nodes/{node}/qemu/{vmid}/config", description: "The VM's configuration (pending values applied unless 'current').",
                returns: .object([:], additionalProperties: true), permission: vm(["VM.Audit"]),
                handler: .sync { context in
                    let vmid = try vmid(context)
                    try checkLocal(m, vmid)
                    let (config, digest) = try m.load(vmid)
                    if let name = context.string("snapshot") {
                        guard let snapshot = config.snapshots[name] else { throw APIError(500, "snapshot '\(name)' does not exist") }
                        var view = GuestConfig()
                        view.current = snapshot
                        return .object(configJSON(view, digest: digest, current: true))
                    }
                    return .object(configJSON(config, digest: digest, current: context.bool("current") ?? false))
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
                handler: .sync { context in
                    let (vmid, work) = try update(context)
                    return try task(context, "qmconfig", vmid, work)
                }),
            Endpoint(
                pve: "GET /nodes/{node}/qemu/{vmid}/pending", description: "Current and pending values of every option.",
                returns: .array(of: .object([:], additionalProperties: true)), permission: vm(["VM.Audit"]),
                handler: .sync { context in
                    let vmid = try vmid(context)
                    try checkLocal(m, vmid)
                    return .array(try m.pendingList(vmid))
                }),
        ]
    }
}

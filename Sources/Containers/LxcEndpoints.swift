import API
import Access
import Foundation
import Guests
import LXC
import Schema
import Storage
import Tasks

/// `/nodes/{node}/lxc…`: the container API, declared from PVE's facts (names and parameters as PVE).
public enum LxcEndpoints {
    static let config = ["VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options"]
    static let stringKeys = ["hostname", "tags", "description", "nameserver", "searchdomain", "arch", "ostype"]
    static func ct(_ privileges: [String], any: Bool = false) -> Permission { .privileges(path: "/vms/{vmid}", privileges, any: any) }
    static func vmid(_ context: RequestContext) -> Int { Int(context.int("vmid") ?? 0) }

    /// The privilege that setting one container option needs (PVE's per-option check).
    static func privilege(for key: String) -> String {
        switch Schema.indexedFamily(key) ?? key {
        case "rootfs", "mp", "unused": return "VM.Config.Disk"
        case "memory", "swap": return "VM.Config.Memory"
        case "cores", "cpulimit", "cpuunits": return "VM.Config.CPU"
        case "net", "nameserver", "searchdomain", "hostname": return "VM.Config.Network"
        default: return "VM.Config.Options"
        }
    }

    /// Raw `lxc.*` keys, `features` beyond nesting on unprivileged containers, and bind mounts are root@pam's.
    static func checkOptionPrivileges(_ context: RequestContext, vmid: Int, set: [String: String], delete: [String]) throws {
        for key in Array(set.keys) + delete {
            let value = set[key] ?? ""
            let rootOnly =
                key.hasPrefix("lxc") || key == "hookscript" || (Schema.indexedFamily(key) == "mp" && value.hasPrefix("/"))
                || (key == "features"
                    && value.split(separator: ",").contains { !$0.hasPrefix("nesting") && !$0.hasPrefix("keyctl") && !$0.hasSuffix("=0") })
            if rootOnly {
                guard context.user == "root@pam" else { throw APIError(403, "only root can set '\(key)' config") }
                continue
            }
            let privilege = privilege(for: key)
            guard context.has([privilege], on: "/vms/\(vmid)") else { throw APIError(403, "Permission check failed (/vms/\(vmid), \(privilege))") }
        }
    }

    public static func all(manager m: ContainerManager, access: AccessControl? = nil) -> [Endpoint] {
        lifecycle(m, access) + configEndpoints(m) + consoleEndpoints(m) + volumeEndpoints(m)
    }

    static func lifecycle(_ m: ContainerManager, _ access: AccessControl?) -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /nodes/{node}/lxc", description: "The node's containers (status from liblxc).",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .anyUser, childKey: "vmid",
                handler: .blocking { context in
                    .array(
                        m.vmids().filter { context.has(["VM.Audit"], on: "/vms/\($0)") }.compactMap { vmid in
                            (try? m.status(vmid)).map { .object($0) }
                        })
                }),
            Endpoint(
                pve: "POST /nodes/{node}/lxc",
                description: "Create a container from a template; volumes given as STORAGE:SIZE_GiB are allocated (0: a directory).",
                returns: .string(), permission: .anyUser,
                handler: .blocking { context in
                    let vmid = vmid(context)
                    try GuestEndpoints.checkAllocate(context, vmid: vmid)
                    guard let template = context.string("ostemplate") else {
                        throw APIError.parameters(["ostemplate": "property is missing and it is not optional"])
                    }
                    let restore = context.bool("restore") == true
                    if let owner = m.store.owner(of: vmid) {
                        // a restore may replace a stopped container of the same ID (`force`), as PVE's
                        guard restore, context.bool("force") == true, owner.type == "lxc", owner.node == m.node else {
                            throw APIError(500, "\(owner.type == "lxc" ? "CT" : "VM") \(vmid) already exists on node '\(owner.node)'")
                        }
                        guard !m.isRunning(vmid) else { throw APIError(500, "unable to restore CT \(vmid) - CT is running") }
                    }
                    if restore {
                        // the archive must hold a container config before anything is touched
                        _ = try m.archivedConfig(template)
                        return try GuestEndpoints.createTask(context, "vzrestore", vmid, guest: m, access: access) { parameters, log in
                            if m.store.owner(of: vmid) != nil {
                                log("destroying CT \(vmid) to restore over it (force)")
                                try await m.destroy(vmid, skiplock: false, log: log)
                            }
                            try await m.create(vmid: vmid, parameters: try m.restoreParameters(parameters, archive: template), log: log)
                        }
                    }
                    if let storage = VolumeID(template)?.storage,
                        !context.has(["Datastore.AllocateSpace", "Datastore.Audit"], on: "/storage/\(storage)", any: true)
                    {
                        throw APIError(403, "Permission check failed (/storage/\(storage), Datastore.Audit)")
                    }
                    let options = CTOptionSchema.options(from: context.parameters)
                    try checkOptionPrivileges(context, vmid: vmid, set: options, delete: [])
                    try GuestVnetAccess.check(context, options: options, tree: m.store.fs)
                    for (key, value) in options where CTOptionSchema.isVolume(key) {
                        let volume = PropertyStringFirst.value(value)
                        if let request = ContainerManager.newVolumeRequest(volume),
                            !context.has(["Datastore.AllocateSpace"], on: "/storage/\(request.storage)")
                        {
                            throw APIError(403, "Permission check failed (/storage/\(request.storage), Datastore.AllocateSpace)")
                        }
                    }
                    try m.precheck(options, ostemplate: template)
                    return try GuestEndpoints.createTask(context, "vzcreate", vmid, guest: m, access: access) { parameters, log in
                        try await m.create(vmid: vmid, parameters: parameters, log: log)
                    }
                }),
            .directory(
                "/nodes/{node}/lxc/{vmid}", name: "vmdiridx", key: "subdir", description: "The container's index.",
                parameters: ["node": .node, "vmid": .vmid], proxyTo: "node"),
            .directory(
                "/nodes/{node}/lxc/{vmid}/status", name: "vmcmdidx", key: "subdir", description: "The container's power commands.",
                parameters: ["node": .node, "vmid": .vmid], proxyTo: "node"),
            Endpoint(
                pve: "GET /nodes/{node}/lxc/{vmid}/status/current", description: "The container's status with live counters.",
                returns: .object([:], additionalProperties: true), permission: ct(["VM.Audit"]),
                handler: .blocking { context in
                    let vmid = vmid(context)
                    try m.store.checkLocal(vmid)
                    return .object(try m.status(vmid))
                }),
            power(m, "start", "vzstart", "Start the container.") { m, vmid, context, log in
                try await m.start(vmid, skiplock: context.bool("skiplock") ?? false, log: log)
            },
            power(m, "stop", "vzstop", "Kill the container at once.") { m, vmid, context, log in
                try await m.stop(vmid, skiplock: context.bool("skiplock") ?? false, log: log)
            },
            power(m, "shutdown", "vzshutdown", "Ask the container's init to power off, optionally killing it after the timeout.") {
                m, vmid, context, log in
                try await m.shutdown(vmid, timeout: context.int("timeout").map(Int.init), forceStop: context.bool("forceStop") ?? false, log: log)
            },
            power(m, "reboot", "vzreboot", "Shut the container down and start it again (pending changes apply).") { m, vmid, context, log in
                try await m.reboot(vmid, timeout: context.int("timeout").map(Int.init), log: log)
            },
            power(m, "suspend", "vzsuspend", "Freeze every process of the container.") { m, vmid, _, log in try await m.suspend(vmid, log: log) },
            power(m, "resume", "vzresume", "Thaw a frozen container.") { m, vmid, _, log in try await m.resume(vmid, log: log) },
            Endpoint(
                pve: "DELETE /nodes/{node}/lxc/{vmid}", description: "Destroy the container and every volume it owns.",
                returns: .string(), permission: ct(["VM.Allocate"]),
                handler: .blocking { context in
                    let vmid = vmid(context)
                    try m.store.checkLocal(vmid)
                    if m.isRunning(vmid) {
                        guard context.bool("force") == true else { throw APIError(400, "CT \(vmid) is running - destroy failed") }
                    }
                    let purge = context.bool("purge") ?? false, force = context.bool("force") ?? false
                    return try GuestEndpoints.task(context, "vzdestroy", vmid) { log in
                        if force && m.isRunning(vmid) { try await m.stop(vmid, log: log) }
                        try await m.destroy(vmid, skiplock: false, log: log)
                        try GuestEndpoints.purge(vmid, access: access, noun: "CT", acls: purge, log: log)
                    }
                }),
        ]
    }

    static func power(
        _ m: ContainerManager, _ command: String, _ type: String, _ description: String,
        _ work: @escaping @Sendable (ContainerManager, Int, RequestContext, @escaping @Sendable (String) -> Void) async throws -> Void
    ) -> Endpoint {
        GuestEndpoints.power(m.store, command, task: type, description: description, needsRunning: command != "start", isRunning: m.isRunning) {
            vmid, context, log in try await work(m, vmid, context, log)
        }
    }

    static func configEndpoints(_ m: ContainerManager) -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /nodes/{node}/lxc/{vmid}/config", description: "The container's configuration (pending values applied unless 'current').",
                returns: .object([:], additionalProperties: true), permission: ct(["VM.Audit"]),
                handler: .blocking { context in
                    let vmid = vmid(context)
                    try m.store.checkLocal(vmid)
                    let (config, digest) = try m.load(vmid)
                    return try GuestEndpoints.configResponse(
                        config, digest: digest, snapshot: context.string("snapshot"), current: context.bool("current") ?? false,
                        stringKeys: stringKeys)
                }),
            Endpoint(
                pve: "PUT /nodes/{node}/lxc/{vmid}/config", description: "Change the container's configuration.",
                returns: .null, permission: ct(config, any: true),
                handler: .async { context in
                    let vmid = vmid(context)
                    try m.store.checkLocal(vmid)
                    let delete = Formats.splitList(context.string("delete") ?? "")
                    let revert = Formats.splitList(context.string("revert") ?? "")
                    let options = CTOptionSchema.options(from: context.parameters)
                    try checkOptionPrivileges(context, vmid: vmid, set: options, delete: delete + revert)
                    try GuestVnetAccess.check(context, options: options, tree: m.store.fs)
                    if options["unprivileged"] != nil || options["ostype"] != nil || options["arch"] != nil {
                        let key = options["unprivileged"] != nil ? "unprivileged" : options["ostype"] != nil ? "ostype" : "arch"
                        throw APIError.parameters([key: "cannot be changed after the container was created"])
                    }
                    _ = try GuestEndpoints.checkSkiplock(context)
                    try m.precheck(options, ostemplate: nil)
                    try await m.update(vmid, parameters: context.parameters, delete: delete, revert: revert, digest: context.string("digest")) { _ in
                    }
                    return .null
                }),
            Endpoint(
                pve: "GET /nodes/{node}/lxc/{vmid}/pending", description: "Current and pending values of every option.",
                returns: .array(of: .object([:], additionalProperties: true)), permission: ct(["VM.Audit"]),
                handler: .blocking { context in
                    let vmid = vmid(context)
                    try m.store.checkLocal(vmid)
                    return .array(try m.load(vmid).config.pendingList)
                }),
            Endpoint(
                pve: "GET /nodes/{node}/lxc/{vmid}/interfaces", description: "The running container's interfaces and addresses.",
                returns: .array(of: .object([:], additionalProperties: true)), permission: ct(["VM.Audit"]),
                handler: .blocking { context in
                    let vmid = vmid(context)
                    try m.store.checkLocal(vmid)
                    return .array(try m.interfaces(vmid))
                }),
        ]
    }

    /// `termproxy` and `vncwebsocket`: the container's terminal (tty or console, by `cmode`) over
    /// the API port, with PVE's terminal protocol.
    static func consoleEndpoints(_ m: ContainerManager) -> [Endpoint] {
        [
            Endpoint(
                pve: "POST /nodes/{node}/lxc/{vmid}/termproxy", description: "A one-time ticket for the container's terminal.",
                returns: .object(["user": .string(), "ticket": .string(), "port": .integer(), "upid": .string()]), permission: ct(["VM.Console"]),
                handler: .blocking { context in
                    let vmid = vmid(context)
                    try m.store.checkLocal(vmid)
                    guard m.isRunning(vmid) else { throw APIError(400, "CT \(vmid) not running") }
                    let (config, _) = try m.load(vmid)
                    let mode = CTConfig(config.current).consoleMode
                    let (ticket, port) = try m.consoles.issue(user: context.user, vmid: vmid, kind: .terminal) {
                        do {
                            if mode == "shell" { return try m.attachShell(vmid) }
                            let (pty, held) = try m.container(vmid).console(tty: mode == "console" ? 0 : -1)
                            return (pty, { close(held) })
                        } catch { throw APIError(500, "\(error)") }
                    }
                    let upid = try context.services.tasks.start(type: "vncproxy", id: "\(vmid)", user: context.user) { log in
                        log.log("terminal ticket for port \(port) issued; valid once, for 40 s")
                    }
                    return ["user": .string(context.user), "ticket": .string(ticket), "port": .int(Int64(port)), "upid": .string(upid.description)]
                }),
            Endpoint(
                pve: "GET /nodes/{node}/lxc/{vmid}/vncwebsocket", description: "The terminal's WebSocket (binary frames).",
                returns: .object(["port": .string()]), permission: ct(["VM.Console"]),
                handler: .tunnel { context in
                    try m.consoles.open(
                        ticket: try context.require("vncticket"), user: context.user, vmid: vmid(context), port: Int(context.int("port") ?? 0))
                }),
        ]
    }
}

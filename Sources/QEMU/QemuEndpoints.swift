import API
import Access
import Foundation
import Guests
import Schema
import Storage
import Tasks

/// `/nodes/{node}/qemu…`: the VM API, declared from PVE's facts (names and parameters as PVE).
public enum QemuEndpoints {
    static let config = [
        "VM.Config.Disk", "VM.Config.CDROM", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.HWType", "VM.Config.Options",
        "VM.Config.Cloudinit",
    ]
    static func vm(_ privileges: [String], any: Bool = false) -> Permission { .privileges(path: "/vms/{vmid}", privileges, any: any) }

    /// The privilege that setting one option needs (PVE's per-option check on config changes).
    static func privilege(for key: String, value: String?) -> String {
        let family = Schema.indexedFamily(key) ?? key
        switch family {
        case "ide", "sata", "scsi", "virtio":
            return value.map { $0.contains("media=cdrom") || $0.hasPrefix("cdrom") || $0.hasPrefix("none") } == true
                ? "VM.Config.CDROM" : "VM.Config.Disk"
        case "efidisk", "tpmstate", "unused": return "VM.Config.Disk"
        case "memory", "balloon", "shares": return "VM.Config.Memory"
        case "cores", "sockets", "vcpus", "cpu", "cpulimit", "cpuunits", "numa", "affinity": return "VM.Config.CPU"
        case "net": return "VM.Config.Network"
        case "ciuser", "cipassword", "citype", "ciupgrade", "cicustom", "ipconfig", "nameserver", "searchdomain", "sshkeys":
            return "VM.Config.Cloudinit"
        case "vga", "hostpci", "usb", "serial", "parallel", "scsihw", "machine", "bios", "keyboard", "tablet", "audio0", "rng0", "watchdog",
            "virtiofs", "ivshmem":
            return "VM.Config.HWType"
        default: return "VM.Config.Options"
        }
    }

    /// Checks the caller may set (and delete) these options; `args` and `hookscript` are root@pam's.
    static func checkOptionPrivileges(_ context: RequestContext, vmid: Int, set: [String: String], delete: [String]) throws {
        for (key, value) in set.map({ ($0.key, Optional($0.value)) }) + delete.map({ ($0, nil) }) {
            if ["args", "hookscript"].contains(key) || key.hasPrefix("hostpci") || key.hasPrefix("usb") && (value ?? "").contains("host=") {
                guard context.user == "root@pam" else { throw APIError(403, "only root can set '\(key)' config") }
                continue
            }
            let privilege = privilege(for: key, value: value)
            guard context.has([privilege], on: "/vms/\(vmid)") else { throw APIError(403, "Permission check failed (/vms/\(vmid), \(privilege))") }
            if let value, VMOptionSchema.isDrive(key), let source = VMManager.importSource(value) { try checkImport(context, source, key: key) }
        }
    }

    /// Importing reads another volume (its storage's audit right, and cloning its guest) or a host
    /// file (root@pam only: any file would do).
    static func checkImport(_ context: RequestContext, _ source: String, key: String) throws {
        if source.hasPrefix("/") {
            guard context.user == "root@pam" else { throw APIError(403, "only root can import from an absolute path ('\(key)')") }
            return
        }
        guard let volume = VolumeID(source) else {
            throw APIError.parameters([key: "import-from '\(source)' is neither a volume nor an absolute path"])
        }
        guard context.has(["Datastore.Audit"], on: "/storage/\(volume.storage)") else {
            throw APIError(403, "Permission check failed (/storage/\(volume.storage), Datastore.Audit)")
        }
        if let owner = volume.ownerVMID, !context.has(["VM.Clone"], on: "/vms/\(owner)") {
            throw APIError(403, "Permission check failed (/vms/\(owner), VM.Clone)")
        }
    }

    static func vmid(_ context: RequestContext) throws -> Int { Int(context.int("vmid") ?? 0) }

    static func task(
        _ context: RequestContext, _ type: String, _ vmid: Int,
        _ work: @escaping @Sendable (@escaping @Sendable (String) -> Void) async throws -> Void
    ) throws -> JSON { try GuestEndpoints.task(context, type, vmid, work) }

    static func checkLocal(_ manager: VMManager, _ vmid: Int) throws { try manager.store.checkLocal(vmid) }

    public static func all(manager: VMManager, access: AccessControl? = nil) -> [Endpoint] {
        lifecycle(manager, access) + configEndpoints(manager) + SnapshotEndpoints.all(manager: manager) + CloneEndpoints.all(manager: manager)
            + ConsoleEndpoints.all(manager: manager, sessions: manager.consoles) + AgentEndpoints.all(manager: manager)
            + CloudInitEndpoints.all(manager: manager) + MigrationEndpoints.all(manager: manager)
    }

    static func lifecycle(_ m: VMManager, _ access: AccessControl?) -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /nodes/{node}/qemu", description: "The node's virtual machines (status from libvirt).",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .anyUser, childKey: "vmid",
                handler: .blocking { context in
                    .array(
                        m.vmids().filter { context.has(["VM.Audit"], on: "/vms/\($0)") }.compactMap { vmid in
                            guard var status = try? m.status(vmid) else { return nil }
                            if context.bool("full") != true { status["ha"] = nil }
                            return .object(status)
                        })
                }),
            Endpoint(
                pve: "POST /nodes/{node}/qemu",
                description: "Create a virtual machine; disks given as STORAGE:SIZE_GiB are allocated.",
                returns: .string(), permission: .anyUser,
                handler: .blocking { context in
                    let vmid = try vmid(context)
                    try GuestEndpoints.checkAllocate(context, vmid: vmid)
                    if let archive = context.string("archive") { return try restore(m, context, vmid: vmid, archive: archive) }
                    if let owner = m.owner(of: vmid) {
                        throw APIError(
                            500, "unable to create VM \(vmid) - \(owner.type == "lxc" ? "CT" : "VM") \(vmid) already exists on node '\(owner.node)'")
                    }
                    let options = VMManager.options(from: context.parameters)
                    try checkOptionPrivileges(context, vmid: vmid, set: options, delete: [])
                    try GuestVnetAccess.check(context, options: options, tree: m.store.fs)
                    for key in options.keys where VMOptionSchema.isDrive(key) {
                        if let request = VMManager.newDiskRequest(PropertyStringFirst.value(options[key]!)),
                            !context.has(["Datastore.AllocateSpace"], on: "/storage/\(request.storage)")
                        {
                            throw APIError(403, "Permission check failed (/storage/\(request.storage), Datastore.AllocateSpace)")
                        }
                    }
                    try m.precheck(options)
                    try m.checkOneCloudInitDrive(GuestConfig(), set: options, delete: [])
                    return try GuestEndpoints.createTask(context, "qmcreate", vmid, guest: m, access: access) { parameters, log in
                        try await m.create(vmid: vmid, parameters: parameters, log: log)
                    }
                }),
            .directory(
                "/nodes/{node}/qemu/{vmid}", name: "vmdiridx", key: "subdir", description: "The VM's index.",
                parameters: ["node": .node, "vmid": .vmid], proxyTo: "node"),
            .directory(
                "/nodes/{node}/qemu/{vmid}/status", name: "vmcmdidx", key: "subdir", description: "The VM's power commands.",
                parameters: ["node": .node, "vmid": .vmid], proxyTo: "node"),
            Endpoint(
                pve: "GET /nodes/{node}/qemu/{vmid}/status/current", description: "The VM's status with live counters.",
                returns: .object([:], additionalProperties: true), permission: vm(["VM.Audit"]),
                handler: .blocking { context in
                    let vmid = try vmid(context)
                    try checkLocal(m, vmid)
                    return .object(try m.status(vmid))
                }),
            power(m, "start", "qmstart", "Start the VM.") { m, vmid, context, log in
                try await m.start(vmid, skiplock: context.bool("skiplock") ?? false, log: log)
            },
            power(m, "stop", "qmstop", "Power the VM off at once.") { m, vmid, context, log in
                try await m.stop(vmid, skiplock: context.bool("skiplock") ?? false, log: log)
            },
            power(m, "shutdown", "qmshutdown", "Ask the guest to shut down (ACPI), optionally forcing after the timeout.") { m, vmid, context, log in
                try await m.shutdown(vmid, timeout: context.int("timeout").map(Int.init), forceStop: context.bool("forceStop") ?? false, log: log)
            },
            power(m, "reboot", "qmreboot", "Shut the VM down and start it again (pending changes apply).") { m, vmid, context, log in
                try await m.reboot(vmid, timeout: context.int("timeout").map(Int.init), log: log)
            },
            power(m, "reset", "qmreset", "Reset the VM (like a reset button).") { m, vmid, _, _ in try await m.reset(vmid) },
            power(m, "suspend", "qmsuspend", "Pause the VM, or with todisk save its memory and stop it.") { m, vmid, context, log in
                try await m.suspend(vmid, toDisk: context.bool("todisk") ?? false, stateStorage: context.string("statestorage"), log: log)
            },
            power(m, "resume", "qmresume", "Resume a paused VM, or start one suspended to disk.") { m, vmid, _, log in
                try await m.resume(vmid, log: log)
            },
            Endpoint(
                pve: "DELETE /nodes/{node}/qemu/{vmid}", description: "Destroy the VM and every volume it owns.",
                returns: .string(), permission: vm(["VM.Allocate"]),
                handler: .blocking { context in
                    let vmid = try vmid(context)
                    try checkLocal(m, vmid)
                    if m.isRunning(vmid) { throw APIError(400, "VM \(vmid) is running - destroy failed") }
                    let purge = context.bool("purge") ?? false, unreferenced = context.bool("destroy-unreferenced-disks") ?? true
                    let skiplock = context.bool("skiplock") ?? false
                    if skiplock && context.user != "root@pam" { throw APIError.parameters(["skiplock": "Only root may use this option."]) }
                    return try task(context, "qmdestroy", vmid) { log in
                        try await m.destroy(vmid, purge: purge, unreferenced: unreferenced, skiplock: skiplock, log: log)
                        try GuestEndpoints.purge(vmid, access: access, noun: "VM", acls: purge, log: log)
                    }
                }),
        ]
    }

    static func power(
        _ m: VMManager, _ command: String, _ type: String, _ description: String,
        _ work: @escaping @Sendable (VMManager, Int, RequestContext, @escaping @Sendable (String) -> Void) async throws -> Void
    ) -> Endpoint {
        GuestEndpoints.power(
            m.store, command, task: type, description: description, needsRunning: command != "start" && command != "resume", isRunning: m.isRunning
        ) { vmid, context, log in try await work(m, vmid, context, log) }
    }
}

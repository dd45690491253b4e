import API
import Foundation
import Schema
import Storage
import Tasks

/// What moves or starts many guests: `POST /nodes/{node}/startall` and `…/stopall`, the start of
/// `onboot` guests once per boot, and guest migration (`…/{qemu,lxc}/{vmid}/migrate`).
public struct GuestBulkDomain: Domain {
    let guests: GuestBackends
    let tasks: TaskManager
    /// Where the boot this node last started its guests for is recorded.
    let bootMarker: String

    public init(guests: GuestBackends, tasks: TaskManager, runDirectory: String) {
        self.guests = guests
        self.tasks = tasks
        self.bootMarker = runDirectory + "/guests-started-boot"
    }

    public func start() throws { startOnBoot() }

    public var name: String { "guests" }

    static func vmids(_ context: RequestContext) -> Set<Int>? {
        guard let list = context.parameters["vms"]?.plainText else { return nil }
        return Set(Formats.splitList(list).compactMap { Int($0) })
    }

    public var endpoints: [Endpoint] { bulkEndpoints + migrateEndpoints }

    var migrateEndpoints: [Endpoint] {
        let guests = guests
        var out: [Endpoint] = []
        for type in ["qemu", "lxc"] {
            guard let backend = guests[type] else { continue }
            let base = "/nodes/{node}/\(type)/{vmid}/migrate"
            let permission = Permission.privileges(path: "/vms/{vmid}", ["VM.Migrate"])
            out.append(
                Endpoint(
                    pve: "GET \(base)", description: "Whether the guest can move, and to which nodes (the precondition check).",
                    returns: .object([:], additionalProperties: true), permission: permission,
                    handler: .blocking { context in
                        let vmid = Int(try context.require("vmid")) ?? 0
                        let (config, _) = try backend.load(vmid)
                        let running = backend.isRunning(vmid)
                        var allowed: [JSON] = [], notAllowed: [String: JSON] = [:]
                        for (node, up) in backend.memberStates().sorted(by: { $0.key < $1.key }) where node != context.services.nodeName {
                            let local = backend.localVolumes(config, target: node)
                            let copyable = (try? backend.copyPlan(config, target: node, mapping: nil, field: "target")) != nil
                            if up && copyable {
                                allowed.append(.string(node))
                            } else {
                                var why: [String: JSON] = [:]
                                if !up { why["offline"] = .int(1) }
                                let storages = Set(local.compactMap { VolumeID($0.volid)?.storage }).sorted()
                                if !storages.isEmpty { why["unavailable_storages"] = .array(storages.map { .string($0) }) }
                                notAllowed[node] = .object(why)
                            }
                        }
                        var out: [String: JSON] = [
                            "running": .bool(running), "allowed_nodes": .array(allowed), "not_allowed_nodes": .object(notAllowed),
                        ]
                        if type == "lxc" {
                            out["allowed-nodes"] = out["allowed_nodes"]
                            out["not-allowed-nodes"] = out["not_allowed_nodes"]
                        } else {
                            let target = context.parameters["target"]?.plainText ?? ""
                            out["local_disks"] = .array(
                                backend.localVolumes(config, target: target).map { .object(["volid": .string($0.volid), "cdrom": .bool(false)]) })
                            out["local_resources"] = .array([])
                        }
                        return .object(out)
                    }))
            out.append(
                Endpoint(
                    pve: "POST \(base)",
                    description:
                        "Moves the guest to another node: running VMs live, running containers by restart, stopped guests as they are (a task).",
                    returns: .string(), permission: permission,
                    handler: .async { context in
                        let vmid = Int(try context.require("vmid")) ?? 0
                        let target = try context.require("target")
                        let online = context.bool("online") ?? false, restart = context.bool("restart") ?? false
                        let timeout = Int(context.int("timeout") ?? 180)
                        // an HA guest is moved by the HA manager (PVE's hamigrate), which would undo a move of its own
                        if GuestHA.shared.requested(type: type, vmid: vmid) != nil {
                            guard backend.memberStates()[target] == true else {
                                throw GuestError.parameter("target", "node '\(target)' is not an online cluster member")
                            }
                            return try GuestEndpoints.task(context, "hamigrate", vmid) { log in
                                log("Requesting HA migration for \(backend.noun) \(vmid) to node \(target)")
                                try GuestHA.shared.migrate(type: type, vmid: vmid, to: target)
                            }
                        }
                        // checked before the task starts: a refusal is a 400 naming the field, and nothing moves
                        let mapping = context.parameters[type == "qemu" ? "targetstorage" : "target-storage"]?.plainText
                        let withLocalDisks = context.bool("with-local-disks") ?? false
                        let (config, _, _) = try backend.checkMigration(
                            vmid, target: target, online: online, restart: restart, mapping: mapping, withLocalDisks: withLocalDisks)
                        let missing = await Self.missingBridges(
                            config, on: target, call: Self.caller(context.services.forwarder, target: target, user: "root@pam"))
                        if !missing.isEmpty {
                            throw GuestError.parameter(
                                "target",
                                "node '\(target)' has no bridge \(missing.map { "'\($0)'" }.joined(separator: ", ")) (the guest's network needs it)")
                        }
                        let bwlimit = context.int("bwlimit").map(Int.init).flatMap { $0 > 0 ? $0 : nil }
                        let user = context.user
                        let call = Self.caller(context.services.forwarder, target: target, user: user)
                        let tunnel = Self.tunneler(context.services.forwarder, target: target)
                        let upid = try context.services.tasks.start(type: type == "qemu" ? "qmigrate" : "vzmigrate", id: "\(vmid)", user: user) {
                            log in
                            try await backend.migrate(
                                vmid, target: target, online: online, restart: restart, timeout: timeout, mapping: mapping, bwlimit: bwlimit,
                                withLocalDisks: withLocalDisks, call: call, tunnel: tunnel, log: { log.log($0) })
                        }
                        return .string(upid.description)
                    }))
        }
        return out
    }

    /// API calls to the migration's target node, as `user`, through the cluster forwarder.
    static func caller(_ forwarder: (any Forwarder)?, target: String, user: String) -> @Sendable (APICall) async throws -> JSON {
        { call in
            guard let forwarder else { throw APIError(500, "not in a cluster: cannot reach '\(target)'") }
            switch await forwarder.forward(call, to: target, user: user).result {
            case .success(let data): return data
            case .failure(let error): throw error
            }
        }
    }

    /// The bridges the guest's NICs name that the target has neither in its network nor as an SDN
    /// vnet. Asked of the target as root (a node's own check); when it cannot answer, none.
    static func missingBridges(_ config: GuestConfig, on target: String, call: @escaping @Sendable (APICall) async throws -> JSON) async -> [String] {
        let wanted = Set(config.current.values.filter { Schema.indexedFamily($0.key) == "net" }.compactMap { GuestVnetAccess.bridge($0.value) })
        guard !wanted.isEmpty, let rows = try? await call(APICall(method: "GET", segments: ["nodes", target, "network"])) else { return [] }
        var missing = wanted.subtracting((rows.arrayValue ?? []).compactMap { $0["iface"]?.stringValue })
        if !missing.isEmpty, let vnets = try? await call(APICall(method: "GET", segments: ["cluster", "sdn", "vnets"])) {
            missing.subtract((vnets.arrayValue ?? []).compactMap { $0["vnet"]?.stringValue })
        }
        return missing.sorted()
    }

    /// WebSockets to the migration's target for its channels: the node's own doing, as root@pam
    /// (PVE's nodes use SSH as root for them), whoever asked for the migration.
    static func tunneler(_ forwarder: (any Forwarder)?, target: String) -> @Sendable (APICall) throws -> any ByteTunnel {
        { call in
            guard let forwarder else { throw APIError(500, "not in a cluster: cannot reach '\(target)'") }
            return try forwarder.openTunnel(call, to: target, user: "root@pam")
        }
    }

    var bulkEndpoints: [Endpoint] {
        let guests = guests
        return [
            Endpoint(
                pve: "POST /nodes/{node}/migrateall",
                description: "Moves the node's guests to another node (stopped ones, and running containers by restart), a task.",
                returns: .string(), permission: .anyUser,
                handler: .blocking { context in
                    let target = try context.require("target")
                    let only = Self.vmids(context)
                    let workers = Int(context.int("max-workers") ?? context.int("maxworkers") ?? 1)
                    let user = context.user, forwarder = context.services.forwarder
                    let upid = try context.services.tasks.start(type: "migrateall", user: user) { log in
                        let left = await guests.migrateAll(
                            only: only, target: target, workers: workers, allowed: { context.has(["VM.Migrate"], on: "/vms/\($0)") },
                            withLocalDisks: context.bool("with-local-disks") ?? false, call: Self.caller(forwarder, target: target, user: user),
                            tunnel: Self.tunneler(forwarder, target: target)
                        ) { log.log($0) }
                        if !left.isEmpty { throw APIError(500, "not moved: \(left.map(String.init).joined(separator: ", "))") }
                    }
                    return .string(upid.description)
                }),
            Endpoint(
                pve: "POST /nodes/{node}/startall",
                description: "Starts the node's guests marked onboot (all with force) in their startup order (a task).", returns: .string(),
                permission: .anyUser,
                handler: .blocking { context in
                    let only = Self.vmids(context), force = context.bool("force") ?? false
                    let upid = try context.services.tasks.start(type: "startall", user: context.user) { log in
                        let failed = await guests.startAll(only: only, force: force, allowed: { context.has(["VM.PowerMgmt"], on: "/vms/\($0)") }) {
                            log.log($0)
                        }
                        if !failed.isEmpty { throw APIError(500, "could not start \(failed.map(String.init).joined(separator: ", "))") }
                    }
                    return .string(upid.description)
                }),
            Endpoint(
                pve: "POST /nodes/{node}/stopall", description: "Shuts down the node's running guests in reverse startup order (a task).",
                returns: .string(), permission: .anyUser,
                handler: .blocking { context in
                    let only = Self.vmids(context)
                    let timeout = Int(context.int("timeout") ?? 180), forceStop = context.bool("force-stop") ?? true
                    let workers = Int(context.int("max-workers") ?? 4)
                    let upid = try context.services.tasks.start(type: "stopall", user: context.user) { log in
                        let left = await guests.stopAll(
                            only: only, timeout: timeout, forceStop: forceStop, workers: workers,
                            allowed: { context.has(["VM.PowerMgmt"], on: "/vms/\($0)") }
                        ) { log.log($0) }
                        if !left.isEmpty { throw APIError(500, "still running: \(left.map(String.init).joined(separator: ", "))") }
                    }
                    return .string(upid.description)
                }),
        ]
    }

    /// The first start of corrald since the machine booted starts the `onboot` guests (PVE's
    /// pve-guests service); later restarts of corrald do not.
    func startOnBoot() {
        let boot =
            (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let recorded = (try? String(contentsOfFile: bootMarker, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !boot.isEmpty, recorded != boot else { return }
        try? FileManager.default.createDirectory(atPath: (bootMarker as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? (boot + "\n").write(toFile: bootMarker, atomically: true, encoding: .utf8)
        let guests = guests
        guard guests.bulkGuests().contains(where: { $0.onboot && !$0.template }) else { return }
        _ = try? tasks.start(type: "startall", user: "root@pam") { log in
            let failed = await guests.startAll(only: nil, force: false) { log.log($0) }
            if !failed.isEmpty { throw APIError(500, "could not start \(failed.map(String.init).joined(separator: ", "))") }
        }
    }
}

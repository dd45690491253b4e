import API
import ClusterFS
import Foundation
import Guests
import HA
import Schema

/// `/cluster/ha/*`: PVE's HA resources, rules, legacy groups and status, over the files the
/// managers read (`ha/resources.cfg`, `ha/rules.cfg`, `ha/groups.cfg`) and write
/// (`ha/manager_status`, `nodes/<node>/lrm_status`); migrate and relocate queue a line in
/// `ha/crm_commands` for the master.
enum HAEndpoints {
    static let audit = Permission.privileges(path: "/", ["Sys.Audit"])
    static let console = Permission.privileges(path: "/", ["Sys.Console"])
    static let bookkeeping: Set<String> = ["sid", "type", "digest", "delete", "purge"]

    static func all(_ service: HAService) -> [Endpoint] {
        let store = HAConfigStore(tree: service.tree)
        return [index("/cluster/ha", ["resources", "groups", "rules", "status"], permission: audit)] + resources(store, service)
            + groups(store) + rules(store) + status(service)
    }

    static func index(_ path: String, _ children: [String], permission: Permission) -> Endpoint {
        Endpoint(
            pve: "GET \(path)", description: "Directory index.", returns: .array(of: .object([:], additionalProperties: true)),
            permission: permission, childKey: "id",
            handler: .sync { _ in .array(children.map { ["id": .string($0), "name": .string($0)] }) })
    }

    /// `100`, `vm:100`, `ct:100` → `ct:100` for an existing guest of the right type.
    static func sid(_ given: String, type: String?, tree: any ConfigTree) throws -> (sid: String, type: String, vmid: String) {
        let parts = given.split(separator: ":").map(String.init)
        let vmid = parts.last ?? given
        let owner = Int(vmid).flatMap { GuestStore(fs: tree, node: "", type: "qemu").owner(of: $0) }
        guard let owner else { throw APIError.parameters(["sid": "guest \(vmid) does not exist"]) }
        let actual = owner.type == "qemu" ? "vm" : "ct"
        let named = parts.count == 2 ? parts[0] : type ?? actual
        guard named == actual else { throw APIError.parameters(["sid": "\(vmid) is a \(owner.type == "qemu" ? "VM" : "container"), not '\(named)'"]) }
        return ("\(actual):\(vmid)", actual, vmid)
    }

    static func checkGroup(_ context: RequestContext, _ store: HAConfigStore) throws {
        if let group = context.parameters["group"]?.plainText, try store.load(HAService.groupsFile)[group] == nil {
            throw APIError.parameters(["group": "group '\(group)' does not exist"])
        }
    }

    static func resources(_ store: HAConfigStore, _ service: HAService) -> [Endpoint] {
        let file = HAService.resourcesFile
        @Sendable func parsedSid(_ context: RequestContext) throws -> (sid: String, type: String, vmid: String) {
            try sid(try context.require("sid"), type: context.parameters["type"]?.plainText, tree: store.tree)
        }
        @Sendable func existing(_ context: RequestContext) throws -> (sid: String, section: SectionConfig.Section) {
            let given = try context.require("sid")
            let config = try store.load(file)
            let vmid = given.split(separator: ":").last.map(String.init) ?? given
            guard let section = config.sections.first(where: { $0.id == vmid && (given.contains(":") ? given.hasPrefix($0.type + ":") : true) })
            else { throw APIError(500, "no such resource '\(given)'") }
            return ("\(section.type):\(section.id)", section)
        }
        @Sendable func queue(_ context: RequestContext, relocate: Bool) throws -> JSON {
            let (sid, _) = try existing(context)
            let target = try context.require("node")
            let members = service.membership()
            guard members.nodes.contains(target) else { throw APIError.parameters(["node": "no such cluster node '\(target)'"]) }
            guard members.online.contains(target) else { throw APIError.parameters(["node": "node '\(target)' is not online"]) }
            try store.append(.move(.init(sid: sid, target: target, relocate: relocate)))
            return ["sid": .string(sid), "requested-node": .string(target)]
        }
        return [
            Endpoint(
                pve: "GET /cluster/ha/resources", description: "The HA resources.",
                returns: .array(of: .object(["sid": .string()], additionalProperties: true)), permission: audit, childKey: "sid",
                handler: .blocking { context in
                    let text = store.text(file), digest = HAConfigStore.digest(text)
                    let type = context.parameters["type"]?.plainText
                    return .array(
                        try store.load(file).sections.filter { type == nil || $0.type == type }.map { section in
                            .object(HAConfigStore.row(section, idKey: "sid", id: "\(section.type):\(section.id)", digest: digest))
                        })
                }),
            Endpoint(
                pve: "GET /cluster/ha/resources/{sid}", description: "One HA resource.", returns: .object([:], additionalProperties: true),
                permission: audit,
                handler: .blocking { context in
                    let (sid, section) = try existing(context)
                    return .object(HAConfigStore.row(section, idKey: "sid", id: sid, digest: HAConfigStore.digest(store.text(file))))
                }),
            Endpoint(
                pve: "POST /cluster/ha/resources", description: "Puts a guest under HA management.", permission: console,
                handler: .blocking { context in
                    let (sid, type, vmid) = try parsedSid(context)
                    try checkGroup(context, store)
                    try store.modify(file, digest: nil) { config in
                        guard config[vmid] == nil else { throw APIError.parameters(["sid": "resource ID '\(sid)' already defined"]) }
                        var section = SectionConfig.Section(type: type, id: vmid)
                        HAConfigStore.apply(context, to: &section, skip: bookkeeping)
                        config[vmid] = section
                    }
                    return .null
                }),
            Endpoint(
                pve: "PUT /cluster/ha/resources/{sid}", description: "Changes an HA resource.", permission: console,
                handler: .blocking { context in
                    let (_, found) = try existing(context)
                    try checkGroup(context, store)
                    try store.modify(file, digest: context.parameters["digest"]?.plainText) { config in
                        guard var section = config[found.id] else { throw APIError(500, "no such resource") }
                        HAConfigStore.apply(context, to: &section, skip: bookkeeping)
                        config[found.id] = section
                    }
                    return .null
                }),
            Endpoint(
                pve: "DELETE /cluster/ha/resources/{sid}", description: "Takes a guest out of HA management (and out of its rules).",
                permission: console,
                handler: .blocking { context in
                    let (sid, found) = try existing(context)
                    try store.modify(file, digest: nil) { config in config[found.id] = nil }
                    if context.bool("purge") ?? true { try purgeFromRules(sid, store) }
                    return .null
                }),
            Endpoint(
                pve: "POST /cluster/ha/resources/{sid}/migrate",
                description: "Asks the HA manager to move the resource to another node (stopped there first when it cannot move running).",
                returns: .object([:], additionalProperties: true), permission: console,
                handler: .blocking { context in try queue(context, relocate: false) }),
            Endpoint(
                pve: "POST /cluster/ha/resources/{sid}/relocate",
                description: "Asks the HA manager to stop the resource, move it to another node and start it there.",
                returns: .object([:], additionalProperties: true), permission: console,
                handler: .blocking { context in try queue(context, relocate: true) }),
        ]
    }

    /// A removed resource leaves the rules naming it; a rule left without resources goes.
    static func purgeFromRules(_ sid: String, _ store: HAConfigStore) throws {
        guard store.text(HAService.rulesFile).contains(sid) else { return }
        try store.modify(HAService.rulesFile, digest: nil) { config in
            for rule in config.sections {
                let rest = Formats.splitList(rule["resources"] ?? "").filter { $0 != sid }
                var changed = rule
                changed["resources"] = rest.joined(separator: ",")
                config[rule.id] = rest.isEmpty ? nil : changed
            }
        }
    }
}

import API
import Schema

extension FirewallEndpoints {
    /// Which rule list of a file an endpoint works on: the `[RULES]` section or a group's.
    struct RuleList: Sendable {
        let get: @Sendable (FirewallFile, RequestContext) throws -> [FirewallRule]
        let set: @Sendable (inout FirewallFile, RequestContext, [FirewallRule]) throws -> Void

        static let rules = RuleList(get: { file, _ in file.rules }, set: { file, _, rules in file.rules = rules })
        static let group = RuleList(
            get: { file, context in file.groups[try groupIndex(file, context)].rules },
            set: { file, context, rules in file.groups[try groupIndex(file, context)].rules = rules })

        static func groupIndex(_ file: FirewallFile, _ context: RequestContext) throws -> Int {
            let name = try context.require("group")
            guard let index = file.groups.firstIndex(where: { $0.name == name }) else {
                throw FirewallError(500, "no such security group '\(name)'")
            }
            return index
        }
    }

    /// List, create, read, update (and move) and delete rules under `path` (`…/rules` or
    /// `/cluster/firewall/groups/{group}`).
    static func ruleEndpoints(_ store: FirewallStore, scope: FirewallScope, path: String, list: RuleList) -> [Endpoint] {
        var out: [Endpoint] = []
        let rowSchema = Schema.object(["pos": .integer(), "type": .string(), "action": .string()], additionalProperties: true)
        out.append(
            Endpoint(
                pve: "GET \(path)", description: "The rules, in the order they are checked.", returns: .array(of: rowSchema),
                permission: scope.readPermission,
                handler: .blocking { context in
                    let (file, digest) = try store.read(context, scope)
                    return .array(try list.get(file, context).enumerated().map { $0.element.json(pos: $0.offset, digest: digest) })
                }))
        out.append(
            Endpoint(
                pve: "POST \(path)", description: "Adds a rule first in the list (`pos` is ignored, as PVE does; `moveto` moves it).",
                permission: scope.writePermission,
                handler: .blocking { context in
                    try store.modify(context, scope) { file in
                        var rules = try list.get(file, context)
                        guard let type = context.string("type").flatMap(FirewallRule.Direction.init(rawValue:)) else {
                            throw FirewallError.field("type", "a rule needs a type (in, out, forward or group)")
                        }
                        if type == .forward, scope.isGuest { throw FirewallError.field("type", "guests have no forward rules") }
                        if scope.kind == .vnet, type != .forward { throw FirewallError.field("type", "a vnet's rules are forward rules") }
                        var rule = FirewallRule(type: type, action: try context.require("action"))
                        rule.enable = false
                        try rule.update(from: context)
                        // PVE puts every new rule first whatever `pos` says, and clients (Ansible's
                        // proxmox_firewall) move it afterwards counting on that
                        rules.insert(rule, at: 0)
                        try list.set(&file, context, rules)
                    }
                    return .null
                }))
        out.append(
            Endpoint(
                pve: "GET \(path)/{pos}", description: "One rule.", returns: rowSchema, permission: scope.readPermission,
                handler: .blocking { context in
                    let (file, digest) = try store.read(context, scope)
                    let rules = try list.get(file, context)
                    let index = try FirewallStore.position(context, count: rules.count)
                    return rules[index].json(pos: index, digest: digest)
                }))
        out.append(
            Endpoint(
                pve: "PUT \(path)/{pos}", description: "Changes a rule, or moves it to `moveto`.", permission: scope.writePermission,
                handler: .blocking { context in
                    try store.modify(context, scope) { file in
                        var rules = try list.get(file, context)
                        let index = try FirewallStore.position(context, count: rules.count)
                        if let moveto = context.int("moveto") {
                            let rule = rules.remove(at: index)
                            // PVE's moveto counts positions before the rule is taken out
                            let target = Int(moveto) > index ? Int(moveto) - 1 : Int(moveto)
                            rules.insert(rule, at: max(0, min(target, rules.count)))
                        } else {
                            try rules[index].update(from: context)
                            if rules[index].type == .forward, scope.isGuest { throw FirewallError.field("type", "guests have no forward rules") }
                            if scope.kind == .vnet, rules[index].type != .forward {
                                throw FirewallError.field("type", "a vnet's rules are forward rules")
                            }
                        }
                        try list.set(&file, context, rules)
                    }
                    return .null
                }))
        out.append(
            Endpoint(
                pve: "DELETE \(path)/{pos}", description: "Removes a rule.", permission: scope.writePermission,
                handler: .blocking { context in
                    try store.modify(context, scope) { file in
                        var rules = try list.get(file, context)
                        rules.remove(at: try FirewallStore.position(context, count: rules.count))
                        try list.set(&file, context, rules)
                    }
                    return .null
                }))
        return out
    }
}

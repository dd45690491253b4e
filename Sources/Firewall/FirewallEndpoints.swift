import API
import Foundation
import Schema

/// The firewall API: `/cluster/firewall/*`, `/nodes/{node}/firewall/*` and
/// `/nodes/{node}/{qemu,lxc}/{vmid}/firewall/*`, PVE's paths and parameters.
enum FirewallEndpoints {
    static func all(_ store: FirewallStore) -> [Endpoint] {
        var out: [Endpoint] = [
            index("/cluster/firewall", ["aliases", "groups", "ipset", "macros", "options", "refs", "rules"]),
            index("/nodes/{node}/firewall", ["log", "options", "rules"]),
        ]
        for scope in [FirewallScope.cluster, .host, .qemu, .lxc] {
            out += ruleEndpoints(store, scope: scope, path: scope.base + "/rules", list: .rules)
            out += optionEndpoints(store, scope: scope)
            if scope.kind != .host {
                out += ipsetEndpoints(store, scope: scope)
                out += aliasEndpoints(store, scope: scope)
                out.append(refs(store, scope: scope))
            }
            if scope.isGuest { out.append(index(scope.base, ["aliases", "ipset", "log", "options", "refs", "rules"])) }
            if scope.kind != .cluster { out.append(log(scope: scope)) }
        }
        out += groupEndpoints(store)
        // an SDN vnet's firewall: forward rules and options (PVE leaves its index to root)
        out += ruleEndpoints(store, scope: .vnet, path: FirewallScope.vnet.base + "/rules", list: .rules)
        out += optionEndpoints(store, scope: .vnet)
        out.append(
            Endpoint(
                pve: "GET \(FirewallScope.vnet.base)", description: "Directory index.", returns: .array(of: .object([:], additionalProperties: true)),
                permission: .rootOnly, childKey: "name", handler: .sync { _ in .array([["name": "options"], ["name": "rules"]]) }))
        out.append(
            Endpoint(
                pve: "GET /cluster/firewall/macros", description: "The macros a rule may use instead of protocol and ports.",
                returns: .array(of: .object(["macro": .string(), "descr": .string()])), permission: .anyUser,
                handler: .sync { _ in
                    .array(FirewallMacros.all.map { ["macro": .string($0.name), "descr": .string($0.description)] })
                }))
        return out
    }

    static func index(_ path: String, _ children: [String]) -> Endpoint {
        Endpoint(
            pve: "GET \(path)", description: "Directory index.", returns: .array(of: .object([:], additionalProperties: true)),
            permission: .anyUser, childKey: "name",
            handler: .sync { _ in .array(children.map { ["name": .string($0)] }) })
    }

    /// `/cluster/firewall/groups`: security groups, each a rule list of its own.
    static func groupEndpoints(_ store: FirewallStore) -> [Endpoint] {
        let scope = FirewallScope.cluster
        var out: [Endpoint] = [
            Endpoint(
                pve: "GET /cluster/firewall/groups", description: "The security groups.",
                returns: .array(of: .object(["group": .string()], additionalProperties: true)), permission: .anyUser,
                handler: .blocking { context in
                    let (file, digest) = try store.read(context, scope)
                    return .array(
                        file.groups.map { group in
                            var row: [String: JSON] = ["group": .string(group.name), "digest": .string(digest)]
                            if let comment = group.comment { row["comment"] = .string(comment) }
                            return .object(row)
                        })
                }),
            Endpoint(
                pve: "POST /cluster/firewall/groups", description: "Creates a security group, or renames one (`rename`).",
                permission: scope.writePermission,
                handler: .blocking { context in
                    let name = try context.require("group")
                    try store.modify(context, scope) { file in
                        let comment = context.parameters["comment"]?.plainText
                        if let old = context.parameters["rename"]?.plainText {
                            guard let index = file.groups.firstIndex(where: { $0.name == old }) else {
                                throw FirewallError(500, "no such security group '\(old)'")
                            }
                            if old != name, file.groups.contains(where: { $0.name.lowercased() == name.lowercased() }) {
                                throw FirewallError.field("group", "security group '\(name)' already exists")
                            }
                            file.groups[index].name = name
                            if let comment { file.groups[index].comment = comment.isEmpty ? nil : comment }
                            // the rules that use the group follow it
                            func follow(_ rules: inout [FirewallRule]) {
                                for i in rules.indices where rules[i].type == .group && rules[i].action == old { rules[i].action = name }
                            }
                            follow(&file.rules)
                        } else {
                            if file.groups.contains(where: { $0.name.lowercased() == name.lowercased() }) {
                                throw FirewallError.field("group", "security group '\(name)' already exists")
                            }
                            file.groups.append(.init(name: name, comment: comment?.isEmpty == false ? comment : nil))
                        }
                    }
                    return .null
                }),
            Endpoint(
                pve: "DELETE /cluster/firewall/groups/{group}", description: "Removes a security group no rule uses.",
                permission: scope.writePermission,
                handler: .blocking { context in
                    try store.modify(context, scope) { file in
                        let index = try RuleList.groupIndex(file, context)
                        if !file.groups[index].rules.isEmpty { throw FirewallError(500, "security group '\(file.groups[index].name)' is not empty") }
                        file.groups.remove(at: index)
                    }
                    return .null
                }),
        ]
        out += ruleEndpoints(store, scope: scope, path: "/cluster/firewall/groups/{group}", list: .group)
        return out
    }

    /// `…/refs`: the aliases and IP sets a rule of the scope may name.
    static func refs(_ store: FirewallStore, scope: FirewallScope) -> Endpoint {
        Endpoint(
            pve: "GET \(scope.base)/refs", description: "Aliases and IP sets rules may refer to.",
            returns: .array(of: .object(["type": .string(), "name": .string(), "ref": .string()], additionalProperties: true)),
            permission: scope.readPermission,
            handler: .blocking { context in
                var files: [(String, FirewallFile)] = []
                if scope.isGuest { files.append(("guest", try store.read(context, scope).file)) }
                files.append(("dc", try store.read("firewall/cluster.fw").file))
                let wanted = context.string("type")
                var rows: [JSON] = []
                for (where_, file) in files {
                    if wanted == nil || wanted == "alias" {
                        for alias in file.aliases {
                            var row: [String: JSON] = [
                                "type": "alias", "name": .string(alias.name), "ref": .string("\(where_)/\(alias.name)"), "scope": .string(where_),
                            ]
                            if let comment = alias.comment { row["comment"] = .string(comment) }
                            rows.append(.object(row))
                        }
                    }
                    if wanted == nil || wanted == "ipset" {
                        for set in file.ipsets {
                            var row: [String: JSON] = [
                                "type": "ipset", "name": .string(set.name), "ref": .string("+\(where_)/\(set.name)"), "scope": .string(where_),
                            ]
                            if let comment = set.comment { row["comment"] = .string(comment) }
                            rows.append(.object(row))
                        }
                    }
                }
                return .array(rows)
            })
    }

    static func log(scope: FirewallScope) -> Endpoint {
        Endpoint(
            pve: "GET \(scope.base)/log", description: "What the firewall logged (kernel log lines of its rules and policies).",
            returns: .array(of: .object(["n": .integer(), "t": .string()])),
            permission: scope.isGuest ? .privileges(path: "/vms/{vmid}", ["VM.Console"]) : .privileges(path: "/nodes/{node}", ["Sys.Syslog"]),
            handler: .blocking { context in
                let vmid = scope.isGuest ? Int(try context.require("vmid")) ?? 0 : 0
                var lines = FirewallLog.read(vmid: vmid)
                if let since = context.int("since") { lines = lines.filter { $0.time >= Double(since) } }
                if let until = context.int("until") { lines = lines.filter { $0.time <= Double(until) } }
                let start = Int(context.int("start") ?? 0), limit = Int(context.int("limit") ?? 50)
                context.setAttribute("total", .int(Int64(lines.count)))
                let page = lines.dropFirst(start).prefix(limit)
                return .array(page.enumerated().map { ["n": .int(Int64(start + $0.offset + 1)), "t": .string($0.element.text)] })
            })
    }
}

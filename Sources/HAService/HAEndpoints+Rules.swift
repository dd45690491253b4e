import API
import Foundation
import Schema

extension HAEndpoints {
    /// Which options each rule type takes (PVE 9's `node-affinity` and `resource-affinity`).
    static let ruleOptions: [String: Set<String>] = [
        "node-affinity": ["resources", "nodes", "strict", "disable", "comment"],
        "resource-affinity": ["resources", "affinity", "disable", "comment"],
    ]

    /// A rule must name existing HA resources and its type's own options.
    static func checkRule(_ section: SectionConfig.Section, _ store: HAConfigStore) throws {
        var errors: [String: String] = [:]
        let allowed = ruleOptions[section.type] ?? []
        for key in section.values.keys where !allowed.contains(key) { errors[key] = "not an option of a \(section.type) rule" }
        let defined = Set(try store.load(HAService.resourcesFile).sections.map { "\($0.type):\($0.id)" })
        let named = Formats.splitList(section["resources"] ?? "")
        if named.isEmpty { errors["resources"] = "a rule needs at least one resource" }
        if let unknown = named.first(where: { !defined.contains($0) }) { errors["resources"] = "'\(unknown)' is not an HA resource" }
        if section.type == "node-affinity", (section["nodes"] ?? "").isEmpty { errors["nodes"] = "a node-affinity rule needs nodes" }
        if section.type == "resource-affinity" {
            if section["affinity"] == nil { errors["affinity"] = "a resource-affinity rule needs 'positive' or 'negative'" }
            if named.count < 2 { errors["resources"] = "a resource-affinity rule relates at least two resources" }
        }
        if !errors.isEmpty { throw APIError.parameters(errors) }
    }

    static func rules(_ store: HAConfigStore) -> [Endpoint] {
        let file = HAService.rulesFile
        let skip: Set<String> = ["rule", "type", "digest", "delete"]
        return [
            Endpoint(
                pve: "GET /cluster/ha/rules", description: "The HA rules.",
                returns: .array(of: .object(["rule": .string()], additionalProperties: true)), permission: audit, childKey: "rule",
                handler: .blocking { context in
                    let digest = HAConfigStore.digest(store.text(file))
                    let type = context.parameters["type"]?.plainText, resource = context.parameters["resource"]?.plainText
                    return .array(
                        try store.load(file).sections.filter { rule in
                            (type == nil || rule.type == type) && (resource.map { Formats.splitList(rule["resources"] ?? "").contains($0) } ?? true)
                        }.map { .object(HAConfigStore.row($0, idKey: "rule", id: $0.id, digest: digest)) })
                }),
            Endpoint(
                pve: "GET /cluster/ha/rules/{rule}", description: "One HA rule.", returns: .object([:], additionalProperties: true),
                permission: audit,
                handler: .blocking { context in
                    let id = try context.require("rule")
                    guard let rule = try store.load(file)[id] else { throw APIError(500, "no such rule '\(id)'") }
                    return .object(HAConfigStore.row(rule, idKey: "rule", id: id, digest: HAConfigStore.digest(store.text(file))))
                }),
            Endpoint(
                pve: "POST /cluster/ha/rules", description: "Creates an HA rule.", permission: console,
                handler: .blocking { context in
                    let id = try context.require("rule")
                    try store.modify(file, digest: nil) { config in
                        guard config[id] == nil else { throw APIError.parameters(["rule": "rule '\(id)' already exists"]) }
                        var rule = SectionConfig.Section(type: try context.require("type"), id: id)
                        HAConfigStore.apply(context, to: &rule, skip: skip)
                        try checkRule(rule, store)
                        config[id] = rule
                    }
                    return .null
                }),
            Endpoint(
                pve: "PUT /cluster/ha/rules/{rule}", description: "Changes an HA rule.", permission: console,
                handler: .blocking { context in
                    let id = try context.require("rule")
                    try store.modify(file, digest: context.parameters["digest"]?.plainText) { config in
                        guard var rule = config[id] else { throw APIError(500, "no such rule '\(id)'") }
                        if let type = context.parameters["type"]?.plainText, type != rule.type {
                            throw APIError.parameters(["type": "a rule keeps its type"])
                        }
                        HAConfigStore.apply(context, to: &rule, skip: skip)
                        try checkRule(rule, store)
                        config[id] = rule
                    }
                    return .null
                }),
            Endpoint(
                pve: "DELETE /cluster/ha/rules/{rule}", description: "Deletes an HA rule.", permission: console,
                handler: .blocking { context in
                    let id = try context.require("rule")
                    try store.modify(file, digest: nil) { config in
                        guard config[id] != nil else { throw APIError(500, "no such rule '\(id)'") }
                        config[id] = nil
                    }
                    return .null
                }),
        ]
    }

    /// PVE's legacy HA groups (PVE 9 turns them into node-affinity rules; both are read here).
    static func groups(_ store: HAConfigStore) -> [Endpoint] {
        let file = HAService.groupsFile
        let skip: Set<String> = ["group", "type", "digest", "delete"]
        @Sendable func load(_ context: RequestContext) throws -> SectionConfig.Section {
            let id = try context.require("group")
            guard let group = try store.load(file)[id] else { throw APIError(500, "no such ha group '\(id)'") }
            return group
        }
        return [
            Endpoint(
                pve: "GET /cluster/ha/groups", description: "The HA groups.",
                returns: .array(of: .object(["group": .string()], additionalProperties: true)), permission: audit, childKey: "group",
                handler: .blocking { _ in
                    let digest = HAConfigStore.digest(store.text(file))
                    return .array(try store.load(file).sections.map { .object(HAConfigStore.row($0, idKey: "group", id: $0.id, digest: digest)) })
                }),
            Endpoint(
                pve: "GET /cluster/ha/groups/{group}", description: "One HA group.", returns: .object([:], additionalProperties: true),
                permission: audit,
                handler: .blocking { context in
                    let group = try load(context)
                    return .object(HAConfigStore.row(group, idKey: "group", id: group.id, digest: HAConfigStore.digest(store.text(file))))
                }),
            Endpoint(
                pve: "POST /cluster/ha/groups", description: "Creates an HA group.", permission: console,
                handler: .blocking { context in
                    let id = try context.require("group")
                    try store.modify(file, digest: nil) { config in
                        guard config[id] == nil else { throw APIError.parameters(["group": "ha group '\(id)' already exists"]) }
                        var group = SectionConfig.Section(type: "group", id: id)
                        HAConfigStore.apply(context, to: &group, skip: skip)
                        config[id] = group
                    }
                    return .null
                }),
            Endpoint(
                pve: "PUT /cluster/ha/groups/{group}", description: "Changes an HA group.", permission: console,
                handler: .blocking { context in
                    var group = try load(context)
                    try store.modify(file, digest: context.parameters["digest"]?.plainText) { config in
                        HAConfigStore.apply(context, to: &group, skip: skip)
                        config[group.id] = group
                    }
                    return .null
                }),
            Endpoint(
                pve: "DELETE /cluster/ha/groups/{group}", description: "Deletes an HA group no resource uses.", permission: console,
                handler: .blocking { context in
                    let group = try load(context)
                    if let user = try store.load(HAService.resourcesFile).sections.first(where: { $0["group"] == group.id }) {
                        throw APIError(500, "ha group '\(group.id)' is used by resource '\(user.type):\(user.id)'")
                    }
                    try store.modify(file, digest: nil) { config in config[group.id] = nil }
                    return .null
                }),
        ]
    }
}

import API
import Foundation
import Schema

extension FirewallEndpoints {
    static let namePattern = "[A-Za-z][A-Za-z0-9\\-_]+"

    /// `…/ipset`: IP sets and their entries (datacenter and guests).
    static func ipsetEndpoints(_ store: FirewallStore, scope: FirewallScope) -> [Endpoint] {
        let base = scope.base + "/ipset"
        @Sendable func setIndex(_ file: FirewallFile, _ name: String) throws -> Int {
            guard let index = file.ipsets.firstIndex(where: { $0.name == name }) else { throw FirewallError(500, "no such IPSet '\(name)'") }
            return index
        }
        @Sendable func entryIndex(_ set: FirewallFile.IPSet, _ cidr: String) throws -> Int {
            guard let entry = set.entries.firstIndex(where: { $0.cidr == cidr }) else { throw FirewallError(500, "no such IP/Network '\(cidr)'") }
            return entry
        }
        return [
            Endpoint(
                pve: "GET \(base)", description: "The IP sets.", returns: .array(of: .object(["name": .string()], additionalProperties: true)),
                permission: scope.readPermission,
                handler: .blocking { context in
                    let (file, digest) = try store.read(context, scope)
                    return .array(
                        file.ipsets.map { set in
                            var row: [String: JSON] = ["name": .string(set.name), "digest": .string(digest)]
                            if let comment = set.comment { row["comment"] = .string(comment) }
                            return .object(row)
                        })
                }),
            Endpoint(
                pve: "POST \(base)", description: "Creates an IP set, or renames one (`rename`).", permission: scope.writePermission,
                handler: .blocking { context in
                    let name = try context.require("name")
                    try store.modify(context, scope) { file in
                        let comment = context.parameters["comment"]?.plainText
                        if let old = context.parameters["rename"]?.plainText {
                            let index = try setIndex(file, old)
                            if old != name, file.ipsets.contains(where: { $0.name.lowercased() == name.lowercased() }) {
                                throw FirewallError.field("name", "IPSet '\(name)' already exists")
                            }
                            file.ipsets[index].name = name
                            if let comment { file.ipsets[index].comment = comment.isEmpty ? nil : comment }
                        } else {
                            if file.ipsets.contains(where: { $0.name.lowercased() == name.lowercased() }) {
                                throw FirewallError.field("name", "IPSet '\(name)' already exists")
                            }
                            file.ipsets.append(.init(name: name, comment: comment?.isEmpty == false ? comment : nil))
                        }
                    }
                    return .null
                }),
            Endpoint(
                pve: "GET \(base)/{name}", description: "The entries of an IP set.",
                returns: .array(of: .object(["cidr": .string()], additionalProperties: true)), permission: scope.readPermission,
                handler: .blocking { context in
                    let (file, digest) = try store.read(context, scope)
                    let set = file.ipsets[try setIndex(file, try context.require("name"))]
                    return .array(
                        set.entries.map { entry in
                            var row: [String: JSON] = ["cidr": .string(entry.cidr), "digest": .string(digest)]
                            if entry.nomatch { row["nomatch"] = 1 }
                            if let comment = entry.comment { row["comment"] = .string(comment) }
                            return .object(row)
                        })
                }),
            Endpoint(
                pve: "POST \(base)/{name}", description: "Adds an address, range or alias to an IP set.", permission: scope.writePermission,
                handler: .blocking { context in
                    try store.modify(context, scope) { file in
                        let index = try setIndex(file, try context.require("name"))
                        let cidr = try context.require("cidr")
                        if file.ipsets[index].entries.contains(where: { $0.cidr == cidr }) {
                            throw FirewallError.field("cidr", "address '\(cidr)' is already in the set")
                        }
                        let comment = context.parameters["comment"]?.plainText
                        file.ipsets[index].entries.append(
                            .init(cidr: cidr, nomatch: context.bool("nomatch") ?? false, comment: comment?.isEmpty == false ? comment : nil))
                    }
                    return .null
                }),
            Endpoint(
                pve: "DELETE \(base)/{name}", description: "Removes an IP set (one with entries only with `force`).",
                permission: scope.writePermission,
                handler: .blocking { context in
                    try store.modify(context, scope) { file in
                        let index = try setIndex(file, try context.require("name"))
                        if !file.ipsets[index].entries.isEmpty, context.bool("force") != true {
                            throw FirewallError(500, "IPSet '\(file.ipsets[index].name)' is not empty")
                        }
                        file.ipsets.remove(at: index)
                    }
                    return .null
                }),
            Endpoint(
                pve: "GET \(base)/{name}/{cidr}", description: "One entry of an IP set.",
                returns: .object(["cidr": .string()], additionalProperties: true), permission: scope.readPermission,
                handler: .blocking { context in
                    let (file, digest) = try store.read(context, scope)
                    let set = file.ipsets[try setIndex(file, try context.require("name"))]
                    let entry = set.entries[try entryIndex(set, try context.require("cidr"))]
                    var row: [String: JSON] = ["cidr": .string(entry.cidr), "digest": .string(digest), "nomatch": .int(entry.nomatch ? 1 : 0)]
                    if let comment = entry.comment { row["comment"] = .string(comment) }
                    return .object(row)
                }),
            Endpoint(
                pve: "PUT \(base)/{name}/{cidr}", description: "Changes an entry's comment or nomatch flag.", permission: scope.writePermission,
                handler: .blocking { context in
                    try store.modify(context, scope) { file in
                        let index = try setIndex(file, try context.require("name"))
                        let entry = try entryIndex(file.ipsets[index], try context.require("cidr"))
                        if let nomatch = context.bool("nomatch") { file.ipsets[index].entries[entry].nomatch = nomatch }
                        if let comment = context.parameters["comment"]?.plainText {
                            file.ipsets[index].entries[entry].comment = comment.isEmpty ? nil : comment
                        }
                    }
                    return .null
                }),
            Endpoint(
                pve: "DELETE \(base)/{name}/{cidr}", description: "Removes an entry from an IP set.", permission: scope.writePermission,
                handler: .blocking { context in
                    try store.modify(context, scope) { file in
                        let index = try setIndex(file, try context.require("name"))
                        let entry = try entryIndex(file.ipsets[index], try context.require("cidr"))
                        file.ipsets[index].entries.remove(at: entry)
                    }
                    return .null
                }),
        ]
    }

    /// `…/aliases`: named addresses (datacenter and guests).
    static func aliasEndpoints(_ store: FirewallStore, scope: FirewallScope) -> [Endpoint] {
        let base = scope.base + "/aliases"
        @Sendable func row(_ alias: FirewallFile.Alias, _ digest: String) -> JSON {
            var out: [String: JSON] = ["name": .string(alias.name), "cidr": .string(alias.cidr), "digest": .string(digest)]
            if let comment = alias.comment { out["comment"] = .string(comment) }
            return .object(out)
        }
        @Sendable func index(_ file: FirewallFile, _ name: String) throws -> Int {
            guard let index = file.aliases.firstIndex(where: { $0.name.lowercased() == name.lowercased() }) else {
                throw FirewallError(500, "no such alias '\(name)'")
            }
            return index
        }
        return [
            Endpoint(
                pve: "GET \(base)", description: "The IP aliases.", returns: .array(of: .object(["name": .string()], additionalProperties: true)),
                permission: scope.readPermission,
                handler: .blocking { context in
                    let (file, digest) = try store.read(context, scope)
                    return .array(file.aliases.map { row($0, digest) })
                }),
            Endpoint(
                pve: "POST \(base)", description: "Adds an IP alias.", permission: scope.writePermission,
                handler: .blocking { context in
                    let name = try context.require("name")
                    try store.modify(context, scope) { file in
                        if file.aliases.contains(where: { $0.name.lowercased() == name.lowercased() }) {
                            throw FirewallError.field("name", "alias '\(name)' already exists")
                        }
                        let comment = context.parameters["comment"]?.plainText
                        file.aliases.append(.init(name: name, cidr: try context.require("cidr"), comment: comment?.isEmpty == false ? comment : nil))
                    }
                    return .null
                }),
            Endpoint(
                pve: "GET \(base)/{name}", description: "One IP alias.", returns: .object(["name": .string()], additionalProperties: true),
                permission: scope.readPermission,
                handler: .blocking { context in
                    let (file, digest) = try store.read(context, scope)
                    return row(file.aliases[try index(file, try context.require("name"))], digest)
                }),
            Endpoint(
                pve: "PUT \(base)/{name}", description: "Changes an IP alias (`rename` gives it a new name).", permission: scope.writePermission,
                handler: .blocking { context in
                    try store.modify(context, scope) { file in
                        let at = try index(file, try context.require("name"))
                        file.aliases[at].cidr = try context.require("cidr")
                        if let comment = context.parameters["comment"]?.plainText { file.aliases[at].comment = comment.isEmpty ? nil : comment }
                        if let rename = context.parameters["rename"]?.plainText, rename != file.aliases[at].name {
                            if file.aliases.contains(where: { $0.name.lowercased() == rename.lowercased() }) {
                                throw FirewallError.field("rename", "alias '\(rename)' already exists")
                            }
                            file.aliases[at].name = rename
                        }
                    }
                    return .null
                }),
            Endpoint(
                pve: "DELETE \(base)/{name}", description: "Removes an IP alias.", permission: scope.writePermission,
                handler: .blocking { context in
                    try store.modify(context, scope) { file in file.aliases.remove(at: try index(file, try context.require("name"))) }
                    return .null
                }),
        ]
    }
}

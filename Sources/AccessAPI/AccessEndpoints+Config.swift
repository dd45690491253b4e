import API
import Access
import Foundation
import Schema

/// Users, tokens, groups, roles and ACLs: every change is one read-modify-write of user.cfg under
/// the cluster lock, so it is applied whole on every node or not at all.
extension AccessEndpoints {
    static func update<T>(_ access: AccessControl, _ body: (inout UserConfig) throws -> T) throws -> T {
        do { return try access.updateUserConfig(body) } catch let error as AccessError { throw fail(error) }
    }

    static func list(_ text: String?) -> [String] { Formats.splitList(text ?? "") }

    static func userJSON(_ u: UserConfig.User, _ config: UserConfig, tokens: Bool) -> [String: JSON] {
        var item: [String: JSON] = ["userid": .string(u.id), "enable": JSON(u.enable ? 1 : 0), "expire": JSON(u.expire)]
        for (key, value) in [("firstname", u.firstname), ("lastname", u.lastname), ("email", u.email), ("comment", u.comment), ("keys", u.keys)]
        where !value.isEmpty {
            item[key] = .string(value)
        }
        let groups = config.groups(of: u.id)
        if !groups.isEmpty { item["groups"] = .array(groups.map { .string($0) }) }
        if tokens {
            item["tokens"] = .array(
                config.tokens.values.filter { $0.user == u.id }.sorted { $0.id < $1.id }.map { t in
                    .object([
                        "tokenid": .string(String(t.id.split(separator: "!").last ?? "")), "expire": JSON(t.expire),
                        "privsep": JSON(t.privsep ? 1 : 0), "comment": .string(t.comment),
                    ])
                })
        }
        return item
    }

    static func applyUserFields(_ user: inout UserConfig.User, _ context: RequestContext) {
        if let v = context.bool("enable") { user.enable = v }
        if let v = context.int("expire") { user.expire = Int(v) }
        if let v = context.string("firstname") { user.firstname = v }
        if let v = context.string("lastname") { user.lastname = v }
        if let v = context.string("email") { user.email = v }
        if let v = context.string("comment") { user.comment = v }
        if let v = context.string("keys") { user.keys = v }
    }

    static func setGroups(_ config: inout UserConfig, user: String, groups: [String], append: Bool) throws {
        for g in groups where config.groups[g] == nil { throw APIError.parameters(["groups": "no such group '\(g)'"]) }
        for id in config.groups.keys {
            let member = config.groups[id]!.members.contains(user)
            if groups.contains(id) && !member { config.groups[id]!.members.append(user) }
            if !append && !groups.contains(id) && member { config.groups[id]!.members.removeAll { $0 == user } }
        }
    }

    // MARK: users

    static func users(_ access: AccessControl) -> [Endpoint] {
        let userFields: [String: Schema] = [
            "userid": userid, "comment": comment, "email": Schema.string(format: "email-opt", maxLength: 254).optional(),
            "enable": Schema.boolean().defaulting(to: true), "expire": Schema.integer(minimum: 0).optional(),
            "firstname": Schema.string(maxLength: 1024).optional(), "lastname": Schema.string(maxLength: 1024).optional(),
            "groups": Schema.string(format: "pve-groupid-list").optional(), "keys": Schema.string(pattern: "[0-9a-zA-Z!=]{0,4096}").optional(),
        ]
        return [
            Endpoint(
                .GET, "/access/users", name: "index", description: "Users the caller may see.",
                parameters: ["enabled": Schema.boolean().optional(), "full": Schema.boolean().defaulting(to: false)],
                returns: .array(of: .object(["userid": .string()], additionalProperties: true)), permission: .anyUser, protected: true,
                childKey: "userid",
                handler: .sync { context in
                    let config = access.userConfig
                    let seeAll = context.has(["User.Modify", "Sys.Audit"], on: "/access/groups", any: true)
                    let visibleGroups = Set(
                        config.groups.keys.filter { context.has(["User.Modify", "Sys.Audit"], on: "/access/groups/" + $0, any: true) })
                    let me = Identity(context.user)?.user
                    return .array(
                        config.users.values.sorted { $0.id < $1.id }.filter { u in
                            if let enabled = context.bool("enabled"), u.enable != enabled { return false }
                            return seeAll || u.id == me || !Set(config.groups(of: u.id)).isDisjoint(with: visibleGroups)
                        }.map { u in
                            var item = userJSON(u, config, tokens: context.bool("full") ?? false)
                            // the list gives a user's groups as one comma list (the single user's read, an array)
                            if case .array(let groups)? = item["groups"] { item["groups"] = .string(groups.map(\.plainText).joined(separator: ",")) }
                            return .object(item)
                        })
                }),
            Endpoint(
                .POST, "/access/users", name: "create_user", description: "Create a user.",
                parameters: userFields.merging(["password": Schema.string(minLength: 8, maxLength: 64).optional()]) { a, _ in a },
                returns: .null, permission: .and([.useridRealm("Realm.AllocateUser"), .useridGroup(["User.Modify"], groupsParam: "create")]),
                protected: true,
                handler: .blocking { context in
                    let id = try context.require("userid")
                    guard let realm = id.split(separator: "@").last, access.realms.contains(where: { $0.id == realm }) else {
                        throw APIError.parameters(["userid": "no such realm '\(id.split(separator: "@").last ?? "")'"])
                    }
                    try update(access) { config in
                        guard config.users[id] == nil else { throw APIError(400, "create user failed: user '\(id)' already exists") }
                        var user = UserConfig.User(id: id)
                        applyUserFields(&user, context)
                        config.users[id] = user
                        try setGroups(&config, user: id, groups: list(context.string("groups")), append: true)
                    }
                    if let password = context.string("password") {
                        do { try access.setPassword(user: id, password: password) } catch let error as AccessError {
                            // no half-made user: undo the entry if the password cannot be stored
                            _ = try? access.updateUserConfig { $0.users[id] = nil }
                            throw fail(error)
                        }
                    }
                    return .null
                }),
            Endpoint(
                .GET, "/access/users/{userid}", name: "read_user", description: "A user's configuration.",
                parameters: ["userid": userid], returns: .object([:], additionalProperties: true),
                permission: .useridGroup(["User.Modify", "Sys.Audit"]),
                handler: .sync { context in
                    let config = access.userConfig
                    let id = try context.require("userid")
                    guard let user = config.users[id] else { throw APIError(500, "no such user ('\(id)')") }
                    var item = userJSON(user, config, tokens: true)
                    item["tokens"] = .object(
                        Dictionary(
                            uniqueKeysWithValues: (item["tokens"]?.arrayValue ?? []).compactMap { t in
                                t["tokenid"]?.stringValue.map { ($0, t) }
                            }))
                    return .object(item)
                }),
            Endpoint(
                .PUT, "/access/users/{userid}", name: "update_user", description: "Change a user.",
                parameters: userFields.merging(["append": Schema.boolean().optional()]) { a, _ in a },
                returns: .null, permission: .useridGroup(["User.Modify"], groupsParam: "update"), protected: true,
                handler: .blocking { context in
                    let id = try context.require("userid")
                    try update(access) { config in
                        guard var user = config.users[id] else { throw APIError(500, "no such user ('\(id)')") }
                        applyUserFields(&user, context)
                        config.users[id] = user
                        if let groups = context.string("groups") {
                            try setGroups(&config, user: id, groups: list(groups), append: context.bool("append") ?? false)
                        }
                    }
                    return .null
                }),
            Endpoint(
                .DELETE, "/access/users/{userid}", name: "delete_user", description: "Delete a user with its tokens and ACL entries.",
                parameters: ["userid": userid], returns: .null,
                permission: .and([.useridRealm("Realm.AllocateUser"), .useridGroup(["User.Modify"])]), protected: true,
                handler: .blocking { context in
                    let id = try context.require("userid")
                    guard id != "root@pam" else { throw APIError(400, "the root@pam user cannot be deleted") }
                    let removedTokens: [String] = try update(access) { config in
                        guard config.users.removeValue(forKey: id) != nil else { throw APIError(500, "no such user ('\(id)')") }
                        let tokens = config.tokens.keys.filter { $0.hasPrefix(id + "!") }
                        for t in tokens { config.tokens[t] = nil }
                        for g in config.groups.keys { config.groups[g]!.members.removeAll { $0 == id } }
                        config.acl.removeAll { $0.ugid == id || $0.ugid.hasPrefix(id + "!") }
                        return Array(tokens)
                    }
                    for t in removedTokens { try? access.removeTokenSecret(t) }
                    return .null
                }),
            Endpoint(
                .PUT, "/access/password", name: "change_password", description: "Change a pve-realm user's password.",
                parameters: [
                    "userid": userid, "password": Schema.string(minLength: 5, maxLength: 64),
                    "confirmation-password": Schema.string(minLength: 5, maxLength: 64).optional(),
                ],
                returns: .null,
                permission: .or([.selfUser, .and([.useridRealm("Realm.AllocateUser"), .useridGroup(["User.Modify"])])]),
                protected: true, allowToken: false,
                handler: .blocking { context in
                    let id = try context.require("userid")
                    guard access.userConfig.users[id] != nil else { throw APIError(500, "no such user ('\(id)')") }
                    let password = try context.require("password")
                    do { try access.setPassword(user: id, password: password) } catch let error as AccessError { throw fail(error) }
                    return .null
                }),
        ]
    }

    // MARK: tokens

    static func tokens(_ access: AccessControl) -> [Endpoint] {
        let both: [String: Schema] = ["userid": userid, "tokenid": tokenid]
        let fields: [String: Schema] = [
            "comment": comment, "expire": Schema.integer(minimum: 0).optional(), "privsep": Schema.boolean().defaulting(to: true),
        ]
        @Sendable func tokenJSON(_ t: UserConfig.Token) -> JSON {
            [
                "tokenid": .string(String(t.id.split(separator: "!").last ?? "")), "expire": JSON(t.expire), "privsep": JSON(t.privsep ? 1 : 0),
                "comment": .string(t.comment),
            ]
        }
        @Sendable func fullID(_ context: RequestContext) throws -> String { "\(try context.require("userid"))!\(try context.require("tokenid"))" }
        return [
            Endpoint(
                .GET, "/access/users/{userid}/token", name: "token_index", description: "A user's API tokens.",
                parameters: ["userid": userid], returns: .array(of: .object(["tokenid": .string()], additionalProperties: true)),
                permission: tokenSelfOrAdmin, childKey: "tokenid",
                handler: .sync { context in
                    let id = try context.require("userid")
                    return .array(access.userConfig.tokens.values.filter { $0.user == id }.sorted { $0.id < $1.id }.map(tokenJSON))
                }),
            Endpoint(
                .GET, "/access/users/{userid}/token/{tokenid}", name: "read_token", description: "An API token's settings.",
                parameters: both, returns: .object([:], additionalProperties: true), permission: tokenSelfOrAdmin,
                handler: .sync { context in
                    guard let token = access.userConfig.tokens[try fullID(context)] else { throw APIError(404, "no such token") }
                    return tokenJSON(token)
                }),
            Endpoint(
                .POST, "/access/users/{userid}/token/{tokenid}", name: "generate_token",
                description: "Create an API token; its secret is in the answer and never shown again.",
                parameters: both.merging(fields) { a, _ in a },
                returns: .object(["full-tokenid": .string(), "value": .string(), "info": .object([:], additionalProperties: true)]),
                permission: tokenSelfOrAdmin, protected: true,
                handler: .blocking { context in
                    var token = UserConfig.Token(id: try fullID(context))
                    token.comment = context.string("comment") ?? ""
                    token.privsep = context.bool("privsep") ?? true
                    token.expire = context.int("expire").map(Int.init) ?? access.userConfig.users[token.user]?.expire ?? 0
                    let secret: String
                    do { secret = try access.createToken(token) } catch let error as AccessError { throw fail(error) }
                    var info: [String: JSON] = ["privsep": JSON(token.privsep ? 1 : 0)]
                    if token.expire != 0 { info["expire"] = JSON(token.expire) }
                    if !token.comment.isEmpty { info["comment"] = .string(token.comment) }
                    return ["full-tokenid": .string(token.id), "value": .string(secret), "info": .object(info)]
                }),
            Endpoint(
                .PUT, "/access/users/{userid}/token/{tokenid}", name: "update_token_info", description: "Change an API token's settings.",
                parameters: both.merging(fields) { a, _ in a }.merging(["delete": Schema.string(format: "pve-configid-list").optional()]) { a, _ in a
                },
                returns: .object([:], additionalProperties: true), permission: tokenSelfOrAdmin, protected: true,
                handler: .blocking { context in
                    let id = try fullID(context)
                    let token: UserConfig.Token = try update(access) { config in
                        guard var token = config.tokens[id] else { throw APIError(404, "no such token") }
                        if let v = context.string("comment") { token.comment = v }
                        if let v = context.int("expire") { token.expire = Int(v) }
                        if let v = context.bool("privsep") { token.privsep = v }
                        for key in list(context.string("delete")) {
                            if key == "comment" { token.comment = "" }
                            if key == "expire" { token.expire = 0 }
                        }
                        config.tokens[id] = token
                        return token
                    }
                    return tokenJSON(token)
                }),
            Endpoint(
                .DELETE, "/access/users/{userid}/token/{tokenid}", name: "remove_token", description: "Delete an API token and its ACL entries.",
                parameters: both, returns: .null, permission: tokenSelfOrAdmin, protected: true,
                handler: .blocking { context in
                    let id = try fullID(context)
                    try update(access) { config in
                        guard config.tokens.removeValue(forKey: id) != nil else { throw APIError(404, "no such token") }
                        config.acl.removeAll { $0.ugid == id }
                    }
                    try? access.removeTokenSecret(id)
                    return .null
                }),
        ]
    }

    // MARK: groups

    static func groups(_ access: AccessControl) -> [Endpoint] {
        [
            Endpoint(
                .GET, "/access/groups", name: "index", description: "Groups the caller may see.",
                returns: .array(of: .object(["groupid": .string()], additionalProperties: true)), permission: .anyUser, childKey: "groupid",
                handler: .sync { context in
                    .array(
                        access.userConfig.groups.values.sorted { $0.id < $1.id }.filter { g in
                            context.has(["Sys.Audit", "Group.Allocate"], on: "/access/groups/" + g.id, any: true)
                        }.map { g in
                            ["groupid": .string(g.id), "comment": .string(g.comment), "users": .string(g.members.sorted().joined(separator: ","))]
                        })
                }),
            Endpoint(
                .POST, "/access/groups", name: "create_group", description: "Create a group.",
                parameters: ["groupid": groupid, "comment": comment], returns: .null,
                permission: .privileges(path: "/access/groups", ["Group.Allocate"]), protected: true,
                handler: .blocking { context in
                    let id = try context.require("groupid")
                    try update(access) { config in
                        guard config.groups[id] == nil else { throw APIError(400, "create group failed: group '\(id)' already exists") }
                        var group = UserConfig.Group(id: id)
                        group.comment = context.string("comment") ?? ""
                        config.groups[id] = group
                    }
                    return .null
                }),
            Endpoint(
                .GET, "/access/groups/{groupid}", name: "read_group", description: "A group and its members.",
                parameters: ["groupid": groupid], returns: .object([:], additionalProperties: true),
                permission: .privileges(path: "/access/groups", ["Sys.Audit", "Group.Allocate"], any: true),
                handler: .sync { context in
                    guard let group = access.userConfig.groups[try context.require("groupid")] else { throw APIError(404, "no such group") }
                    return ["comment": .string(group.comment), "members": .array(group.members.sorted().map { .string($0) })]
                }),
            Endpoint(
                .PUT, "/access/groups/{groupid}", name: "update_group", description: "Change a group's comment.",
                parameters: ["groupid": groupid, "comment": comment], returns: .null,
                permission: .privileges(path: "/access/groups", ["Group.Allocate"]), protected: true,
                handler: .blocking { context in
                    let id = try context.require("groupid")
                    try update(access) { config in
                        guard config.groups[id] != nil else { throw APIError(404, "no such group ('\(id)')") }
                        if let comment = context.string("comment") { config.groups[id]!.comment = comment }
                    }
                    return .null
                }),
            Endpoint(
                .DELETE, "/access/groups/{groupid}", name: "delete_group", description: "Delete a group and its ACL entries.",
                parameters: ["groupid": groupid], returns: .null,
                permission: .privileges(path: "/access/groups", ["Group.Allocate"]), protected: true,
                handler: .blocking { context in
                    let id = try context.require("groupid")
                    try update(access) { config in
                        guard config.groups.removeValue(forKey: id) != nil else { throw APIError(404, "no such group ('\(id)')") }
                        config.acl.removeAll { $0.ugid == "@" + id }
                    }
                    return .null
                }),
        ]
    }

    // MARK: roles

    static func roles(_ access: AccessControl) -> [Endpoint] {
        @Sendable func privileges(_ context: RequestContext) throws -> Set<String> {
            let wanted = list(context.string("privs"))
            for p in wanted where !Privileges.allSet.contains(p) { throw APIError.parameters(["privs": "invalid privilege name '\(p)'"]) }
            return Set(wanted)
        }
        return [
            Endpoint(
                .GET, "/access/roles", name: "index", description: "All roles with their privileges.",
                returns: .array(of: .object(["roleid": .string()], additionalProperties: true)), permission: .anyUser, childKey: "roleid",
                handler: .sync { _ in
                    .array(
                        access.userConfig.roles.sorted { $0.key < $1.key }.map { id, privileges in
                            var item: [String: JSON] = ["roleid": .string(id), "privs": .string(privileges.sorted().joined(separator: ","))]
                            if Privileges.builtinRoles[id] != nil { item["special"] = 1 }
                            return .object(item)
                        })
                }),
            Endpoint(
                .POST, "/access/roles", name: "create_role", description: "Create a role.",
                parameters: ["roleid": roleid, "privs": Schema.string(format: "pve-priv-list").optional()], returns: .null,
                permission: .privileges(path: "/access", ["Sys.Modify"]), protected: true,
                handler: .blocking { context in
                    let id = try context.require("roleid")
                    let privs = try privileges(context)
                    try update(access) { config in
                        guard config.roles[id] == nil else { throw APIError(400, "role '\(id)' already exists") }
                        config.customRoles[id] = privs
                    }
                    return .null
                }),
            Endpoint(
                .GET, "/access/roles/{roleid}", name: "read_role", description: "A role's privileges.",
                parameters: ["roleid": roleid], returns: .object([:], additionalProperties: true), permission: .anyUser,
                handler: .sync { context in
                    guard let privs = access.userConfig.roles[try context.require("roleid")] else { throw APIError(404, "role does not exist") }
                    return .object(Dictionary(uniqueKeysWithValues: privs.map { ($0, JSON(1)) }))
                }),
            Endpoint(
                .PUT, "/access/roles/{roleid}", name: "update_role", description: "Change a custom role's privileges.",
                parameters: ["roleid": roleid, "privs": Schema.string(format: "pve-priv-list").optional(), "append": Schema.boolean().optional()],
                returns: .null, permission: .privileges(path: "/access", ["Sys.Modify"]), protected: true,
                handler: .blocking { context in
                    let id = try context.require("roleid")
                    guard Privileges.builtinRoles[id] == nil else { throw APIError(400, "cannot change the built-in role '\(id)'") }
                    let privs = try privileges(context)
                    try update(access) { config in
                        guard config.customRoles[id] != nil else { throw APIError(404, "role '\(id)' does not exist") }
                        config.customRoles[id] = (context.bool("append") ?? false) ? config.customRoles[id]!.union(privs) : privs
                    }
                    return .null
                }),
            Endpoint(
                .DELETE, "/access/roles/{roleid}", name: "delete_role", description: "Delete a custom role and its ACL entries.",
                parameters: ["roleid": roleid], returns: .null, permission: .privileges(path: "/access", ["Sys.Modify"]), protected: true,
                handler: .blocking { context in
                    let id = try context.require("roleid")
                    guard Privileges.builtinRoles[id] == nil else { throw APIError(400, "cannot delete the built-in role '\(id)'") }
                    try update(access) { config in
                        guard config.customRoles.removeValue(forKey: id) != nil else { throw APIError(404, "role '\(id)' does not exist") }
                        config.acl.removeAll { $0.role == id }
                    }
                    return .null
                }),
        ]
    }

    // MARK: ACL

    static func acl(_ access: AccessControl) -> [Endpoint] {
        [
            Endpoint(
                .GET, "/access/acl", name: "read_acl", description: "ACL entries on paths where the caller may audit or change permissions.",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .anyUser,
                handler: .sync { context in
                    .array(
                        access.userConfig.acl.filter { entry in
                            context.has(["Sys.Audit", "Permissions.Modify"], on: entry.path, any: true)
                        }.sorted { ($0.path, $0.ugid, $0.role) < ($1.path, $1.ugid, $1.role) }.map { entry in
                            let type = entry.ugid.hasPrefix("@") ? "group" : entry.ugid.contains("!") ? "token" : "user"
                            return [
                                "path": .string(entry.path), "type": .string(type),
                                "ugid": .string(entry.ugid.hasPrefix("@") ? String(entry.ugid.dropFirst()) : entry.ugid),
                                "roleid": .string(entry.role), "propagate": JSON(entry.propagate ? 1 : 0),
                            ]
                        })
                }),
            Endpoint(
                .PUT, "/access/acl", name: "update_acl", description: "Grant or (with delete) revoke roles on a path.",
                parameters: [
                    "path": Schema.string(), "roles": Schema.string(format: "pve-roleid-list"),
                    "users": Schema.string(format: "pve-userid-list").optional(), "groups": Schema.string(format: "pve-groupid-list").optional(),
                    "tokens": Schema.string(format: "pve-tokenid-list").optional(), "propagate": Schema.boolean().defaulting(to: true),
                    "delete": Schema.boolean().optional(),
                ],
                returns: .null, permission: .permModify("{path}"), protected: true,
                handler: .blocking { context in
                    guard let path = UserConfig.normalizePath(try context.require("path")) else {
                        throw APIError.parameters(["path": "invalid ACL path"])
                    }
                    let roles = list(context.string("roles")), propagate = context.bool("propagate") ?? true, delete = context.bool("delete") ?? false
                    let users = list(context.string("users")), groups = list(context.string("groups")), tokens = list(context.string("tokens"))
                    guard !(users.isEmpty && groups.isEmpty && tokens.isEmpty) else {
                        throw APIError.parameters(["users": "no users, groups or tokens given"])
                    }
                    try update(access) { config in
                        for r in roles where config.roles[r] == nil { throw APIError.parameters(["roles": "role '\(r)' does not exist"]) }
                        for u in users where config.users[u] == nil { throw APIError.parameters(["users": "user '\(u)' does not exist"]) }
                        for g in groups where config.groups[g] == nil { throw APIError.parameters(["groups": "group '\(g)' does not exist"]) }
                        for t in tokens where config.tokens[t] == nil { throw APIError.parameters(["tokens": "token '\(t)' does not exist"]) }
                        let ugids = users + groups.map { "@" + $0 } + tokens
                        config.acl.removeAll { ugids.contains($0.ugid) && roles.contains($0.role) && $0.path == path }
                        if !delete {
                            for ugid in ugids where ugid != "root@pam" {
                                for role in roles { config.acl.append(UserConfig.ACLEntry(path: path, ugid: ugid, role: role, propagate: propagate)) }
                            }
                        }
                    }
                    return .null
                }),
        ]
    }
}

import API
import Access
import Blocking
import ClusterFS
import Foundation
import Schema
import TLS
import Tasks

/// `POST /access/domains`, `PUT` and `DELETE /access/domains/{realm}`: directory realms in
/// `domains.cfg` (PVE's format), changed one section at a time under the cluster lock `domains`.
/// A bind password goes to `priv/realm/<realm>.pw`, never into the file or an answer. `pam` and
/// `pve` always exist and keep their type.
enum RealmEndpoints {
    static let file = "domains.cfg"
    static let permission = Permission.privileges(path: "/access/realm", ["Realm.Allocate"])
    /// Parameters that are no options of the section.
    static let bookkeeping: Set<String> = ["realm", "type", "password", "delete", "digest", "check-connection"]
    /// What each type may hold.
    static let options: [String: Set<String>] = {
        let directory: Set<String> = [
            "server1", "server2", "port", "mode", "secure", "verify", "capath", "cert", "certkey", "sslversion", "base_dn", "bind_dn",
            "user_attr", "filter", "group_dn", "group_filter", "group_classes", "group_name_attr", "user_classes", "sync_attributes",
            "sync-defaults-options", "case-sensitive", "comment", "default", "tfa",
        ]
        let openid: Set<String> = [
            "issuer-url", "client-id", "client-key", "username-claim", "autocreate", "groups-claim", "groups-autocreate", "groups-overwrite",
            "scopes", "prompt", "acr-values", "query-userinfo", "comment", "default",
        ]
        return [
            "ldap": directory, "ad": directory.union(["domain"]), "openid": openid, "pam": ["comment", "default", "tfa"],
            "pve": ["comment", "default", "tfa"],
        ]
    }()

    static func all(access: AccessControl) -> [Endpoint] {
        [
            Endpoint(
                pve: "POST /access/domains", description: "Adds an LDAP or Active Directory realm.", permission: permission,
                handler: .blocking { context in
                    let id = try context.require("realm")
                    let type = try context.require("type")
                    guard type == "ldap" || type == "ad" || type == "openid" else {
                        throw APIError.parameters(["type": "there is exactly one realm of type '\(type)'"])
                    }
                    if type == "openid", context.bool("check-connection") == true {
                        throw APIError.parameters([
                            "check-connection": "'check-connection' parameter can only be set for realms of type 'ldap' or 'ad'"
                        ])
                    }
                    var section = SectionConfig.Section(type: type, id: id)
                    set(context, on: &section)
                    try check(section)
                    if context.bool("check-connection") == true { try checkConnection(section, password: context.string("password")) }
                    try modify(access, digest: nil) { config in
                        guard config[id] == nil, !["pam", "pve"].contains(id) else { throw APIError(500, "domain '\(id)' already exists") }
                        try setPassword(access, id, context.string("password"))
                        if section["default"] == "1" { clearDefault(&config) }
                        config[id] = ordered(section)
                    }
                    return .null
                }),
            Endpoint(
                pve: "PUT /access/domains/{realm}", description: "Changes a realm.", permission: permission,
                handler: .blocking { context in
                    let id = try context.require("realm")
                    let deleted = Formats.splitList(context.string("delete") ?? "")
                    if let both = deleted.first(where: { context.parameters[$0] != nil && $0 != "password" }) {
                        throw APIError.parameters([both: "cannot set and delete '\(both)' at once"])
                    }
                    try modify(access, digest: context.string("digest")) { config in
                        var section = config[id] ?? (["pam", "pve"].contains(id) ? SectionConfig.Section(type: id, id: id) : nil)
                        guard var section else { throw APIError(500, "domain '\(id)' does not exist") }
                        if let type = context.string("type"), type != section.type { throw APIError.parameters(["type": "a realm keeps its type"]) }
                        // the user IDs made from it would change under existing users
                        if section.type == "openid", context.parameters["username-claim"] != nil || deleted.contains("username-claim") {
                            throw APIError.parameters(["username-claim": "can't change value of fixed parameter 'username-claim'"])
                        }
                        for key in deleted where key != "password" { section[key] = nil }
                        set(context, on: &section)
                        try check(section)
                        if context.bool("check-connection") == true {
                            try checkConnection(section, password: context.string("password") ?? access.realmPassword(id))
                        }
                        if deleted.contains("password") {
                            try setPassword(access, id, nil)
                        } else if let password = context.string("password") {
                            try setPassword(access, id, password)
                        }
                        if section["default"] == "1" { clearDefault(&config) }
                        config[id] = ordered(section)
                    }
                    return .null
                }),
            Endpoint(
                pve: "DELETE /access/domains/{realm}", description: "Removes a directory realm (its users stay in user.cfg).",
                permission: permission,
                handler: .blocking { context in
                    let id = try context.require("realm")
                    guard !["pam", "pve"].contains(id) else { throw APIError(500, "cannot remove realm '\(id)'") }
                    try modify(access, digest: nil) { config in
                        guard config[id] != nil else { throw APIError(500, "domain '\(id)' does not exist") }
                        config[id] = nil
                        try setPassword(access, id, nil)
                    }
                    return .null
                }),
            Endpoint(
                pve: "POST /access/domains/{realm}/sync",
                description: "Brings the directory's users and groups into user.cfg (or, as a dry run, lists what would change), as a task.",
                returns: .string(), permission: syncPermission,
                handler: .blocking { context in
                    let id = try context.require("realm")
                    let options = try syncOptions(access, realm: id, context.parameters)
                    let upid = try context.services.tasks.start(
                        type: options.dryRun ? "auth-realm-sync-test" : "auth-realm-sync", id: id, user: context.user
                    ) { log in
                        try await BlockingExecutor.shared.run { try access.syncRealm(id, options: options) { log.log($0) } }
                    }
                    return .string(upid.description)
                }),
        ]
    }

    static let syncPermission = Permission.and([
        .privileges(path: "/access/realm/{realm}", ["Realm.AllocateUser"]), .privileges(path: "/access/groups", ["User.Modify"]),
    ])

    static func syncOptions(_ access: AccessControl, realm id: String, _ parameters: [String: JSON]) throws -> RealmSync.Options {
        do {
            return try access.syncOptions(
                realm: id, scope: parameters["scope"]?.plainText, removeVanished: parameters["remove-vanished"]?.plainText,
                enableNew: parameters["enable-new"].map { $0.plainText == "1" || $0.plainText == "true" },
                dryRun: parameters["dry-run"]?.plainText == "1")
        } catch { throw AccessEndpoints.fail(error) }
    }

    static func set(_ context: RequestContext, on section: inout SectionConfig.Section) {
        for (key, value) in context.parameters.sorted(by: { $0.key < $1.key }) where !bookkeeping.contains(key) {
            section[key] = value.plainText
        }
    }

    /// The type's options only, and what each type cannot do without.
    static func check(_ section: SectionConfig.Section) throws {
        var errors: [String: String] = [:]
        let allowed = options[section.type] ?? []
        for key in section.values.keys where !allowed.contains(key) { errors[key] = "not an option of a realm of type '\(section.type)'" }
        if section.type == "ldap" || section.type == "ad" {
            if (section["server1"] ?? "").isEmpty { errors["server1"] = "a directory realm needs a server" }
        }
        if section.type == "ldap" {
            if (section["base_dn"] ?? "").isEmpty { errors["base_dn"] = "an LDAP realm needs a base DN" }
            if (section["user_attr"] ?? "").isEmpty { errors["user_attr"] = "an LDAP realm needs the attribute that holds user names" }
        }
        if section.type == "ad", (section["domain"] ?? "").isEmpty { errors["domain"] = "an Active Directory realm needs its domain" }
        if section.type == "openid" {
            let issuer = section["issuer-url"].flatMap { URLComponents(string: $0) }
            if !["http", "https"].contains(issuer?.scheme ?? "") || issuer?.host == nil {
                errors["issuer-url"] = "an OpenID realm needs its provider's issuer URL (http or https)"
            }
            if (section["client-id"] ?? "").isEmpty { errors["client-id"] = "an OpenID realm needs the client ID the provider gave" }
        }
        if let filter = section["filter"], !filter.isEmpty, !balanced(filter) { errors["filter"] = "not an LDAP filter: '\(filter)'" }
        if !errors.isEmpty { throw APIError.parameters(errors) }
    }

    /// Parentheses that open and close in order (a filter the server would refuse).
    static func balanced(_ filter: String) -> Bool {
        var depth = 0
        var escaped = false
        for c in filter {
            if escaped { escaped = false; continue }
            if c == "\\" { escaped = true } else if c == "(" { depth += 1 } else if c == ")" { depth -= 1; if depth < 0 { return false } }
        }
        return depth == 0
    }

    /// PVE's `check-connection`: the server answers and takes the bind DN's password.
    static func checkConnection(_ section: SectionConfig.Section, password: String?) throws {
        let realm = Realm.parse("\(section.type): \(section.id)\n" + section.options.map { "\t\($0.key) \($0.value ?? "1")\n" }.joined())
            .first { $0.id == section.id }!
        do { try DirectoryLogin.probe(realm: realm, bindPassword: password) } catch {
            throw APIError(400, "cannot reach the realm's directory: \(error)")
        }
    }

    static func setPassword(_ access: AccessControl, _ id: String, _ password: String?) throws {
        let path = "priv/realm/\(id).pw"
        if let password {
            if !access.fs.exists("priv/realm") { try? access.fs.mkdir("priv/realm") }
            try access.fs.write(path, Array(password.utf8))
        } else if access.fs.exists(path) {
            try access.fs.delete(path)
        }
    }

    static func clearDefault(_ config: inout SectionConfig) {
        for i in config.sections.indices { config.sections[i]["default"] = nil }
    }

    /// Options sorted by name, as PVE writes them.
    static func ordered(_ section: SectionConfig.Section) -> SectionConfig.Section {
        var out = SectionConfig.Section(type: section.type, id: section.id, comments: section.comments)
        for (key, value) in section.values.sorted(by: { $0.key < $1.key }) where !value.isEmpty { out.options.append(.init(key, value)) }
        return out
    }

    static func modify(_ access: AccessControl, digest: String?, _ change: (inout SectionConfig) throws -> Void) throws {
        try SectionConfigFile(tree: access.fs, path: file, lock: "domains").modify(digest: digest, change)
    }
}

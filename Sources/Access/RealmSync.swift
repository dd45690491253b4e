import Foundation
import LDAP

/// A directory realm's users and groups brought into user.cfg (PVE's realm sync): read the
/// directory first (no lock held while the server answers), then change user.cfg in one write
/// under its cluster lock, or only report what would change (a dry run). Log lines are PVE's, so
/// scripts that read a sync task's log keep working.
public enum RealmSync {
    /// How a sync treats what it finds.
    public struct Options: Sendable, Equatable {
        /// `users`, `groups` or `both`.
        public var scope: String
        /// Of `acl`, `entry`, `properties`: what goes for users and groups the directory no longer
        /// has (`acl`: their ACL entries, `entry`: the users and groups themselves) and for
        /// properties it no longer gives (`properties`).
        public var removeVanished: Set<String>
        /// New users are enabled (unless the directory says otherwise).
        public var enableNew: Bool
        public var dryRun: Bool

        public init(scope: String, removeVanished: Set<String> = [], enableNew: Bool = true, dryRun: Bool = false) {
            self.scope = scope
            self.removeVanished = removeVanished
            self.enableNew = enableNew
            self.dryRun = dryRun
        }

        var syncsUsers: Bool { scope != "groups" }
        var syncsGroups: Bool { scope != "users" }
        /// As PVE prints it in the log: `acl;entry`, or `none`.
        var removeVanishedText: String {
            removeVanished.isEmpty ? "none" : ["acl", "entry", "properties"].filter(removeVanished.contains).joined(separator: ";")
        }
        var what: String { scope == "both" ? "users and groups" : scope }
    }

    /// The user fields a directory attribute can fill.
    public static let userFields = ["enable", "expire", "firstname", "lastname", "email", "comment", "keys"]

    /// What the directory holds for the realm: users by ID with the fields it gave, groups by ID with
    /// their members, and what was skipped (for the log).
    public struct Directory: Sendable, Equatable {
        public var users: [String: [String: String]] = [:]
        public var groups: [String: [String]] = [:]
        public var warnings: [String] = []
        public init(users: [String: [String: String]] = [:], groups: [String: [String]] = [:], warnings: [String] = []) {
            self.users = users
            self.groups = groups
            self.warnings = warnings
        }
    }

    // MARK: the options

    /// The effective options: a parameter, else the realm's `sync-defaults-options`, else the
    /// default (nothing removed, new users enabled). A scope must come from one of the two.
    public static func options(
        realm: Realm, scope: String?, removeVanished: String?, enableNew: Bool?, dryRun: Bool
    ) throws(AccessError)
        -> Options
    {
        let defaults = defaultsOf(realm)
        guard let scope = scope ?? defaults["scope"] else {
            throw AccessError(
                400, "Parameter verification failed.", errors: ["scope": "Not passed as parameter and not defined in realm default sync options."])
        }
        guard ["users", "groups", "both"].contains(scope) else {
            throw AccessError(400, "Parameter verification failed.", errors: ["scope": "value '\(scope)' is not one of users, groups, both"])
        }
        let vanished = try parseRemoveVanished(removeVanished ?? defaults["remove-vanished"] ?? "none")
        let enable = enableNew ?? defaults["enable-new"].map { $0 == "1" } ?? true
        return Options(scope: scope, removeVanished: vanished, enableNew: enable, dryRun: dryRun)
    }

    /// `sync-defaults-options` as keys and values; the deprecated `full` and `purge` read as the
    /// `remove-vanished` they stand for when that is not given.
    static func defaultsOf(_ realm: Realm) -> [String: String] {
        var out: [String: String] = [:]
        for item in (realm.options["sync-defaults-options"] ?? "").split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 { out[parts[0]] = parts[1] }
        }
        if out["remove-vanished"] == nil {
            var implied: [String] = []
            if out["full"] == "1" { implied += ["entry", "properties"] }
            if out["purge"] == "1" { implied.append("acl") }
            if !implied.isEmpty { out["remove-vanished"] = implied.joined(separator: ";") }
        }
        return out
    }

    static func parseRemoveVanished(_ text: String) throws(AccessError) -> Set<String> {
        if text == "none" || text.isEmpty { return [] }
        let items = text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        for item in items where !["acl", "entry", "properties"].contains(item) {
            throw AccessError(
                400, "Parameter verification failed.", errors: ["remove-vanished": "'\(item)' is not one of acl, entry, properties (or 'none')"])
        }
        return Set(items)
    }

    // MARK: reading the directory

    /// Users and groups as the realm's directory has them. Blocking (many round trips).
    public static func read(realm: Realm, bindPassword: String?, scope: String, timeout: Double = 10) throws -> Directory {
        let o = realm.options
        let (urls, security) = DirectoryLogin.endpoints(realm)
        guard !urls.isEmpty else { throw AccessError(500, "realm '\(realm.id)' names no server") }
        var connection: LDAPConnection?
        var lastError: any Error = AccessError(500, "no server answered")
        for url in urls {
            do {
                let candidate = try LDAPConnection(url: url, security: security, timeout: timeout)
                if let bindDN = o["bind_dn"], !bindDN.isEmpty {
                    guard let bindPassword, !bindPassword.isEmpty else { throw AccessError(500, "missing password for realm \(realm.id)") }
                    do { try candidate.bind(dn: bindDN, password: bindPassword) } catch {
                        throw AccessError(500, "ldap bind failed: \(error.message)")
                    }
                } else {
                    // an anonymous session; libldap binds lazily, the first search shows whether the server answers
                    _ = try candidate.search(base: "", scope: .base, filter: "(objectClass=*)", attributes: ["namingContexts"])
                }
                connection = candidate
                break
            } catch let error as AccessError {
                throw error
            } catch let error as LDAPError {
                lastError = AccessError(500, "\(url): \(error.message)" + (error.detail.map { " (\($0))" } ?? ""))
            } catch {
                lastError = error
            }
        }
        guard let connection else { throw lastError }
        var base = o["base_dn"] ?? ""
        if base.isEmpty, realm.type == "ad" {
            // AD without a base DN: the domain's own, from the root DSE
            base =
                (try? connection.search(base: "", scope: .base, filter: "(objectClass=*)", attributes: ["defaultNamingContext"]))?
                .first?.first("defaultNamingContext") ?? ""
        }
        var directory = Directory()
        let (users, byDN) = try readUsers(connection, realm: realm, base: base, warnings: &directory.warnings)
        directory.users = users
        if scope != "users" { directory.groups = try readGroups(connection, realm: realm, base: base, byDN: byDN, warnings: &directory.warnings) }
        return directory
    }

    /// LDAP attribute by user field: a field of the same name, unless `sync_attributes` maps it.
    static func attributeMap(_ realm: Realm, warnings: inout [String]) -> [String: String] {
        var map = Dictionary(uniqueKeysWithValues: userFields.map { ($0, $0) })
        for item in (realm.options["sync_attributes"] ?? "").split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            guard userFields.contains(parts[0]) else {
                warnings.append("skipping bad 'sync_attributes' entry - '\(parts[0])' is not a valid target attribute")
                continue
            }
            map[parts[0]] = parts[1]
        }
        return map
    }

    static func classFilter(_ list: String?, default fallback: [String]) -> String {
        let classes = list.map { $0.split(whereSeparator: { ", ;".contains($0) }).map(String.init) } ?? fallback
        return "(|" + classes.map { "(objectclass=\($0))" }.joined() + ")"
    }

    static func wrapped(_ filter: String?) -> String {
        guard let filter, !filter.isEmpty else { return "" }
        return filter.hasPrefix("(") ? filter : "(\(filter))"
    }

    static func readUsers(
        _ connection: LDAPConnection, realm: Realm, base: String, warnings: inout [String]
    ) throws -> (
        users: [String: [String: String]], byDN: [String: String]
    ) {
        let o = realm.options
        let nameAttribute = o["user_attr"].flatMap { $0.isEmpty ? nil : $0 } ?? (realm.type == "ad" ? "sAMAccountName" : "uid")
        let map = attributeMap(realm, warnings: &warnings)
        let attributes = [nameAttribute] + userFields.compactMap { map[$0] }
        var seen = Set<String>()
        let unique = attributes.filter { seen.insert($0.lowercased()).inserted }
        let filter =
            "(&" + wrapped(o["filter"]) + "(|" + unique.map { "(\($0)=*)" }.joined() + ")"
            + classFilter(o["user_classes"], default: ["inetorgperson", "posixaccount", "person", "user"]) + ")"
        let entries: [LDAPConnection.Entry]
        do { entries = try connection.search(base: base, filter: filter, attributes: unique + ["memberOf"], pageSize: 900) } catch {
            throw AccessError(500, "ldap user search error: \(error.message)")
        }
        var users: [String: [String: String]] = [:]
        var byDN: [String: String] = [:]
        for entry in entries {
            let id = "\(entry.first(nameAttribute) ?? "")@\(realm.id)"
            if let why = invalidUserID(id) {
                warnings.append(why)
                continue
            }
            var fields: [String: String] = [:]
            for field in userFields {
                guard let attribute = map[field], let value = entry.first(attribute) else { continue }
                if let why = invalidField(field, value) {
                    warnings.append("skipping attribute mapping '\(attribute)'->'\(field)' for user '\(id)' - \(why)")
                    continue
                }
                fields[field] = value
            }
            users[id] = fields
            byDN[entry.dn.lowercased()] = id
        }
        return (users, byDN)
    }

    static func readGroups(
        _ connection: LDAPConnection, realm: Realm, base: String, byDN: [String: String], warnings: inout [String]
    ) throws
        -> [String: [String]]
    {
        let o = realm.options
        let groupBase = o["group_dn"].flatMap { $0.isEmpty ? nil : $0 } ?? base
        let nameAttribute = o["group_name_attr"].flatMap { $0.isEmpty ? nil : $0 }
        let filter =
            "(&" + wrapped(o["group_filter"])
            + classFilter(o["group_classes"], default: ["groupOfNames", "group", "univentionGroup", "ipausergroup"]) + ")"
        let entries: [LDAPConnection.Entry]
        do {
            entries = try connection.search(
                base: groupBase, filter: filter, attributes: ["member", "uniqueMember"] + (nameAttribute.map { [$0] } ?? []), pageSize: 100)
        } catch {
            throw AccessError(500, "ldap group search error: \(error.message)")
        }
        var groups: [String: [String]] = [:]
        for entry in entries {
            let name = nameAttribute.flatMap { entry.first($0) } ?? firstRDNValue(entry.dn)
            let id = "\(name)-\(realm.id)"
            guard !name.isEmpty, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-_".contains($0)) }) else {
                warnings.append("group name '\(id)' contains invalid characters")
                continue
            }
            let values =
                entry.attributes.first { $0.key.caseInsensitiveCompare("member") == .orderedSame }?.value
                ?? entry.attributes.first { $0.key.caseInsensitiveCompare("uniqueMember") == .orderedSame }?.value ?? []
            groups[id] = Set(values.compactMap { byDN[$0.lowercased()] }).sorted()
        }
        return groups
    }

    static func firstRDNValue(_ dn: String) -> String {
        guard let equals = dn.firstIndex(of: "=") else { return "" }
        let rest = dn[dn.index(after: equals)...]
        return String(rest.prefix { $0 != "," }).trimmingCharacters(in: .whitespaces)
    }

    /// Why a synced user ID cannot be one (PVE's checks), or nil.
    static func invalidUserID(_ id: String) -> String? {
        if id.count < 3 { return "user name '\(id)' is too short" }
        if id.count > 64 { return "user name '\(id)' is too long" }
        if id.hasPrefix("@") || id.contains(where: { $0.isWhitespace || $0 == ":" || $0 == "/" }) || !UserConfig.isUserID(id) {
            return "value '\(id)' does not look like a valid user name"
        }
        return nil
    }

    /// Why a directory value cannot go into a user field, or nil.
    static func invalidField(_ field: String, _ value: String) -> String? {
        switch field {
        case "email":
            let parts = value.split(separator: "@", omittingEmptySubsequences: false)
            return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !value.contains(where: { $0.isWhitespace || $0 == ":" })
                ? nil : "value '\(value)' does not look like a valid email address"
        case "keys":
            return value.count <= 4096 && value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "!=".contains($0)) })
                ? nil : "invalid format"
        case "expire": return Int(value).map { $0 >= 0 } == true ? nil : "value '\(value)' is not a non-negative integer"
        case "enable": return ["0", "1"].contains(value) ? nil : "value '\(value)' is not 0 or 1"
        case "comment": return value.count <= 2048 && !value.contains("\n") ? nil : "value may have at most 2048 characters on one line"
        default: return value.count <= 1024 && !value.contains("\n") ? nil : "value may have at most 1024 characters on one line"
        }
    }

    // MARK: applying it

    /// Brings `directory` into `config` as `options` say and returns the log lines (PVE's words,
    /// sorted by ID within each part). Pure: the caller writes the result or not (dry run).
    public static func apply(_ directory: Directory, to config: inout UserConfig, realm: String, options: Options) -> [String] {
        var log: [String] = []
        if options.syncsUsers {
            log.append("syncing users (remove-vanished opts: \(options.removeVanishedText))")
            let vanished = config.users.keys.filter { $0.hasSuffix("@\(realm)") && directory.users[$0] == nil }.sorted()
            if options.removeVanished.contains("entry") { log.append("deleting outdated existing users first") }
            for id in vanished {
                if options.removeVanished.contains("entry") {
                    log.append("remove user '\(id)'")
                    config.users[id] = nil
                    for token in config.tokens.keys where config.tokens[token]?.user == id { config.tokens[token] = nil }
                    for group in config.groups.keys { config.groups[group]?.members.removeAll { $0 == id } }
                }
                if options.removeVanished.contains("acl") {
                    log.append("purge users '\(id)' ACL entries")
                    config.acl.removeAll { $0.ugid == id || $0.ugid.hasPrefix("\(id)!") }
                }
            }
            for (id, fields) in directory.users.sorted(by: { $0.key < $1.key }) {
                var user: UserConfig.User
                if let old = config.users[id] {
                    if options.removeVanished.contains("properties") {
                        log.append("overwriting user '\(id)'")
                        user = UserConfig.User(id: id)
                        user.enable = old.enable
                    } else {
                        log.append("updating user '\(id)'")
                        user = old
                    }
                } else {
                    log.append("adding user '\(id)'")
                    user = UserConfig.User(id: id)
                    user.enable = options.enableNew
                }
                set(fields, on: &user)
                config.users[id] = user
            }
        }
        if options.syncsGroups {
            log.append("syncing groups (remove-vanished opts: \(options.removeVanishedText))")
            let vanished = config.groups.keys.filter { $0.hasSuffix("-\(realm)") && directory.groups[$0] == nil }.sorted()
            if options.removeVanished.contains("entry") { log.append("deleting outdated existing groups first") }
            for id in vanished {
                if options.removeVanished.contains("entry") {
                    log.append("remove group '\(id)'")
                    config.groups[id] = nil
                }
                if options.removeVanished.contains("acl") {
                    log.append("purge groups '\(id)' ACL entries")
                    config.acl.removeAll { $0.ugid == "@\(id)" }
                }
            }
            for (id, members) in directory.groups.sorted(by: { $0.key < $1.key }) {
                var group: UserConfig.Group
                if let old = config.groups[id] {
                    log.append(options.removeVanished.contains("properties") ? "overwriting group '\(id)'" : "updating group '\(id)'")
                    group = options.removeVanished.contains("properties") ? UserConfig.Group(id: id) : old
                } else {
                    log.append("adding group '\(id)'")
                    group = UserConfig.Group(id: id)
                }
                group.members = members
                config.groups[id] = group
            }
        }
        return log
    }

    static func set(_ fields: [String: String], on user: inout UserConfig.User) {
        for (field, value) in fields {
            switch field {
            case "enable": user.enable = value == "1"
            case "expire": user.expire = Int(value) ?? 0
            case "firstname": user.firstname = value
            case "lastname": user.lastname = value
            case "email": user.email = value
            case "comment": user.comment = value
            case "keys": user.keys = value
            default: break
            }
        }
    }
}

import API
import Access
import Blocking
import Foundation
import Schema
import TLS

/// `/access…`: login, realms, users, API tokens, groups, roles, ACLs, passwords and permissions.
/// Parameters and checks are PVE's (compared with ../shared/pve-api by the declaration test).
public enum AccessEndpoints {
    static let userid = Schema.userid
    static let groupid = Schema.string(format: "pve-groupid")
    static let roleid = Schema.string(format: "pve-roleid")
    static let tokenid = Schema.string(pattern: "[A-Za-z][A-Za-z0-9.\\-_]+", description: "The token's ID (the part after '!').")
    static let comment = Schema.string(maxLength: 2048).optional()
    static let tokenSelfOrAdmin: Permission = .or([.selfUser, .useridGroup(["User.Modify"])])

    static func fail(_ error: AccessError) -> APIError { APIError(error.status, error.message, errors: error.errors) }

    public static func all(access: AccessControl) -> [Endpoint] {
        [
            .directory("/access", description: "Access control index."),
            Endpoint(
                .GET, "/access/ticket", name: "get_ticket", description: "Dummy: lets the console check the server is reachable.",
                returns: .null, permission: .world, handler: .sync { _ in .null }),
            login(access),
            Endpoint(
                .GET, "/access/domains", name: "index", description: "The realms one can log in to.",
                returns: .array(of: .object(["realm": .string(), "type": .string(), "comment": .string().optional()], additionalProperties: true)),
                permission: .world, childKey: "realm",
                handler: .sync { _ in
                    .array(
                        access.realms.map { realm in
                            var item: [String: JSON] = ["realm": .string(realm.id), "type": .string(realm.type)]
                            if let comment = realm.comment { item["comment"] = .string(comment) }
                            if realm.isDefault { item["default"] = 1 }
                            if let tfa = realm.options["tfa"] { item["tfa"] = .string(tfa) }
                            return .object(item)
                        })
                }),
            Endpoint(
                pve: "GET /access/domains/{realm}", description: "One realm's configuration.",
                returns: .object(["type": .string(), "digest": .string()], additionalProperties: true),
                permission: .privileges(path: "/access/realm", ["Realm.Allocate", "Sys.Audit"], any: true),
                handler: .sync { context in
                    let id = try context.require("realm")
                    let text = access.domainsText
                    guard let realm = Realm.parse(text).first(where: { $0.id == id }) else {
                        throw APIError(500, "domain '\(id)' does not exist")
                    }
                    var item: [String: JSON] = ["type": .string(realm.type), "digest": .string(Digest.sha1Hex(Array(text.utf8)))]
                    for (key, value) in realm.options {
                        item[key] = key == "default" || key == "secure" || key == "verify" ? JSON(Int(value) ?? 0) : .string(value)
                    }
                    return .object(item)
                }),
            Endpoint(
                .GET, "/access/permissions", name: "permissions",
                description: "Privileges of the caller, or of a user or token the caller may inspect, by path.",
                parameters: ["userid": Schema.string().optional(), "path": Schema.string().optional()],
                returns: .object([:], additionalProperties: true), permission: .anyUser,
                handler: .sync { context in try permissions(access, context) }),
        ] + users(access) + tokens(access) + groups(access) + roles(access) + acl(access) + PoolEndpoints.all(access: access)
            + TFAEndpoints.all(access: access) + RealmEndpoints.all(access: access) + OpenIDEndpoints.all(access: access)
    }

    // MARK: login

    static func login(_ access: AccessControl) -> Endpoint {
        Endpoint(
            .POST, "/access/ticket", name: "create_ticket",
            description: "Log in: checks the password (or renews a valid ticket given as the password) and returns a ticket and a CSRF token.",
            parameters: [
                "username": Schema.string(maxLength: 64),
                "password": Schema.string(),
                "realm": Schema.string(format: "pve-realm").optional(),
                "otp": Schema.string().optional(),
                "tfa-challenge": Schema.string().optional(),
                "path": Schema.string(maxLength: 64).optional(),
                "privs": Schema.string(format: "pve-priv-list", maxLength: 64).optional(),
                "new-format": Schema.boolean().defaulting(to: true),
            ],
            returns: .object(
                [
                    "username": .string(), "ticket": .string().optional(), "CSRFPreventionToken": .string().optional(),
                    "cap": .object([:], additionalProperties: true).optional(),
                ], additionalProperties: true),
            permission: .world, protected: true, allowToken: false,
            handler: .async { context in
                let started = Date()
                do {
                    return try await BlockingExecutor.shared.run { try loginNow(access, context) }
                } catch {
                    // a failed login is answered after 3 s, without holding up anyone else
                    let wait = 3 - Date().timeIntervalSince(started)
                    if wait > 0 { try? await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
                    throw APIError(401, "authentication failure")
                }
            })
    }

    static func loginNow(_ access: AccessControl, _ context: RequestContext) throws -> JSON {
        var user = try context.require("username")
        if let realm = context.string("realm"), !user.hasSuffix("@" + realm) { user += "@" + realm }
        guard UserConfig.isUserID(user) else { throw AccessError.authenticationFailure }
        user = try access.storedUserID(user)
        let password = try context.require("password")
        let address = context.remoteAddress
        func throttled(_ body: () throws -> Void) throws {
            guard access.throttle.allows(user: user, address: address, now: access.now) else {
                throw AccessError(401, "too many failed logins for \(user) or from \(address); try again later")
            }
            do {
                try body()
                access.throttle.succeeded(user: user)
            } catch {
                access.throttle.failed(user: user, address: address, now: access.now)
                throw error
            }
        }
        if let challenge = context.string("tfa-challenge") {
            // the second step: the password field carries the second factor's answer
            try throttled { try access.completeTFA(user: user, challenge: challenge, response: password) }
        } else if password.hasPrefix("PVE:") {
            // renewal: a valid ticket of this user (root's tickets may renew anyone's)
            guard let owner = access.verifyTicket(password), owner == user || owner == "root@pam" else { throw AccessError.authenticationFailure }
        } else {
            try throttled { try access.checkPassword(user: user, password: password) }
            if let partial = try access.tfaChallenge(for: user) {
                guard let otp = context.string("otp") else {
                    return ["username": .string(user), "ticket": .string(partial), "NeedTFA": 1]
                }
                try throttled { try access.completeTFA(user: user, challenge: partial, response: otp.contains(":") ? otp : "totp:" + otp) }
            }
        }
        if let path = context.string("path"), let privs = context.string("privs") {
            // verify-only mode: does the user hold these privileges there?
            let wanted = Formats.splitList(privs)
            guard let identity = Identity(user), access.evaluator.has(identity, wanted, on: path) else { throw AccessError.authenticationFailure }
            return ["username": .string(user)]
        }
        let (ticket, csrf) = try access.issueTicket(for: user)
        let cap = access.capabilities(.user(user)).mapValues { JSON.object($0.mapValues { JSON($0) }) }
        return ["username": .string(user), "ticket": .string(ticket), "CSRFPreventionToken": .string(csrf), "cap": .object(cap)]
    }

    static func permissions(_ access: AccessControl, _ context: RequestContext) throws -> JSON {
        let e = access.evaluator
        let target = context.string("userid") ?? context.user
        if target != context.user {
            // inspecting someone else needs Sys.Audit on /access, or the target is one of the caller's tokens
            let own = target.hasPrefix(context.user + "!")
            guard own || context.has(["Sys.Audit"], on: "/access") else {
                throw APIError(403, "Permission check failed (/access, Sys.Audit)")
            }
        }
        guard let identity = Identity(target) else { throw APIError.parameters(["userid": "invalid user or token id"]) }
        let paths =
            context.string("path").map { [$0] }
            ?? Array(Set(["/", "/access", "/access/groups", "/nodes", "/storage", "/vms", "/sdn", "/mapping"] + e.config.acl.map(\.path)))
        var out: [String: JSON] = [:]
        for path in paths.sorted() {
            let privileges = e.privileges(identity, on: path)
            if !privileges.isEmpty { out[path] = .object(Dictionary(uniqueKeysWithValues: privileges.map { ($0, JSON(1)) })) }
        }
        return .object(out)
    }
}

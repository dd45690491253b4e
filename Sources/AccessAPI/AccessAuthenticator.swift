import API
import Access
import Foundation
import Schema

/// The authenticate step for HTTP callers: a ticket (the `PVEAuthCookie` cookie, or the same in the
/// Authorization header) with a CSRF token on every non-GET call, or an API token
/// (`Authorization: PVEAPIToken=user@realm!id=secret`, no CSRF). `world` endpoints also run for
/// callers without valid credentials.
public struct AccessAuthenticator: Authenticator {
    let access: AccessControl

    public init(access: AccessControl) { self.access = access }

    public func authenticate(_ credentials: Credentials, endpoint: Endpoint, method: HTTPMethodName) throws(APIError) -> Caller {
        let open = endpoint.permission == .world
        if let header = credentials.authorization, header.hasPrefix(AccessControl.joinTokenScheme + " ") {
            // a joining node adds itself with a one-time token instead of root's password
            guard endpoint.method == .POST, endpoint.path == "/cluster/config/nodes/{node}",
                access.consumeJoinToken(String(header.dropFirst(AccessControl.joinTokenScheme.count + 1)))
            else { throw APIError(401, "authentication failure (the join token is unknown, expired or used)") }
            return Caller(user: "root@pam")
        }
        if let user = credentials.proxiedUser {
            // a member forwards a call it authenticated; only members hold the key that proves it
            guard let proof = credentials.proxyProof,
                access.verifyProxyProof(proof, user: user, method: method.rawValue, path: credentials.requestLine)
            else { throw APIError(401, "authentication failure (invalid proxy proof)") }
            return user.isEmpty ? .anonymous : Caller(user: user)
        }
        var ticket = credentials.ticketCookie
        if ticket == nil, let header = credentials.authorization, let range = header.range(of: "PVEAuthCookie=") {
            ticket = String(header[range.upperBound...].prefix { $0 != ";" && $0 != " " })
        }
        if let ticket {
            guard let user = access.verifyTicket(cookie: ticket) else {
                if open { return .anonymous }
                throw APIError(401, "authentication failure")
            }
            if method != .GET && !open {
                guard let token = credentials.csrfToken, access.verifyCSRF(token, user: user) else {
                    throw APIError(401, "Permission denied - invalid csrf token")
                }
            }
            return Caller(user: user)
        }
        if let header = credentials.authorization, header.contains("PVEAPIToken") {
            guard let identity = access.verifyAPIToken(header) else {
                if open { return .anonymous }
                throw APIError(401, "authentication failure")
            }
            guard endpoint.allowToken else {
                throw APIError(403, "Permission check failed (URI '\(endpoint.path)' not available with API token, need proper ticket.)")
            }
            return Caller(user: identity.name)
        }
        if open { return .anonymous }
        throw APIError(401, "No ticket")
    }
}

/// The authorize step: each endpoint's declared check, evaluated on the ACLs (PVE's rules, see
/// PermissionEvaluator). root@pam passes everything.
public struct AccessAuthorizer: Authorizer {
    let access: AccessControl

    public init(access: AccessControl) { self.access = access }

    /// The cookie's ticket, percent-decoded on its UTF-8 bytes (Foundation's decoding goes through
    /// UTF-16 and costs more than the rest of authentication).
    static func percentDecoded(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var rest = text.utf8[...]
        while let byte = rest.popFirst() {
            if byte == UInt8(ascii: "%"), rest.count >= 2, let value = UInt8(String(decoding: rest.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                rest = rest.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func authorize(_ caller: Caller, _ permission: Permission, parameters: [String: JSON]) -> Bool {
        if permission == .world { return true }
        // the answers that need neither the parsed identity nor the ACLs come first: they are most calls
        if caller.user.isEmpty { return false }
        if caller.user == "root@pam" || permission == .anyUser { return true }
        guard let identity = Identity(caller.user) else { return false }
        return check(identity, permission, parameters, access.evaluator)
    }

    /// Checks for one request from one snapshot of the access configuration, paths taken as given
    /// (they are the handler's own, with nothing to expand).
    public func checker(_ caller: Caller) -> @Sendable ([String], String, Bool) -> Bool {
        guard !caller.user.isEmpty, let identity = Identity(caller.user) else { return { _, _, _ in false } }
        if caller.user == "root@pam" { return { _, _, _ in true } }
        let evaluator = access.evaluator
        return { privileges, path, any in
            // handlers' own paths are normal already; only an odd one is normalised
            let clean = Self.isNormal(path) ? path : UserConfig.normalizePath(path) ?? path
            return evaluator.has(identity, privileges, on: clean, any: any)
        }
    }

    /// A path with a leading slash and no empty, `.` or `..` parts and no trailing slash (by bytes:
    /// Foundation's substring search was a tenth of a thousand-row list).
    static func isNormal(_ path: String) -> Bool {
        var previous: UInt8 = 0
        for byte in path.utf8 {
            if previous == UInt8(ascii: "/") && (byte == UInt8(ascii: "/") || byte == UInt8(ascii: ".")) { return false }
            previous = byte
        }
        return path.utf8.first == UInt8(ascii: "/") && (path == "/" || previous != UInt8(ascii: "/"))
    }

    /// The check that failed, as PVE names it in "Permission check failed (PATH, PRIV)": the first
    /// privilege missing of an all-of check, the list joined by `|` of an any-of check.
    public func denial(_ caller: Caller, _ permission: Permission, parameters: [String: JSON]) -> String? {
        guard let identity = Identity(caller.user) else { return nil }
        let e = access.evaluator
        switch permission {
        case .privileges(let path, let privileges, let any):
            let on = Self.expand(path, parameters)
            if any { return "\(on), \(privileges.joined(separator: "|"))" }
            return privileges.first { !e.has(identity, [$0], on: on) }.map { "\(on), \($0)" }
        case .privilegesIfParameter(let path, let privileges, _):
            let on = Self.expand(path, parameters)
            return privileges.first { !e.has(identity, [$0], on: on) }.map { "\(on), \($0)" }
        case .and(let parts):
            return parts.first { !check(identity, $0, parameters, e) }.flatMap { denial(caller, $0, parameters: parameters) }
        case .or(let parts):
            return parts.first.flatMap { denial(caller, $0, parameters: parameters) }
        default:
            return nil
        }
    }

    /// `{name}` in a path is replaced by that parameter, `-` when it is absent (as PVE does).
    static func expand(_ template: String, _ parameters: [String: JSON]) -> String {
        var out = "", name: String?
        for ch in template {
            if ch == "{" {
                name = ""
            } else if ch == "}", let n = name {
                let value = parameters[n]?.plainText ?? ""
                out += value.isEmpty || value == "0" ? "-" : value
                name = nil
            } else if name != nil {
                name!.append(ch)
            } else {
                out.append(ch)
            }
        }
        return UserConfig.normalizePath(out) ?? out
    }

    func check(_ identity: Identity, _ permission: Permission, _ parameters: [String: JSON], _ e: PermissionEvaluator) -> Bool {
        switch permission {
        case .world, .anyUser: return true
        case .rootOnly: return false
        case .privileges(let path, let privileges, let any):
            return e.has(identity, privileges, on: Self.expand(path, parameters), any: any)
        case .privilegesIfParameter(let path, let privileges, let parameter):
            guard let value = parameters[parameter]?.plainText, !value.isEmpty else { return false }
            return e.has(identity, privileges, on: Self.expand(path, parameters))
        case .selfUser:
            guard case .user(let user) = identity, let target = parameters["userid"]?.plainText else { return false }
            return target == user && e.config.users[target] != nil
        case .useridRealm(let privilege):
            guard let target = parameters["userid"]?.plainText, let at = target.lastIndex(of: "@") else { return false }
            return e.has(identity, [privilege], on: "/access/realm/" + target[target.index(after: at)...])
        case .useridGroup(let privileges, let groupsParam):
            let target = parameters["userid"]?.plainText ?? ""
            // who may act on every group may ask about any user, existing or not (the handler answers)
            if e.has(identity, privileges, on: "/access/groups", any: true) { return true }
            if groupsParam != "create", e.config.users[target] == nil { return false }
            let allowed = Set(e.config.groups.keys.filter { e.has(identity, privileges, on: "/access/groups/" + $0, any: true) })
            if groupsParam != nil {
                let requested = Formats.splitList(parameters["groups"]?.plainText ?? "")
                guard !requested.isEmpty, Set(requested).isSubset(of: allowed) else { return false }
            }
            return groupsParam == "create" || !Set(e.config.groups(of: target)).isDisjoint(with: allowed)
        case .permModify(let template):
            let path = Self.expand(template, parameters)
            var privileges = ["Permissions.Modify"]
            if path.hasPrefix("/storage/") { privileges.append("Datastore.Allocate") }
            if path.hasPrefix("/vms/") { privileges.append("VM.Allocate") }
            if path.hasPrefix("/pool/") { privileges.append("Pool.Allocate") }
            return e.has(identity, privileges, on: path, any: true)
        case .and(let parts): return parts.allSatisfy { check(identity, $0, parameters, e) }
        case .or(let parts): return parts.contains { check(identity, $0, parameters, e) }
        }
    }
}

import Foundation
import LDAP

/// Password checks of `ldap` and `ad` realms against their directory servers (PVE's options of
/// `domains.cfg`): `server1`, falling back to `server2`; `mode` ldap, ldaps or ldap+starttls (or
/// the older `secure 1`); `port`; `verify` and `capath` for the server's certificate.
/// - ldap: with a `bind_dn` (its password in `priv/realm/<realm>.pw`) the user is searched by
///   `user_attr` (default `uid`) below `base_dn`, narrowed by `filter`; without one the search is
///   anonymous and, if that finds nothing, `user_attr=<name>,base_dn` is tried. Then a bind as the
///   user's DN with the password decides.
/// - ad: with a `bind_dn`, as ldap but by `sAMAccountName` unless `user_attr` says otherwise; without
///   one, a bind as `<name>@<domain>` (a user principal name) decides, as Active Directory takes it.
/// Blocking (network round trips, each within `timeout`): callers run it on the blocking executor.
public enum DirectoryLogin {
    struct Failure: Error {
        let message: String
        /// The directory refused the password (not: unreachable, misconfigured).
        let wrongPassword: Bool
    }

    static func check(realm: Realm, username: String, password: String, bindPassword: String?, timeout: Double = 5) throws {
        let o = realm.options
        let (urls, security) = endpoints(realm)
        guard !urls.isEmpty else { throw Failure(message: "realm '\(realm.id)' names no server", wrongPassword: false) }
        var lastError = "no server answered"
        for url in urls {
            do {
                let connection = try LDAPConnection(url: url, security: security, timeout: timeout)
                if realm.type == "ad", (o["bind_dn"] ?? "").isEmpty {
                    let principal = username.contains("@") ? username : "\(username)@\(o["domain"] ?? "")"
                    try connection.bind(dn: principal, password: password)
                    return
                }
                let dn = try userDN(connection, realm: realm, username: username, bindPassword: bindPassword)
                try connection.bind(dn: dn, password: password)
                return
            } catch {
                if let failure = error as? Failure { throw failure }
                if let ldap = error as? LDAPError, ldap.isInvalidCredentials { throw Failure(message: "invalid credentials", wrongPassword: true) }
                lastError = "\(error)"
            }
        }
        throw Failure(message: lastError, wrongPassword: false)
    }

    /// The realm's server URLs in order (`server1`, `server2`) and how to secure them.
    static func endpoints(_ realm: Realm) -> (urls: [String], security: LDAPConnection.Security) {
        let o = realm.options
        let mode = o["mode"] ?? (o["secure"] == "1" ? "ldaps" : "ldap")
        let port = o["port"] ?? (mode == "ldaps" ? "636" : "389")
        let urls = [o["server1"], o["server2"]].compactMap { $0 }.filter { !$0.isEmpty }.map { server in
            let host = server.contains(":") && !server.hasPrefix("[") ? "[\(server)]" : server
            return "\(mode == "ldaps" ? "ldaps" : "ldap")://\(host):\(port)"
        }
        return (urls, LDAPConnection.Security(startTLS: mode == "ldap+starttls", verify: o["verify"] == "1", caFile: o["capath"]))
    }

    /// The realm's servers answer (the first that does) and take its bind DN, if it has one: what
    /// `check-connection` asks before a realm is stored.
    public static func probe(realm: Realm, bindPassword: String?, timeout: Double = 5) throws {
        let o = realm.options
        let (urls, security) = endpoints(realm)
        var lastError: any Error = Failure(message: "realm '\(realm.id)' names no server", wrongPassword: false)
        for url in urls {
            do {
                let connection = try LDAPConnection(url: url, security: security, timeout: timeout)
                if let bindDN = o["bind_dn"], !bindDN.isEmpty {
                    try connection.bind(dn: bindDN, password: bindPassword ?? "")
                } else {
                    _ = try connection.search(base: "", scope: .base, filter: "(objectClass=*)", attributes: ["namingContexts"])
                }
                return
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// The user's entry: searched (as `bind_dn`, or anonymously), or built from `user_attr` and `base_dn`.
    static func userDN(_ connection: LDAPConnection, realm: Realm, username: String, bindPassword: String?) throws -> String {
        let o = realm.options
        let attribute = o["user_attr"] ?? (realm.type == "ad" ? "sAMAccountName" : "uid")
        let base = o["base_dn"] ?? ""
        if let bindDN = o["bind_dn"], !bindDN.isEmpty {
            do { try connection.bind(dn: bindDN, password: bindPassword ?? "") } catch {
                // the realm's own credentials are wrong: the administrator's problem, not the user's password
                throw Failure(message: "the realm's bind DN '\(bindDN)' was refused: \(error)", wrongPassword: false)
            }
        }
        var filter = "(\(attribute)=\(LDAPConnection.escapeFilterValue(username)))"
        if let extra = o["filter"], !extra.isEmpty { filter = "(&\(filter)\(extra.hasPrefix("(") ? extra : "(\(extra))"))" }
        do {
            let found = try connection.search(base: base, filter: filter, attributes: ["dn"], sizeLimit: 2)
            if found.count == 1 { return found[0].dn }
            if found.count > 1 { throw Failure(message: "more than one entry matches user '\(username)'", wrongPassword: false) }
            if o["bind_dn"] != nil { throw Failure(message: "user '\(username)' not found", wrongPassword: true) }
        } catch {
            if error is Failure { throw error }
            // a filter the server cannot parse is the realm's mistake: say so
            if let ldap = error as? LDAPError, ldap.code == -7 /* LDAP_FILTER_ERROR */ {
                throw Failure(message: "bad search filter: \(ldap.message)", wrongPassword: false)
            }
            if o["bind_dn"] != nil { throw error }
        }
        return "\(attribute)=\(username),\(base)"
    }
}

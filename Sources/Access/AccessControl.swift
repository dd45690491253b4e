import ClusterFS
import Crypt
import Errors
import Foundation
import PAM
import Synchronization
import TLS

/// Users, realms, keys, logins and credentials, kept in the cluster filesystem in PVE's files:
/// `user.cfg`, `domains.cfg`, `priv/shadow.cfg`, `priv/token.cfg`, `authkey.pub` (+ `.old`),
/// `priv/authkey.key`, `pve-www.key`. Parsed configuration is cached by file version.
public final class AccessControl: @unchecked Sendable {
    public let fs: any ConfigTree
    let pam: PAMAuthenticator
    /// Seconds since the epoch; injectable so tests can move time.
    let clock: @Sendable () -> Int
    private let cache = Mutex<(tree: UInt64?, version: UInt64, evaluator: PermissionEvaluator)?>(nil)
    /// Tickets whose signature was checked, with their issue time: an RSA verification per request
    /// would cost more than the request. Expiry and the user's state are still checked every time.
    private let verified = Mutex(VerifiedTickets())

    public init(fs: any ConfigTree, pamService: String = "corral-auth", clock: @escaping @Sendable () -> Int = { Int(time(nil)) }) {
        self.fs = fs
        pam = PAMAuthenticator(service: pamService)
        self.clock = clock
    }

    public var now: Int { clock() }
    public let throttle = LoginThrottle()
    /// WebAuthn challenges handed out and not yet answered (this node's, as PVE keeps them in /run).
    let webAuthnChallenges = WebAuthnChallenges()
    /// OpenID Connect logins under way and the providers' documents.
    public let openID = OpenID()

    // MARK: configuration

    private func version(_ path: String) -> UInt64 { (try? fs.stamp(path).version) ?? 0 }

    /// The parsed user.cfg and its evaluator, re-read only when the file changed.
    /// Asked twice on every request: while nothing in the tree changed, not even the file is looked up.
    public var evaluator: PermissionEvaluator {
        let tree = fs.treeVersion
        let cached = cache.withLock { $0 }
        if let cached, let tree, cached.tree == tree { return cached.evaluator }
        let v = version("user.cfg")
        if let cached, cached.version == v, v != 0 {
            cache.withLock { $0 = (tree, v, cached.evaluator) }
            return cached.evaluator
        }
        let evaluator = PermissionEvaluator(UserConfig.parse((try? fs.readString("user.cfg")) ?? ""))
        cache.withLock { $0 = (tree, v, evaluator) }
        return evaluator
    }

    public var userConfig: UserConfig { evaluator.config }

    /// Changes user.cfg under the cluster lock `user_cfg`, so concurrent changes on any node serialise.
    public func updateUserConfig<T>(_ body: (inout UserConfig) throws -> T) throws -> T {
        try withLock("user_cfg") {
            var config = UserConfig.parse((try? fs.readString("user.cfg")) ?? "")
            let result = try body(&config)
            try fs.write("user.cfg", Array(config.serialized().utf8))
            return result
        }
    }

    public var realms: [Realm] { Realm.parse(domainsText) }
    /// `domains.cfg` as stored (its digest is what PVE's realm calls report).
    public var domainsText: String { (try? fs.readString("domains.cfg")) ?? "" }

    func withLock<T>(_ name: String, _ body: () throws -> T) throws -> T { try fs.withLock(name, body) }

    // MARK: keys

    /// Makes the ticket key and the CSRF secret if they are missing (needs quorum in a cluster).
    public func ensureKeys() throws {
        if !fs.exists("authkey.pub") || !fs.exists("priv/authkey.key") {
            try withLock("authkey") {
                guard !fs.exists("authkey.pub") || !fs.exists("priv/authkey.key") else { return }
                let key = try RSAKey.generate()
                try fs.write("priv/authkey.key", Array(key.privatePEM.utf8))
                try fs.write("authkey.pub", Array(key.publicPEM.utf8), mtime: UInt32(now))
            }
        }
        if !fs.exists("pve-www.key") {
            try withLock("authkey") {
                guard !fs.exists("pve-www.key") else { return }
                try fs.write("pve-www.key", Array(try RSAKey.generate().privatePEM.utf8))
            }
        }
        try ensureProxyKey()
    }

    /// The current key (its creation time is authkey.pub's mtime) and the previous public key.
    public func ticketKeys() throws -> TicketKeys {
        let key = try RSAKey(privatePEM: fs.readString("priv/authkey.key"))
        let created = Int(try fs.stamp("authkey.pub").mtime)
        let old = try? fs.readString("authkey.pub.old")
        return TicketKeys(
            current: key, currentCreated: created, previousPublicPEM: old,
            previousCreated: old == nil ? nil : Int((try? fs.stamp("authkey.pub.old").mtime) ?? 0))
    }

    /// Rotates the ticket key once it is a day old (or its time is implausibly far ahead), keeping
    /// the old public key so tickets issued under it stay valid for their lifetime. Needs quorum;
    /// without it the current key goes on serving.
    func rotateKeyIfDue() {
        guard let created = try? Int(fs.stamp("authkey.pub").mtime) else { return }
        let age = now - created
        guard age >= Ticket.keyLifetime || age < -Ticket.skew else { return }
        try? withLock("authkey") {
            guard let again = try? Int(fs.stamp("authkey.pub").mtime), now - again >= Ticket.keyLifetime || now - again < -Ticket.skew else { return }
            let oldPublic = try fs.read("authkey.pub")
            let key = try RSAKey.generate()
            try fs.write("authkey.pub.old", oldPublic, mtime: UInt32(now))
            try fs.write("priv/authkey.key", Array(key.privatePEM.utf8))
            try fs.write("authkey.pub", Array(key.publicPEM.utf8), mtime: UInt32(now))
        }
    }

    public func csrfKeyFile() throws -> [UInt8] { try fs.read("pve-www.key") }

    // MARK: users and passwords

    /// Whether `user` may log in at all: listed (root@pam always is), enabled, not expired.
    func checkUsable(_ user: String, _ config: UserConfig) throws(AccessError) {
        guard let entry = config.users[user] else { throw AccessError(401, "no such user ('\(user)')") }
        guard entry.enable else { throw AccessError(401, "user '\(user)' is disabled") }
        guard entry.expire == 0 || entry.expire > now else { throw AccessError(401, "account '\(user)' expired") }
    }

    static func split(_ userid: String) -> (name: String, realm: String)? {
        guard let at = userid.lastIndex(of: "@") else { return nil }
        return (String(userid[..<at]), String(userid[userid.index(after: at)...]))
    }

    /// The user ID as user.cfg spells it: a realm with `case-sensitive 0` (a directory that does not
    /// tell `Alice` from `alice`) matches its users' names regardless of case, so the ticket names the
    /// stored user; two stored spellings that both match are refused rather than guessed between.
    public func storedUserID(_ user: String) throws(AccessError) -> String {
        guard let (name, realm) = Self.split(user), realms.first(where: { $0.id == realm })?.options["case-sensitive"] == "0" else {
            return user
        }
        let config = userConfig
        if config.users[user] != nil { return user }
        let matches = config.users.keys.filter { id in
            Self.split(id).map { $0.realm == realm && $0.name.lowercased() == name.lowercased() } ?? false
        }
        guard matches.count <= 1 else {
            Self.log("login of \(user): ambiguous case insensitive match of username '\(user)', cannot safely grant access")
            throw AccessError.authenticationFailure
        }
        return matches.first ?? user
    }

    /// Checks a password in the user's realm: PAM for `pam`, priv/shadow.cfg for `pve`, a bind to
    /// the directory server for `ldap` and `ad` (the user must be in user.cfg, added or synced, as PVE
    /// has it).
    public func checkPassword(user: String, password: String) throws(AccessError) {
        try checkUsable(user, userConfig)
        guard let (name, realm) = Self.split(user), let entry = realms.first(where: { $0.id == realm }) else {
            throw AccessError(401, "no such realm")
        }
        switch entry.type {
        case "ldap", "ad":
            do {
                try DirectoryLogin.check(realm: entry, username: name, password: password, bindPassword: realmPassword(realm))
            } catch let failure as DirectoryLogin.Failure {
                // the caller learns only that it failed; why (a server down, a bad filter) is for the log
                if !failure.wrongPassword { Self.log("login of \(user): realm \(realm): \(failure.message)") }
                throw AccessError(401, failure.wrongPassword ? "invalid credentials" : "authentication failure")
            } catch {
                Self.log("login of \(user): realm \(realm): \(error)")
                throw AccessError(401, "authentication failure")
            }
        case "pam":
            do { try pam.authenticate(user: name, password: password) } catch {
                throw AccessError(401, "PAM: \(error.description)")
            }
        case "pve":
            guard let hash = shadow()[name], PasswordHash.verify(password, against: hash) else {
                throw AccessError(401, "invalid credentials")
            }
        default:
            throw AccessError(401, "realm type '\(entry.type)' is not supported yet")
        }
    }

    /// A directory realm's bind password (`priv/realm/<realm>.pw`, PVE's place), if it has one.
    public func realmPassword(_ realm: String) -> String? {
        guard let text = try? fs.readString("priv/realm/\(realm).pw") else { return nil }
        let trimmed = text.trimmingCharacters(in: .newlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The daemon's log (its standard error): why a directory login failed other than by a wrong password.
    static func log(_ line: String) { FileHandle.standardError.write(Data("corrald: \(line)\n".utf8)) }

    func shadow() -> [String: String] {
        var out: [String: String] = [:]
        for line in ((try? fs.readString("priv/shadow.cfg")) ?? "").split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count >= 2, !fields[0].isEmpty { out[String(fields[0])] = String(fields[1]) }
        }
        return out
    }

    /// Sets a password: pve-realm users in priv/shadow.cfg (yescrypt); pam users through `chpasswd`
    /// is left to the system administrator.
    public func setPassword(user: String, password: String) throws(AccessError) {
        guard password.count >= 8, password.count <= 64 else {
            throw AccessError(400, "Parameter verification failed.", errors: ["password": "the password must be 8 to 64 characters long"])
        }
        guard let (name, realm) = Self.split(user), realms.first(where: { $0.id == realm })?.type == "pve" else {
            throw AccessError(400, "only users of a pve realm have their password here; change a PAM user's password on the system")
        }
        do {
            let hash = try PasswordHash.make(password)
            try withLock("user_cfg") {
                var entries = shadow()
                entries[name] = hash
                let text = entries.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value):\n" }.joined()
                try fs.write("priv/shadow.cfg", Array(text.utf8))
            }
        } catch let error as AccessError {
            throw error
        } catch let error as any CorralError {
            // a busy lock or a lost quorum keeps its status (503), only the type changes
            throw AccessError(error.code.status, error.message, cause: error)
        } catch {
            throw AccessError(500, "cannot store the password: \(error)", cause: error)
        }
    }

    // MARK: tickets

    /// A new ticket and CSRF token for `user`.
    public func issueTicket(for user: String) throws -> (ticket: String, csrf: String) {
        rotateKeyIfDue()
        let time = now
        let ticket = try Ticket.assemble(data: user, time: time, key: ticketKeys().current)
        return (ticket, CSRFToken.make(keyFile: try csrfKeyFile(), user: user, time: time))
    }

    /// The user a ticket was issued to, if it is valid now and the user may still log in.
    public func verifyTicket(_ ticket: String) -> String? { verifyTicket(cachedAs: ticket) { ticket } }

    /// A ticket as the cookie carries it (percent-encoded): a ticket seen before is not decoded again.
    public func verifyTicket(cookie: String) -> String? { verifyTicket(cachedAs: cookie) { UserConfig.decodeText(cookie) } }

    private func verifyTicket(cachedAs key: String, _ decoded: () -> String) -> String? {
        let now = self.now
        if let hit = verified.withLock({ $0.lookup(key) }) {
            let age = now - hit.time
            guard age > -Ticket.skew, age < Ticket.lifetime, (try? checkUsable(hit.user, evaluator.tables.config)) != nil else { return nil }
            return hit.user
        }
        guard let keys = try? ticketKeys(), let (user, time) = Ticket.verify(decoded(), keys: keys, now: now),
            !user.hasPrefix("!"), UserConfig.isUserID(user), (try? checkUsable(user, userConfig)) != nil
        else { return nil }
        verified.withLock { $0.remember(key, user: user, time: time) }
        return user
    }

    public func verifyCSRF(_ token: String, user: String) -> Bool {
        guard let key = try? csrfKeyFile() else { return false }
        return CSRFToken.verify(token, keyFile: key, user: user, now: now)
    }

    // MARK: API tokens

    /// priv/token.cfg: `user@realm!id value` lines; the value is `sha256:<hex>` of the secret
    /// (PVE's plain secrets are still accepted).
    func tokenSecrets() -> [String: String] {
        var out: [String: String] = [:]
        for line in ((try? fs.readString("priv/token.cfg")) ?? "").split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { out[String(parts[0])] = String(parts[1]) }
        }
        return out
    }

    func writeTokenSecrets(_ secrets: [String: String]) throws {
        try fs.write("priv/token.cfg", Array(secrets.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined().utf8))
    }

    static func hashSecret(_ secret: String) -> String { "sha256:" + Digest.hex(Digest.sha256(Array(secret.utf8))) }

    /// Verifies `PVEAPIToken=user@realm!id=secret` (or with a space after the name).
    public func verifyAPIToken(_ header: String) -> Identity? {
        guard let start = header.range(of: "PVEAPIToken") else { return nil }
        var value = header[start.upperBound...].drop { $0 == "=" || $0 == " " }
        if let semicolon = value.firstIndex(of: ";") { value = value[..<semicolon] }
        guard let equals = value.lastIndex(of: "=") else { return nil }
        let id = String(value[..<equals]), secret = String(value[value.index(after: equals)...])
        guard let bang = id.firstIndex(of: "!") else { return nil }
        let user = String(id[..<bang])
        let config = userConfig
        guard (try? checkUsable(user, config)) != nil, let token = config.tokens[id], token.expire == 0 || token.expire > now,
            let stored = tokenSecrets()[id]
        else { return nil }
        let expected = Array((stored.hasPrefix("sha256:") ? Self.hashSecret(secret) : secret).utf8), given = Array(stored.utf8)
        guard expected.count == given.count, zip(expected, given).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0 else { return nil }
        return .token(user: user, id: id)
    }

    /// Creates a token and returns its secret (shown once; only its hash is stored).
    public func createToken(_ token: UserConfig.Token) throws -> String {
        let secret = UUID().uuidString.lowercased()
        try updateUserConfig { config in
            guard config.users[token.user] != nil else { throw AccessError(400, "no such user ('\(token.user)')") }
            guard config.tokens[token.id] == nil else { throw AccessError(400, "Token already exists.") }
            config.tokens[token.id] = token
            var secrets = tokenSecrets()
            secrets[token.id] = Self.hashSecret(secret)
            try writeTokenSecrets(secrets)
        }
        return secret
    }

    public func removeTokenSecret(_ id: String) throws {
        var secrets = tokenSecrets()
        guard secrets.removeValue(forKey: id) != nil else { return }
        try writeTokenSecrets(secrets)
    }

    // MARK: second factors

    public var tfa: TFAConfig { TFAConfig.parse((try? fs.read("priv/tfa.cfg")) ?? []) }

    public func updateTFA<T>(_ body: (inout TFAConfig) throws -> T) throws -> T {
        try withLock("tfa_cfg") {
            var config = tfa
            let result = try body(&config)
            try fs.write("priv/tfa.cfg", config.serialized())
            return result
        }
    }

    /// The partial ticket of the first login step: it names which factors the user has and is
    /// bound to the user, but opens nothing.
    public func tfaChallenge(for user: String) throws -> String? {
        guard let entry = tfa.users[user], entry.hasSecondFactor else { return nil }
        var parts: [String] = []
        if entry.totp.contains(where: \.enable) { parts.append("\"totp\":true") }
        if let remaining = entry.recovery?.remaining, !remaining.isEmpty {
            parts.append("\"recovery\":[\(remaining.map(String.init).joined(separator: ","))]")
        }
        if let options = try webAuthnLoginOptions(user: user, entry) { parts.append("\"webauthn\":" + options) }
        return try Ticket.assemble(data: "!tfa!{" + parts.joined(separator: ",") + "}", time: now, key: ticketKeys().current, aad: user)
    }

    /// The second step: a valid partial ticket of `user` and a `totp:CODE` or `recovery:CODE` answer.
    public func completeTFA(user: String, challenge: String, response: String) throws(AccessError) {
        guard let keys = try? ticketKeys(), let (data, _) = Ticket.verify(challenge, keys: keys, now: now, aad: user), data.hasPrefix("!tfa!") else {
            throw AccessError(401, "invalid or expired second-factor challenge")
        }
        guard let colon = response.firstIndex(of: ":") else { throw AccessError(401, "expected totp:CODE, recovery:CODE or webauthn:ANSWER") }
        let kind = response[..<colon], code = String(response[response.index(after: colon)...])
        let time = now
        let ok: Bool
        do {
            ok = try updateTFA { config -> Bool in
                guard var entry = config.users[user] else { return false }
                switch kind {
                case "totp":
                    return entry.totp.contains { $0.enable && (TOTP(uri: $0.uri)?.verify(code, at: time) ?? false) }
                case "recovery":
                    guard var recovery = entry.recovery, recovery.consume(code) else { return false }
                    entry.recovery = recovery
                    config.users[user] = entry
                    return true
                case "webauthn":
                    guard let used = try webAuthnAnswer(user: user, entry, response: code) else { return false }
                    if let index = entry.webauthn.firstIndex(where: { $0.credential.id == used.id }) { entry.webauthn[index].credential = used }
                    config.users[user] = entry
                    return true
                default:
                    return false
                }
            }
        } catch {
            throw AccessError(500, "cannot read the second-factor configuration: \(error)")
        }
        guard ok else { throw AccessError(401, "second factor rejected") }
    }

    // MARK: capabilities (the login answer's `cap`)

    public func capabilities(_ identity: Identity) -> [String: [String: Int]] {
        let e = evaluator
        var paths = Set(["/", "/nodes", "/access/groups", "/vms", "/storage", "/sdn", "/mapping"])
        paths.formUnion(e.config.acl.map(\.path))
        let buckets: [String: (String) -> Bool] = [
            "vms": { $0.hasPrefix("VM.") || $0 == "Permissions.Modify" },
            "storage": { $0.hasPrefix("Datastore.") || $0 == "Permissions.Modify" },
            "access": { $0.hasPrefix("User.") || $0.hasPrefix("Group.") || $0 == "Permissions.Modify" },
            "nodes": { $0.hasPrefix("Sys.") || $0 == "Permissions.Modify" },
            "sdn": { $0.hasPrefix("SDN.") || $0 == "Permissions.Modify" },
            "dc": { $0 == "Sys.Audit" || $0 == "Sys.Modify" || $0.hasPrefix("SDN.") },
            "mapping": { $0.hasPrefix("Mapping.") || $0 == "Permissions.Modify" },
        ]
        var cap: [String: [String: Int]] = Dictionary(uniqueKeysWithValues: buckets.keys.map { ($0, [:]) })
        for path in paths {
            let first = UserConfig.pathComponents(path).first
            let privileges = e.privileges(identity, on: path)
            let targets: [String] =
                switch first {
                case nil: ["dc"]
                case "pool": ["vms", "storage"]
                default: [first!]
                }
            for bucket in targets {
                guard let keep = buckets[bucket] else { continue }
                for p in privileges where keep(p) { cap[bucket]![p] = 1 }
            }
        }
        return cap
    }
}

/// Tickets already verified, by the cookie that carried them. A client sends the same ticket on
/// every call: the last few are compared whole (a length check, then memcmp) before the dictionary
/// would hash some 400 bytes.
struct VerifiedTickets {
    private var byTicket: [String: (user: String, time: Int)] = [:]
    private var recent: [(ticket: String, user: String, time: Int)] = []
    private var next = 0

    mutating func lookup(_ ticket: String) -> (user: String, time: Int)? {
        for entry in recent where entry.ticket.utf8.count == ticket.utf8.count && entry.ticket == ticket { return (entry.user, entry.time) }
        guard let hit = byTicket[ticket] else { return nil }
        keepRecent(ticket, hit.user, hit.time)
        return hit
    }

    mutating func remember(_ ticket: String, user: String, time: Int) {
        if byTicket.count >= 10_000 {
            byTicket.removeAll(keepingCapacity: true)
            recent.removeAll(keepingCapacity: true)
        }
        byTicket[ticket] = (user, time)
        keepRecent(ticket, user, time)
    }

    private mutating func keepRecent(_ ticket: String, _ user: String, _ time: Int) {
        if recent.count < 8 {
            recent.append((ticket, user, time))
        } else {
            recent[next] = (ticket, user, time)
            next = (next + 1) % recent.count
        }
    }
}

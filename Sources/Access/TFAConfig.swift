import Foundation
import TLS

/// `priv/tfa.cfg`: second factors per user, in PVE's JSON shape
/// (`{"users": {"<userid>": {"totp": [entry…], "recovery": {…}}}}`). TOTP entries keep their
/// otpauth URI; recovery keys are stored as HMACs, each usable once.
public struct TFAConfig: Sendable {
    public struct Entry: Equatable, Sendable {
        public var id: String
        public var description = ""
        public var created: Int
        public var enable = true
        public var uri: String

        public init(id: String, description: String = "", created: Int, enable: Bool = true, uri: String) {
            self.id = id
            self.description = description
            self.created = created
            self.enable = enable
            self.uri = uri
        }
    }

    public struct Recovery: Equatable, Sendable {
        public var secret: String
        public var entries: [String?]
        public var created: Int

        public var remaining: [Int] { entries.indices.filter { entries[$0] != nil } }

        static func mac(_ secret: String, _ code: String) -> String {
            Digest.hex(Digest.hmacSHA256(key: Array(secret.utf8), data: Array(code.utf8)))
        }

        /// Ten fresh codes (`xxxx-xxxx-xxxx-xxxx`), returned once; only their HMACs are kept.
        public static func generate(now: Int) throws -> (Recovery, [String]) {
            let secret = Digest.hex(try Digest.randomBytes(8))
            var codes: [String] = []
            for _ in 0..<10 {
                let hex = Digest.hex(try Digest.randomBytes(8))
                let chars = Array(hex)
                codes.append(stride(from: 0, to: 16, by: 4).map { String(chars[$0..<$0 + 4]) }.joined(separator: "-"))
            }
            return (Recovery(secret: secret, entries: codes.map { mac(secret, $0) }, created: now), codes)
        }

        /// Uses up `code` if it is one of the remaining ones.
        mutating func consume(_ code: String) -> Bool {
            let wanted = Self.mac(secret, code.lowercased().trimmingCharacters(in: .whitespaces))
            guard let index = entries.firstIndex(where: { $0 == wanted }) else { return false }
            entries[index] = nil
            return true
        }
    }

    /// A WebAuthn credential in PVE's shape (`entry`: `cred_id`, `cred` with its key, `counter`).
    public struct WebAuthnEntry: Equatable, Sendable {
        public var id: String
        public var description = ""
        public var created: Int
        public var enable = true
        public var credential: WebAuthn.Credential

        public init(id: String, description: String = "", created: Int, enable: Bool = true, credential: WebAuthn.Credential) {
            self.id = id
            self.description = description
            self.created = created
            self.enable = enable
            self.credential = credential
        }

        init?(_ item: [String: Any]) {
            guard let id = item["id"] as? String, let entry = item["entry"] as? [String: Any],
                let credID = (entry["cred_id"] as? String).flatMap(WebAuthn.unbase64url), let cred = entry["cred"] as? [String: Any],
                let key = cred["key"] as? [String: Any]
            else { return nil }
            let b = { (object: Any?, name: String) in ((object as? [String: Any])?[name] as? String).flatMap(WebAuthn.unbase64url) }
            let parsed: WebAuthn.Key
            if let x = b(key["EC_EC2"], "x"), let y = b(key["EC_EC2"], "y") {
                parsed = .es256(x: x, y: y)
            } else if let n = b(key["RSA"], "n"), let e = b(key["RSA"], "e") {
                parsed = .rs256(n: n, e: e)
            } else {
                return nil
            }
            self.init(
                id: id, description: item["description"] as? String ?? "", created: item["created"] as? Int ?? 0,
                enable: item["enable"] as? Bool ?? true,
                credential: .init(id: credID, key: parsed, counter: UInt32(clamping: entry["counter"] as? Int ?? 0)))
        }

        var json: [String: Any] {
            let cred: [String: Any]
            switch credential.key {
            case .es256(let x, let y):
                cred = ["type_": "ES256", "key": ["EC_EC2": ["curve": "SECP256R1", "x": WebAuthn.base64url(x), "y": WebAuthn.base64url(y)]]]
            case .rs256(let n, let e):
                cred = ["type_": "RS256", "key": ["RSA": ["n": WebAuthn.base64url(n), "e": WebAuthn.base64url(e)]]]
            }
            var item: [String: Any] = [
                "id": id, "created": created,
                "entry": [
                    "cred_id": WebAuthn.base64url(credential.id), "cred": cred, "counter": Int(credential.counter), "backup_eligible": false,
                    "backup_state": false,
                ] as [String: Any],
            ]
            if !description.isEmpty { item["description"] = description }
            if !enable { item["enable"] = false }
            return item
        }
    }

    public struct User: Equatable, Sendable {
        public var totp: [Entry] = []
        public var webauthn: [WebAuthnEntry] = []
        /// WebAuthn entries with a key type Corral does not read (EdDSA, …), kept as they were.
        var foreignWebAuthn: [Data] = []
        public var recovery: Recovery?
        public init() {}
        public var hasSecondFactor: Bool {
            totp.contains { $0.enable } || webauthn.contains { $0.enable } || !(recovery?.remaining.isEmpty ?? true)
        }
    }

    public var users: [String: User] = [:]
    /// Everything else in the file (webauthn, u2f settings, …), kept as it was.
    var other: [String: Data] = [:]
    var otherUserKeys: [String: [String: Data]] = [:]

    static func freeze(_ value: Any) -> Data? { try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]) }
    static func thaw(_ data: Data) -> Any? { try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) }

    public init() {}

    public static func parse(_ data: [UInt8]) -> TFAConfig {
        var config = TFAConfig()
        guard !data.isEmpty, let root = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any] else { return config }
        for (key, value) in root where key != "users" { config.other[key] = freeze(value) }
        for (user, value) in root["users"] as? [String: Any] ?? [:] {
            guard let object = value as? [String: Any] else { continue }
            var entry = User()
            for item in object["totp"] as? [[String: Any]] ?? [] {
                guard let id = item["id"] as? String, let uri = item["entry"] as? String else { continue }
                entry.totp.append(
                    Entry(
                        id: id, description: item["description"] as? String ?? "", created: item["created"] as? Int ?? 0,
                        enable: (item["enable"] as? Bool) ?? true, uri: uri))
            }
            for item in object["webauthn"] as? [[String: Any]] ?? [] {
                if let parsed = WebAuthnEntry(item) {
                    entry.webauthn.append(parsed)
                } else if let kept = freeze(item) {
                    entry.foreignWebAuthn.append(kept)
                }
            }
            if let r = object["recovery"] as? [String: Any], let secret = r["secret"] as? String {
                entry.recovery = Recovery(
                    secret: secret, entries: (r["entries"] as? [Any] ?? []).map { $0 as? String }, created: r["created"] as? Int ?? 0)
            }
            config.users[user] = entry
            config.otherUserKeys[user] = object.filter { !["totp", "recovery", "webauthn"].contains($0.key) }.compactMapValues(freeze)
        }
        return config
    }

    public func serialized() -> [UInt8] {
        var users: [String: Any] = [:]
        for (user, entry) in self.users {
            var object: [String: Any] = (otherUserKeys[user] ?? [:]).compactMapValues(Self.thaw)
            if !entry.totp.isEmpty {
                object["totp"] = entry.totp.map { e -> [String: Any] in
                    var item: [String: Any] = ["id": e.id, "description": e.description, "created": e.created, "entry": e.uri]
                    if !e.enable { item["enable"] = false }
                    return item
                }
            }
            let webauthn: [Any] = entry.webauthn.map(\.json) + entry.foreignWebAuthn.compactMap(Self.thaw)
            if !webauthn.isEmpty { object["webauthn"] = webauthn }
            if let r = entry.recovery {
                object["recovery"] = ["secret": r.secret, "entries": r.entries.map { $0 as Any? ?? NSNull() }, "created": r.created] as [String: Any]
            }
            if !object.isEmpty { users[user] = object }
        }
        var root: [String: Any] = other.compactMapValues(Self.thaw)
        root["users"] = users
        return Array((try? JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])) ?? Data("{\"users\":{}}".utf8))
    }
}

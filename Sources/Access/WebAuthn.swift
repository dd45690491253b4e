import Foundation
import TLS

/// WebAuthn (W3C Web Authentication, level 2) for a relying party that checks what authenticators
/// answer: a new credential (`navigator.credentials.create`, attestation "none" or self-attested
/// "packed") and an assertion (`navigator.credentials.get`). Keys are ES256 (P-256) or RS256, the
/// two every authenticator offers. Pure functions over the browser's answers; where challenges and
/// credentials are kept is the caller's.
public enum WebAuthn {
    /// The relying party: `datacenter.cfg`'s `webauthn` (rp name, origin, id).
    public struct RelyingParty: Sendable, Equatable {
        public var name: String
        public var id: String
        public var origin: String
        /// Origins of subdomains of `id` are taken too (same scheme and port as `origin`).
        public var allowSubdomains: Bool
        public init(name: String, id: String, origin: String, allowSubdomains: Bool = true) {
            self.name = name
            self.id = id
            self.origin = origin
            self.allowSubdomains = allowSubdomains
        }

        func accepts(origin text: String) -> Bool {
            if text == origin { return true }
            guard allowSubdomains, let given = URLComponents(string: text), let mine = URLComponents(string: origin), let host = given.host
            else { return false }
            return given.scheme == mine.scheme && given.port == mine.port && host.hasSuffix("." + id)
        }
    }

    /// A credential's public key, as its parts.
    public enum Key: Sendable, Equatable {
        case es256(x: [UInt8], y: [UInt8])
        case rs256(n: [UInt8], e: [UInt8])

        func publicKey() throws(Failure) -> PublicKey {
            do {
                switch self {
                case .es256(let x, let y): return try PublicKey.p256(x: x, y: y)
                case .rs256(let n, let e): return try PublicKey.rsa(modulus: n, exponent: e)
                }
            } catch { throw Failure("the credential's key is malformed") }
        }
    }

    /// A registered credential: its id, its public key and the signature counter last seen.
    public struct Credential: Sendable, Equatable {
        public var id: [UInt8]
        public var key: Key
        public var counter: UInt32
        public init(id: [UInt8], key: Key, counter: UInt32) {
            self.id = id
            self.key = key
            self.counter = counter
        }
    }

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: options for the browser

    /// `PublicKeyCredentialCreationOptions` as JSON (binary values base64url).
    public static func creationOptions(
        rp: RelyingParty, userID: [UInt8], userName: String, challenge: [UInt8], exclude: [[UInt8]]
    )
        -> [String: Any]
    {
        [
            "publicKey": [
                "rp": ["id": rp.id, "name": rp.name],
                "user": ["id": base64url(userID), "name": userName, "displayName": userName],
                "challenge": base64url(challenge),
                "pubKeyCredParams": [["type": "public-key", "alg": -7], ["type": "public-key", "alg": -257]],
                "timeout": 300_000,
                "attestation": "none",
                "authenticatorSelection": ["userVerification": "discouraged", "residentKey": "discouraged", "requireResidentKey": false],
                "hints": ["security-key"],
                "excludeCredentials": exclude.map { ["type": "public-key", "id": base64url($0)] },
            ] as [String: Any]
        ]
    }

    /// `PublicKeyCredentialRequestOptions` as JSON.
    public static func requestOptions(rp: RelyingParty, challenge: [UInt8], credentials: [[UInt8]]) -> [String: Any] {
        [
            "publicKey": [
                "challenge": base64url(challenge), "rpId": rp.id, "timeout": 300_000, "userVerification": "discouraged",
                "hints": ["security-key"],
                "allowCredentials": credentials.map { ["type": "public-key", "id": base64url($0)] },
            ] as [String: Any]
        ]
    }

    // MARK: checking the answers

    /// A new credential from `navigator.credentials.create`'s answer as JSON: `id`/`rawId`,
    /// `response.clientDataJSON` and `response.attestationObject`, base64url.
    public static func register(_ json: String, rp: RelyingParty, challenge: [UInt8]) throws(Failure) -> Credential {
        let object = try parse(json)
        guard let response = object["response"] as? [String: Any],
            let clientData = (response["clientDataJSON"] as? String).flatMap(unbase64url),
            let attestation = (response["attestationObject"] as? String).flatMap(unbase64url)
        else { throw Failure("the answer lacks response.clientDataJSON or response.attestationObject") }
        try checkClientData(clientData, type: "webauthn.create", rp: rp, challenge: challenge)
        let decoded: CBOR
        do { decoded = try CBOR.decode(attestation).value } catch { throw Failure("the attestation object is not CBOR: \(error)") }
        guard let format = decoded["fmt"]?.textValue, let authData = decoded["authData"]?.bytesValue else {
            throw Failure("the attestation object lacks fmt or authData")
        }
        let data = try AuthenticatorData(authData, rp: rp)
        guard let attested = data.attested else { throw Failure("the authenticator data holds no credential") }
        let parts = try key(attested.publicKey)
        let key = try parts.publicKey()
        switch format {
        case "none":
            break
        case "packed":
            // self attestation: signed with the new credential's own key; a certificate chain would
            // need a trust store of authenticator vendors, which a second factor does not need
            guard let statement = decoded["attStmt"], statement["x5c"] == nil, let signature = statement["sig"]?.bytesValue else {
                throw Failure("only self attestation is taken for 'packed'")
            }
            guard key.verify(authData + Digest.sha256(clientData), signature: signature) else {
                throw Failure("the attestation signature does not verify")
            }
        default:
            throw Failure("attestation format '\(format)' is not taken (ask for none)")
        }
        if let rawID = object["rawId"] as? String ?? object["id"] as? String, unbase64url(rawID) != attested.credentialID {
            throw Failure("the credential id does not match the authenticator data")
        }
        return Credential(id: attested.credentialID, key: parts, counter: data.counter)
    }

    /// Checks `navigator.credentials.get`'s answer (JSON: `id`/`rawId`, `response.clientDataJSON`,
    /// `authenticatorData`, `signature`) against the credentials the user has; returns the one used
    /// with its new counter.
    public static func authenticate(
        _ json: String, rp: RelyingParty, challenge: [UInt8], credentials: [Credential]
    ) throws(Failure)
        -> Credential
    {
        let object = try parse(json)
        guard let rawID = (object["rawId"] as? String ?? object["id"] as? String).flatMap(unbase64url) else {
            throw Failure("the answer names no credential")
        }
        guard var credential = credentials.first(where: { $0.id == rawID }) else { throw Failure("the credential is not one of the user's") }
        guard let response = object["response"] as? [String: Any],
            let clientData = (response["clientDataJSON"] as? String).flatMap(unbase64url),
            let authData = (response["authenticatorData"] as? String).flatMap(unbase64url),
            let signature = (response["signature"] as? String).flatMap(unbase64url)
        else { throw Failure("the answer lacks clientDataJSON, authenticatorData or signature") }
        try checkClientData(clientData, type: "webauthn.get", rp: rp, challenge: challenge)
        let data = try AuthenticatorData(authData, rp: rp)
        guard try credential.key.publicKey().verify(authData + Digest.sha256(clientData), signature: signature) else {
            throw Failure("the signature does not verify")
        }
        // a counter that does not grow means a cloned authenticator (both zero: one that keeps none)
        if data.counter != 0 || credential.counter != 0 {
            guard data.counter > credential.counter else { throw Failure("the authenticator's counter went back: it may be cloned") }
        }
        credential.counter = data.counter
        return credential
    }

    static func parse(_ json: String) throws(Failure) -> [String: Any] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else {
            throw Failure("the answer is not a JSON object")
        }
        return object
    }

    static func checkClientData(_ bytes: [UInt8], type: String, rp: RelyingParty, challenge: [UInt8]) throws(Failure) {
        guard let data = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw Failure("clientDataJSON is not JSON")
        }
        guard data["type"] as? String == type else { throw Failure("clientDataJSON is of type '\(data["type"] ?? "")', not '\(type)'") }
        guard (data["challenge"] as? String).flatMap(unbase64url) == challenge else { throw Failure("the challenge does not match") }
        guard let origin = data["origin"] as? String, rp.accepts(origin: origin) else {
            throw Failure("origin '\(data["origin"] ?? "")' is not the relying party's ('\(rp.origin)')")
        }
    }

    /// The authenticator data: rp id hash, flags, counter and (on registration) the new credential.
    struct AuthenticatorData {
        var counter: UInt32
        var attested: (credentialID: [UInt8], publicKey: [UInt8])?

        init(_ bytes: [UInt8], rp: RelyingParty) throws(Failure) {
            guard bytes.count >= 37 else { throw Failure("the authenticator data is too short") }
            guard Array(bytes[0..<32]) == Digest.sha256(Array(rp.id.utf8)) else { throw Failure("the authenticator data is for another rp id") }
            let flags = bytes[32]
            guard flags & 0x01 != 0 else { throw Failure("the user was not present (no touch)") }
            counter = bytes[33..<37].reduce(0) { $0 << 8 | UInt32($1) }
            guard flags & 0x40 != 0 else { return }
            guard bytes.count >= 55 else { throw Failure("the attested credential data is too short") }
            let length = Int(bytes[53]) << 8 | Int(bytes[54])
            guard bytes.count >= 55 + length else { throw Failure("the credential id is cut short") }
            let id = Array(bytes[55..<55 + length])
            let consumed: Int
            do { consumed = try CBOR.decode(bytes, from: 55 + length).consumed } catch { throw Failure("the credential's key is not CBOR: \(error)") }
            attested = (id, Array(bytes[(55 + length)..<(55 + length + consumed)]))
        }
    }

    /// A COSE key: EC2 P-256 with ES256, or RSA with RS256.
    static func key(_ cose: [UInt8]) throws(Failure) -> Key {
        let key: CBOR
        do { key = try CBOR.decode(cose).value } catch { throw Failure("the credential's key is not CBOR: \(error)") }
        switch (key[1]?.intValue, key[3]?.intValue) {
        case (2, -7):
            guard key[-1]?.intValue == 1, let x = key[-2]?.bytesValue, let y = key[-3]?.bytesValue, x.count == 32, y.count == 32 else {
                throw Failure("the credential's EC key is not a P-256 point")
            }
            return .es256(x: x, y: y)
        case (3, -257):
            guard let n = key[-1]?.bytesValue, let e = key[-2]?.bytesValue, n.count >= 128, !e.isEmpty else {
                throw Failure("the credential's RSA key is malformed")
            }
            return .rs256(n: n, e: e)
        default:
            throw Failure("the credential's key type is not taken (ES256 and RS256 are)")
        }
    }

    public static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func unbase64url(_ text: String) -> [UInt8]? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map(Array.init)
    }
}

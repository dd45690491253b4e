import Foundation
import Synchronization
import TLS
import WebClient

/// OpenID Connect realms (`openid` in domains.cfg): the authorization-code flow with PKCE (S256)
/// and a nonce. `authURL` makes the provider's login address and remembers its state on this node
/// for ten minutes; `login` takes the code back, trades it at the token endpoint (the client
/// authenticates with its key), checks the ID token (signature by the provider's published keys,
/// issuer, audience, expiry, nonce) and reads the claims, with the userinfo endpoint's unless
/// `query-userinfo 0`. Blocking (the provider's round trips): callers use the blocking executor.
public final class OpenID: Sendable {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// What a provider publishes at `<issuer>/.well-known/openid-configuration`.
    struct Provider: Sendable {
        var issuer: String
        var authorization: String
        var token: String
        var userinfo: String?
        var jwks: String
    }

    struct Pending: Sendable {
        var realm: String
        var redirect: String
        var nonce: String
        var verifier: String
        var issued: Int
    }

    static let stateLifetime = 600
    private let pending = Mutex<[String: Pending]>([:])
    /// Discovery documents and key sets by URL, kept five minutes (a provider that rotates its keys
    /// is asked again when a token names a key not in the set).
    private let documents = Mutex<[String: (fetched: Int, body: [UInt8])]>([:])
    let timeout: Double

    public init(timeout: Double = 10) { self.timeout = timeout }

    // MARK: the realm's options

    struct Settings {
        var issuer: String
        var clientID: String
        var clientKey: String?
        var scopes: [String]
        var prompt: String?
        var acrValues: String?
        var usernameClaim: String?
        var queryUserinfo: Bool
        /// PVE checks a provider's certificate against the system's CAs only.
        let caFile: String? = nil

        init(_ realm: Realm) throws(Failure) {
            let o = realm.options
            guard let issuer = o["issuer-url"], !issuer.isEmpty, let client = o["client-id"], !client.isEmpty else {
                throw Failure("realm '\(realm.id)' lacks issuer-url or client-id")
            }
            self.issuer = issuer
            clientID = client
            clientKey = o["client-key"].flatMap { $0.isEmpty ? nil : $0 }
            scopes =
                ["openid"]
                + (o["scopes"] ?? "email profile").split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init).filter { $0 != "openid" }
            prompt = o["prompt"]
            acrValues = o["acr-values"]
            usernameClaim = o["username-claim"]
            queryUserinfo = o["query-userinfo"] != "0"
        }
    }

    // MARK: step one

    /// The provider's authorization URL for a login to `realm` that comes back to `redirect`.
    public func authURL(realm: Realm, redirect: String, now: Int) throws -> String {
        let settings = try Settings(realm)
        let provider = try discover(settings, now: now)
        let state = WebAuthn.base64url(try Digest.randomBytes(24))
        let nonce = WebAuthn.base64url(try Digest.randomBytes(24))
        let verifier = WebAuthn.base64url(try Digest.randomBytes(32))
        pending.withLock { all in
            all = all.filter { now - $0.value.issued <= Self.stateLifetime }
            all[state] = Pending(realm: realm.id, redirect: redirect, nonce: nonce, verifier: verifier, issued: now)
        }
        var query = URLComponents(string: provider.authorization)
        var items = query?.queryItems ?? []
        items += [
            URLQueryItem(name: "response_type", value: "code"), URLQueryItem(name: "client_id", value: settings.clientID),
            URLQueryItem(name: "redirect_uri", value: redirect), URLQueryItem(name: "scope", value: settings.scopes.joined(separator: " ")),
            URLQueryItem(name: "state", value: state), URLQueryItem(name: "nonce", value: nonce),
            URLQueryItem(name: "code_challenge", value: WebAuthn.base64url(Digest.sha256(Array(verifier.utf8)))),
            URLQueryItem(name: "code_challenge_method", value: "S256"),
        ]
        if let prompt = settings.prompt { items.append(URLQueryItem(name: "prompt", value: prompt)) }
        if let acr = settings.acrValues { items.append(URLQueryItem(name: "acr_values", value: acr)) }
        query?.queryItems = items
        // '+' in a query value is a space to most servers: spell it out
        let encoded = query?.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        query?.percentEncodedQuery = encoded
        guard let url = query?.string else { throw Failure("the provider's authorization endpoint is not a URL") }
        return url
    }

    // MARK: step two

    /// The claims of the user who logged in at the provider: for `state` (used once), with `code`.
    public func claims(state: String, code: String, redirect: String, realms: [Realm], now: Int) throws -> (realm: Realm, claims: [String: Any]) {
        guard let started = pending.withLock({ $0.removeValue(forKey: state) }), now - started.issued <= Self.stateLifetime else {
            throw Failure("unknown or expired login state (a login is finished within ten minutes, on the node that began it)")
        }
        guard started.redirect == redirect else { throw Failure("the redirect URL differs from the one the login began with") }
        guard let realm = realms.first(where: { $0.id == started.realm && $0.type == "openid" }) else {
            throw Failure("realm '\(started.realm)' is gone")
        }
        let settings = try Settings(realm)
        let provider = try discover(settings, now: now)
        var form = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect), ("code_verifier", started.verifier),
            ("client_id", settings.clientID),
        ]
        var headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")]
        if let key = settings.clientKey {
            // client_secret_basic, what providers must support; the form carries it too for those that want client_secret_post
            let basic = Data("\(Self.formEncode(settings.clientID)):\(Self.formEncode(key))".utf8).base64EncodedString()
            headers.append(("Authorization", "Basic \(basic)"))
            form.append(("client_secret", key))
        }
        let body = Array(form.map { "\($0.0)=\(Self.formEncode($0.1))" }.joined(separator: "&").utf8)
        let answer = try WebClient.send("POST", provider.token, headers: headers, body: body, timeout: timeout, caFile: settings.caFile)
        guard let tokens = (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any] else {
            throw Failure("the token endpoint answered \(answer.status) without JSON")
        }
        guard answer.status == 200, let idToken = tokens["id_token"] as? String else {
            let why = [tokens["error"], tokens["error_description"]].compactMap { $0 as? String }.joined(separator: ": ")
            throw Failure("the token endpoint refused the code (\(answer.status)\(why.isEmpty ? "" : ": " + why))")
        }
        var claims = try verify(idToken, provider: provider, settings: settings, nonce: started.nonce, now: now)
        if settings.queryUserinfo, let userinfo = provider.userinfo, let access = tokens["access_token"] as? String {
            let info = try WebClient.send(
                "GET", userinfo, headers: [("Authorization", "Bearer \(access)"), ("Accept", "application/json")], timeout: timeout,
                caFile: settings.caFile)
            if info.status == 200, let extra = (try? JSONSerialization.jsonObject(with: Data(info.body))) as? [String: Any] {
                // the ID token's subject is the one that counts (OpenID Connect core, 5.3.2)
                if let sub = extra["sub"] as? String, sub != claims["sub"] as? String { throw Failure("userinfo is for another subject") }
                for (key, value) in extra where claims[key] == nil { claims[key] = value }
            }
        }
        return (realm, claims)
    }

    /// The ID token's claims once its signature and contents check out.
    func verify(_ token: String, provider: Provider, settings: Settings, nonce: String, now: Int) throws -> [String: Any] {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let headerBytes = WebAuthn.unbase64url(parts[0]), let payloadBytes = WebAuthn.unbase64url(parts[1]),
            let signature = WebAuthn.unbase64url(parts[2]),
            let header = (try? JSONSerialization.jsonObject(with: Data(headerBytes))) as? [String: Any],
            let claims = (try? JSONSerialization.jsonObject(with: Data(payloadBytes))) as? [String: Any]
        else { throw Failure("the ID token is not a signed JWT") }
        let alg = header["alg"] as? String ?? ""
        guard alg == "RS256" || alg == "ES256" else { throw Failure("the ID token is signed with '\(alg)' (RS256 and ES256 are taken)") }
        let kid = header["kid"] as? String
        var keys = try jwks(provider, settings: settings, now: now, fresh: false)
        if !keys.contains(where: { kid == nil || $0.kid == kid }) { keys = try jwks(provider, settings: settings, now: now, fresh: true) }
        let candidates = keys.filter { (kid == nil || $0.kid == kid) && $0.alg == alg }
        let signed = Array("\(parts[0]).\(parts[1])".utf8)
        let der = alg == "ES256" ? PublicKey.derSignature(raw: signature) : signature
        guard let der, candidates.contains(where: { $0.key.verify(signed, signature: der) }) else {
            throw Failure("the ID token's signature does not verify with the provider's keys")
        }
        guard claims["iss"] as? String == provider.issuer else { throw Failure("the ID token is from another issuer") }
        let audience = (claims["aud"] as? String).map { [$0] } ?? (claims["aud"] as? [String]) ?? []
        guard audience.contains(settings.clientID) else { throw Failure("the ID token is for another client") }
        guard let exp = (claims["exp"] as? NSNumber)?.intValue, exp + 60 >= now else { throw Failure("the ID token has expired") }
        guard claims["nonce"] as? String == nonce else { throw Failure("the ID token's nonce is not this login's") }
        guard claims["sub"] is String else { throw Failure("the ID token names no subject") }
        return claims
    }

    // MARK: the provider's documents

    func document(_ url: String, settings: Settings, now: Int, fresh: Bool) throws -> [String: Any] {
        if !fresh, let cached = documents.withLock({ $0[url] }), now - cached.fetched < 300,
            let object = (try? JSONSerialization.jsonObject(with: Data(cached.body))) as? [String: Any]
        {
            return object
        }
        let answer: WebClient.Response
        do { answer = try WebClient.send("GET", url, headers: [("Accept", "application/json")], timeout: timeout, caFile: settings.caFile) } catch {
            throw Failure("cannot reach the OpenID provider: \(error)")
        }
        guard answer.status == 200, let object = (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any] else {
            throw Failure("\(url) answered \(answer.status) without a JSON object")
        }
        documents.withLock { $0[url] = (now, answer.body) }
        return object
    }

    func discover(_ settings: Settings, now: Int) throws -> Provider {
        let base = settings.issuer.hasSuffix("/") ? String(settings.issuer.dropLast()) : settings.issuer
        let doc = try document(base + "/.well-known/openid-configuration", settings: settings, now: now, fresh: false)
        guard let issuer = doc["issuer"] as? String, let authorization = doc["authorization_endpoint"] as? String,
            let token = doc["token_endpoint"] as? String, let jwks = doc["jwks_uri"] as? String
        else { throw Failure("the provider's discovery document lacks its endpoints") }
        // the document must be the issuer's own (OpenID Connect discovery, 4.3)
        guard issuer == settings.issuer || issuer == base else {
            throw Failure("the discovery document names issuer '\(issuer)', not '\(settings.issuer)'")
        }
        return Provider(issuer: issuer, authorization: authorization, token: token, userinfo: doc["userinfo_endpoint"] as? String, jwks: jwks)
    }

    struct SigningKey {
        var kid: String?
        var alg: String
        var key: PublicKey
    }

    func jwks(_ provider: Provider, settings: Settings, now: Int, fresh: Bool) throws -> [SigningKey] {
        let doc = try document(provider.jwks, settings: settings, now: now, fresh: fresh)
        return (doc["keys"] as? [[String: Any]] ?? []).compactMap { jwk -> SigningKey? in
            if let use = jwk["use"] as? String, use != "sig" { return nil }
            let b = { (name: String) in (jwk[name] as? String).flatMap(WebAuthn.unbase64url) }
            switch jwk["kty"] as? String {
            case "RSA":
                guard let n = b("n"), let e = b("e"), let key = try? PublicKey.rsa(modulus: n, exponent: e) else { return nil }
                return SigningKey(kid: jwk["kid"] as? String, alg: "RS256", key: key)
            case "EC":
                guard jwk["crv"] as? String == "P-256", let x = b("x"), let y = b("y"), let key = try? PublicKey.p256(x: x, y: y) else { return nil }
                return SigningKey(kid: jwk["kid"] as? String, alg: "ES256", key: key)
            default:
                return nil
            }
        }
    }

    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

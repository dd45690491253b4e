import ClusterFS
import Foundation
import Synchronization
import TLS

/// Challenges a node handed out for WebAuthn, each answerable once within two minutes (PVE keeps
/// them per node in /run; so does Corral, in memory: a registration or login is finished on the
/// node it started on).
final class WebAuthnChallenges: Sendable {
    struct Pending {
        var challenge: [UInt8]
        var issued: Int
        var description: String
    }
    static let lifetime = 120
    private let pending = Mutex<[String: [Pending]]>([:])

    func add(_ key: String, _ item: Pending) {
        pending.withLock { all in
            all[key, default: []].removeAll { item.issued - $0.issued > Self.lifetime }
            all[key, default: []].append(item)
        }
    }

    /// Takes the pending challenge out (used once, even if the answer then fails).
    func take(_ key: String, challenge: [UInt8], now: Int) -> Pending? {
        pending.withLock { all in
            guard let index = all[key]?.firstIndex(where: { $0.challenge == challenge }) else { return nil }
            let item = all[key]!.remove(at: index)
            return now - item.issued <= Self.lifetime ? item : nil
        }
    }
}

extension AccessControl {
    /// The relying party from datacenter.cfg's `webauthn` (`rp`, `id`, `origin`,
    /// `allow-subdomains`); nil when not configured. Without `origin`, the console's own address on
    /// the API port is assumed (`https://<id>:8006`).
    public func relyingParty() -> WebAuthn.RelyingParty? {
        guard let text = try? fs.readString("datacenter.cfg") else { return nil }
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("webauthn:") else { continue }
            var values: [String: String] = [:]
            for item in trimmed.dropFirst("webauthn:".count).split(separator: ",") {
                let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2 { values[parts[0]] = parts[1] }
            }
            guard let name = values["rp"], let id = values["id"], !name.isEmpty, !id.isEmpty else { return nil }
            return .init(name: name, id: id, origin: values["origin"] ?? "https://\(id):8006", allowSubdomains: values["allow-subdomains"] != "0")
        }
        return nil
    }

    /// The first step of a registration: creation options (JSON text) whose challenge the second
    /// step must answer within two minutes, on this node.
    public func startWebAuthnRegistration(user: String, description: String) throws(AccessError) -> String {
        guard let rp = relyingParty() else { throw AccessError(500, "no webauthn configuration available") }
        guard let challenge = try? Digest.randomBytes(32), let userHandle = try? Digest.randomBytes(16) else {
            throw AccessError(500, "no random bytes for a challenge")
        }
        let existing = (tfa.users[user]?.webauthn ?? []).filter(\.enable).map(\.credential.id)
        let options = WebAuthn.creationOptions(rp: rp, userID: userHandle, userName: user, challenge: challenge, exclude: existing)
        webAuthnChallenges.add("register:\(user)", .init(challenge: challenge, issued: now, description: description))
        guard let data = try? JSONSerialization.data(withJSONObject: options, options: [.sortedKeys]) else {
            throw AccessError(500, "cannot write the creation options")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The second step: the authenticator's answer to `challenge` (its base64url text), checked and
    /// stored as a new second factor. Returns the entry's id.
    public func finishWebAuthnRegistration(user: String, challenge: String, answer: String, description: String?) throws(AccessError) -> String {
        guard let rp = relyingParty() else { throw AccessError(500, "no webauthn configuration available") }
        guard let bytes = WebAuthn.unbase64url(challenge), let pending = webAuthnChallenges.take("register:\(user)", challenge: bytes, now: now)
        else {
            throw AccessError(400, "no such registration challenge (it is answered once, within two minutes, on the node that made it)")
        }
        let credential: WebAuthn.Credential
        do { credential = try WebAuthn.register(answer, rp: rp, challenge: bytes) } catch {
            throw AccessError(400, "the security key's answer was refused: \(error.description)", errors: ["value": error.description])
        }
        let id = UUID().uuidString.lowercased()
        let entry = TFAConfig.WebAuthnEntry(id: id, description: description ?? pending.description, created: now, credential: credential)
        do {
            try updateTFA { config in
                if config.users[user]?.webauthn.contains(where: { $0.credential.id == credential.id }) == true {
                    throw AccessError(400, "this security key is registered already")
                }
                config.users[user, default: TFAConfig.User()].webauthn.append(entry)
            }
        } catch let error as AccessError {
            throw error
        } catch {
            throw AccessError(500, "cannot store the second factor: \(error)")
        }
        return id
    }

    /// The `webauthn` part of a login's challenge (JSON text), when the user has an enabled key and
    /// WebAuthn is configured.
    func webAuthnLoginOptions(user: String, _ entry: TFAConfig.User) throws -> String? {
        let keys = entry.webauthn.filter(\.enable)
        guard !keys.isEmpty, let rp = relyingParty() else { return nil }
        let challenge = try Digest.randomBytes(32)
        webAuthnChallenges.add("login:\(user)", .init(challenge: challenge, issued: now, description: ""))
        let options = WebAuthn.requestOptions(rp: rp, challenge: challenge, credentials: keys.map(\.credential.id))
        return String(decoding: try JSONSerialization.data(withJSONObject: options, options: [.sortedKeys]), as: UTF8.self)
    }

    /// A login's `webauthn:` answer: the credential used, with its new counter, or nil if refused.
    func webAuthnAnswer(user: String, _ entry: TFAConfig.User, response: String) throws -> WebAuthn.Credential? {
        guard let rp = relyingParty(), let object = try? WebAuthn.parse(response),
            let challenge = (object["challenge"] as? String).flatMap(WebAuthn.unbase64url),
            webAuthnChallenges.take("login:\(user)", challenge: challenge, now: now) != nil
        else { return nil }
        do {
            return try WebAuthn.authenticate(response, rp: rp, challenge: challenge, credentials: entry.webauthn.filter(\.enable).map(\.credential))
        } catch {
            Self.log("login of \(user): webauthn: \(error.description)")
            return nil
        }
    }
}

import ClusterFS
import Foundation
import TLS

/// One-time join tokens (beyond PVE): a member makes one, and a joining node presents it instead of
/// root's password (`Authorization: CorralJoinToken <token>`), for the one call that adds a node.
/// Stored as `ID SHA256(secret) EXPIRY` lines in `priv/join-tokens.cfg` (root-only, members only).
/// A token is used up by the first call that presents it, accepted or not, and dropped once expired.
extension AccessControl {
    static let joinTokensPath = "priv/join-tokens.cfg"
    public static let joinTokenPrefix = "cjt1."
    public static let joinTokenScheme = "CorralJoinToken"

    public static func isJoinToken(_ text: String) -> Bool { text.hasPrefix(joinTokenPrefix) }

    /// A new token valid for `ttl` seconds.
    public func makeJoinToken(ttl: Int) throws -> (token: String, expires: Int) {
        let id = Digest.hex(try Digest.randomBytes(6))
        let secret = Digest.hex(try Digest.randomBytes(24))
        let now = self.now
        let expires = now + ttl
        try fs.withLock("join-tokens", timeout: 10) {
            var lines = liveJoinTokens(now: now)
            lines.append("\(id) \(Digest.hex(Digest.sha256(Array(secret.utf8)))) \(expires)")
            try fs.write(Self.joinTokensPath, Array((lines.joined(separator: "\n") + "\n").utf8))
        }
        return (Self.joinTokenPrefix + id + "." + secret, expires)
    }

    /// Uses up `token`: true once for a valid, unexpired token. The removal is written before the
    /// call runs, so a token cannot serve two joins.
    public func consumeJoinToken(_ token: String) -> Bool {
        let parts = token.dropFirst(Self.joinTokenPrefix.count).split(separator: ".")
        guard Self.isJoinToken(token), parts.count == 2 else { return false }
        let id = String(parts[0]), hash = Digest.hex(Digest.sha256(Array(parts[1].utf8)))
        let now = self.now
        return
            (try? fs.withLock("join-tokens", timeout: 10) { () throws -> Bool in
                let lines = liveJoinTokens(now: now)
                let match = lines.first { line in
                    let fields = line.split(separator: " ")
                    return fields.count == 3 && fields[0] == id && fields[1] == hash
                }
                guard let match else { return false }
                try fs.write(Self.joinTokensPath, Array((lines.filter { $0 != match }.joined(separator: "\n") + "\n").utf8))
                return true
            }) ?? false
    }

    private func liveJoinTokens(now: Int) -> [String] {
        ((try? fs.readString(Self.joinTokensPath)) ?? "").split(separator: "\n").map(String.init).filter { line in
            let fields = line.split(separator: " ")
            return fields.count == 3 && (Int(fields[2]) ?? 0) > now
        }
    }
}

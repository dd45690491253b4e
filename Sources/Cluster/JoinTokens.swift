import ClusterFS
import Foundation
import TLS

/// One-time join tokens (beyond PVE): a member makes one, the joining node presents it instead of
/// root's password. Stored as `ID SHA256(secret) EXPIRY` lines in `priv/join-tokens.cfg` (readable
/// by root on members only); a token is removed when used or expired.
struct JoinTokens {
    static let path = "priv/join-tokens.cfg"
    static let prefix = "cjt1."
    let tree: any ConfigTree

    static func isToken(_ text: String) -> Bool { text.hasPrefix(prefix) }

    /// A new token valid for `ttl` seconds.
    func make(ttl: Int, now: Int = Int(time(nil))) throws -> (token: String, expires: Int) {
        let id = Digest.hex(try Digest.randomBytes(6))
        let secret = Digest.hex(try Digest.randomBytes(24))
        let expires = now + ttl
        try tree.withLock("join-tokens", timeout: 10) {
            var lines = live(now: now)
            lines.append("\(id) \(Digest.hex(Digest.sha256(Array(secret.utf8)))) \(expires)")
            try tree.write(Self.path, Array((lines.joined(separator: "\n") + "\n").utf8))
        }
        return (Self.prefix + id + "." + secret, expires)
    }

    /// Uses up `token`: true once for a valid, unexpired token (the removal is written before
    /// anything else happens, so a token cannot serve two joins).
    func consume(_ token: String, now: Int = Int(time(nil))) throws -> Bool {
        let parts = token.dropFirst(Self.prefix.count).split(separator: ".")
        guard Self.isToken(token), parts.count == 2 else { return false }
        let id = String(parts[0]), hash = Digest.hex(Digest.sha256(Array(parts[1].utf8)))
        return try tree.withLock("join-tokens", timeout: 10) {
            let lines = live(now: now)
            let match = lines.first { line in
                let fields = line.split(separator: " ")
                return fields.count == 3 && fields[0] == id && fields[1] == hash
            }
            try tree.write(Self.path, Array((lines.filter { $0 != match }.joined(separator: "\n") + "\n").utf8))
            return match != nil
        }
    }

    private func live(now: Int) -> [String] {
        ((try? tree.readString(Self.path)) ?? "").split(separator: "\n").map(String.init).filter { line in
            let fields = line.split(separator: " ")
            return fields.count == 3 && (Int(fields[2]) ?? 0) > now
        }
    }
}

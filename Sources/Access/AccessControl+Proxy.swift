import ClusterFS
import Foundation
import TLS

/// Calls one node forwards to another for a caller it has authenticated and authorized. The owner
/// trusts the named caller only with a proof made with `priv/proxy.key`, which only cluster members
/// can read (ClusterFS replicates it to members alone, readable by root alone).
extension AccessControl {
    static let proxyKeyPath = "priv/proxy.key"
    /// How far a proof's time may be from the owner's clock.
    static let proxySkew = 60

    func ensureProxyKey() throws {
        guard !fs.exists(Self.proxyKeyPath) else { return }
        try withLock("authkey") {
            guard !fs.exists(Self.proxyKeyPath) else { return }
            try fs.write(Self.proxyKeyPath, Array(Digest.hex(try Digest.randomBytes(32)).utf8))
        }
    }

    /// `TIME:HMAC` over the caller, the method and the path (query included).
    public func proxyProof(user: String, method: String, path: String) throws -> String {
        let key = try fs.read(Self.proxyKeyPath)
        let time = now
        return "\(time):" + Digest.hex(Digest.hmacSHA256(key: key, data: Self.proofData(time, user, method, path)))
    }

    /// Whether `proof` was made by a cluster member for this caller and call, recently.
    public func verifyProxyProof(_ proof: String, user: String, method: String, path: String) -> Bool {
        let parts = proof.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let time = Int(parts[0]), abs(now - time) <= Self.proxySkew, let key = try? fs.read(Self.proxyKeyPath) else {
            return false
        }
        let expected = Digest.hex(Digest.hmacSHA256(key: key, data: Self.proofData(time, user, method, path)))
        return Self.constantTimeEqual(Array(expected.utf8), Array(parts[1].utf8))
    }

    private static func proofData(_ time: Int, _ user: String, _ method: String, _ path: String) -> [UInt8] {
        Array("\(time)\n\(user)\n\(method)\n\(path)".utf8)
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

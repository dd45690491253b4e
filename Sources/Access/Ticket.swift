import Foundation
import TLS

/// The ticket signing keys: the current RSA key and the public half of the one before it, with the
/// time each was made (tickets are only accepted within their key's lifetime).
public struct TicketKeys: Sendable {
    public var current: RSAKey
    public var currentCreated: Int
    public var previousPublicPEM: String?
    public var previousCreated: Int?

    public init(current: RSAKey, currentCreated: Int, previousPublicPEM: String? = nil, previousCreated: Int? = nil) {
        self.current = current
        self.currentCreated = currentCreated
        self.previousPublicPEM = previousPublicPEM
        self.previousCreated = previousCreated
    }
}

/// PVE's signed tickets: `PREFIX:DATA:HEXTIME::BASE64(signature)`, the signature an RSA PKCS#1 v1.5
/// signature over `PREFIX:DATA:HEXTIME` (plus `:AAD` when there is extra authenticated data, which
/// the ticket does not carry). Signed with SHA-1 as PVE's own nodes do; SHA-256 is accepted too.
public enum Ticket {
    public static let lifetime = 7200
    public static let skew = 300
    public static let keyLifetime = 86400

    public static func hexTime(_ time: Int) -> String {
        let hex = String(UInt32(truncatingIfNeeded: time), radix: 16, uppercase: true)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// `:` in the data is written `%3A`.
    static func escape(_ data: String) -> String { data.replacingOccurrences(of: ":", with: "%3A") }
    static func unescape(_ data: String) -> String { data.replacingOccurrences(of: "%3A", with: ":") }

    public static func assemble(prefix: String = "PVE", data: String, time: Int, key: RSAKey, aad: String? = nil) throws -> String {
        let plain = "\(prefix):\(escape(data)):\(hexTime(time))"
        let signed = aad.map { plain + ":" + $0 } ?? plain
        let signature = try key.sign(Array(signed.utf8), digest: .sha1)
        return plain + "::" + Data(signature).base64EncodedString()
    }

    /// The data of a valid ticket, or nil: signature by the current key (or the previous one for
    /// tickets made before the rotation), and age within (−300 s, 7200 s).
    public static func verify(_ ticket: String, prefix: String = "PVE", keys: TicketKeys, now: Int, aad: String? = nil) -> (data: String, time: Int)?
    {
        guard let split = ticket.range(of: "::") else { return nil }
        let plain = String(ticket[..<split.lowerBound])
        guard let signature = Data(base64Encoded: String(ticket[split.upperBound...])) else { return nil }
        let fields = plain.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count == 3, fields[0] == prefix, fields[2].count == 8,
            fields[2].allSatisfy({ $0.isASCII && ($0.isNumber || ("A"..."F").contains($0)) }),
            let time = Int(fields[2], radix: 16), !fields[1].contains(where: \.isWhitespace)
        else { return nil }
        let age = now - time
        guard age > -skew, age < lifetime else { return nil }
        let signed = Array((aad.map { plain + ":" + $0 } ?? plain).utf8)
        func valid(_ pem: String) -> Bool {
            RSAKey.verify(publicPEM: pem, data: signed, signature: Array(signature), digest: .sha1)
                || RSAKey.verify(publicPEM: pem, data: signed, signature: Array(signature), digest: .sha256)
        }
        if time > keys.currentCreated - skew, valid(keys.current.publicPEM) { return (unescape(String(fields[1])), time) }
        if let old = keys.previousPublicPEM, time < keys.currentCreated + skew, valid(old) { return (unescape(String(fields[1])), time) }
        return nil
    }
}

/// PVE's CSRF prevention tokens: `HEXTIME:MAC`, the MAC an unpadded base64 HMAC-SHA256 over
/// `HEXTIME:userid` keyed by a secret derived from the `pve-www.key` file.
public enum CSRFToken {
    static func secret(_ keyFile: [UInt8]) -> [UInt8] {
        Array(unpadded(Digest.hmacSHA256(key: keyFile, data: [])).utf8)
    }

    static func unpadded(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    public static func make(keyFile: [UInt8], user: String, time: Int) -> String {
        let stamp = Ticket.hexTime(time)
        return stamp + ":" + unpadded(Digest.hmacSHA256(key: secret(keyFile), data: Array("\(stamp):\(user)".utf8)))
    }

    public static func verify(_ token: String, keyFile: [UInt8], user: String, now: Int) -> Bool {
        guard let colon = token.firstIndex(of: ":"), token.distance(from: token.startIndex, to: colon) == 8,
            let time = Int(token[..<colon], radix: 16)
        else { return false }
        let age = now - time
        guard age > -Ticket.skew, age < Ticket.lifetime else { return false }
        let expected = Array(make(keyFile: keyFile, user: user, time: time).utf8), given = Array(token.utf8)
        guard expected.count == given.count else { return false }
        return zip(expected, given).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

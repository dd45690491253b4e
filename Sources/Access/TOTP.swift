import Foundation
import TLS

/// Time-based one-time passwords (RFC 6238 over RFC 4226), as authenticator apps make them from an
/// `otpauth://totp/…?secret=BASE32&digits=6&period=30` URI. SHA-1 only, as those apps use.
public struct TOTP: Equatable, Sendable {
    public var secret: [UInt8]
    public var digits = 6
    public var period = 30

    public init(secret: [UInt8], digits: Int = 6, period: Int = 30) {
        self.secret = secret
        self.digits = digits
        self.period = period
    }

    /// Parses an otpauth URI; nil when it is not a usable TOTP key.
    public init?(uri: String) {
        guard let components = URLComponents(string: uri), components.scheme == "otpauth", components.host == "totp" else { return nil }
        let items = Dictionary((components.queryItems ?? []).map { ($0.name.lowercased(), $0.value ?? "") }) { a, _ in a }
        guard let encoded = items["secret"], let secret = Base32.decode(encoded), secret.count >= 10 else { return nil }
        if let algorithm = items["algorithm"], algorithm.uppercased() != "SHA1" { return nil }
        self.secret = secret
        digits = Int(items["digits"] ?? "6") ?? 0
        period = Int(items["period"] ?? "30") ?? 0
        guard (6...8).contains(digits), period >= 10 else { return nil }
    }

    public func uri(label: String) -> String {
        let name = label.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? label
        return "otpauth://totp/\(name)?secret=\(Base32.encode(secret))&digits=\(digits)&period=\(period)&algorithm=SHA1"
    }

    public func code(at time: Int) -> String {
        var counter = UInt64(max(0, time) / period).bigEndian
        let message = withUnsafeBytes(of: &counter) { Array($0) }
        let mac = Digest.hmacSHA1(key: secret, data: message)
        let offset = Int(mac[mac.count - 1] & 0x0f)
        let value = (UInt32(mac[offset] & 0x7f) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<digits { modulus *= 10 }
        let text = String(value % modulus)
        return String(repeating: "0", count: digits - text.count) + text
    }

    /// Whether `code` is right now, one period before or one after (clock drift).
    public func verify(_ code: String, at time: Int) -> Bool {
        let given = code.trimmingCharacters(in: .whitespaces)
        return [-1, 0, 1].contains { self.code(at: time + $0 * period) == given }
    }
}

/// RFC 4648 base32, as otpauth secrets are written (padding optional, case-insensitive).
public enum Base32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = "", buffer: UInt32 = 0, bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                out.unicodeScalars.append(Unicode.Scalar(alphabet[Int(buffer >> UInt32(bits - 5) & 31)]))
                bits -= 5
            }
        }
        if bits > 0 { out.unicodeScalars.append(Unicode.Scalar(alphabet[Int(buffer << UInt32(5 - bits) & 31)])) }
        return out
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = [], buffer: UInt32 = 0, bits = 0
        for ch in text.uppercased().utf8 where ch != UInt8(ascii: "=") && ch != UInt8(ascii: " ") {
            guard let value = alphabet.firstIndex(of: ch) else { return nil }
            buffer = buffer << 5 | UInt32(value)
            bits += 5
            if bits >= 8 {
                out.append(UInt8(buffer >> UInt32(bits - 8) & 0xff))
                bits -= 8
            }
        }
        return out
    }
}

import Foundation

/// A public key from its parts, as a COSE key (WebAuthn) or a JWK (OpenID Connect) gives them:
/// an uncompressed P-256 point or an RSA modulus and exponent, made into the DER
/// SubjectPublicKeyInfo OpenSSL reads. Checks signatures through `RSAKey.verify`, which takes any
/// key type OpenSSL knows.
public struct PublicKey: Sendable, Equatable {
    public let der: [UInt8]

    public init(der: [UInt8]) { self.der = der }

    /// A P-256 key from its coordinates (32 bytes each).
    public static func p256(x: [UInt8], y: [UInt8]) throws -> PublicKey {
        guard x.count == 32, y.count == 32 else { throw TLSError(function: "PublicKey.p256", message: "a P-256 coordinate must be 32 bytes") }
        // AlgorithmIdentifier { id-ecPublicKey, prime256v1 }
        let algorithm = DER.sequence(
            DER.tlv(0x06, [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]) + DER.tlv(0x06, [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]))
        return PublicKey(der: DER.sequence(algorithm + DER.tlv(0x03, [0x00, 0x04] + x + y)))
    }

    /// An RSA key from its modulus and public exponent (big-endian, unsigned).
    public static func rsa(modulus: [UInt8], exponent: [UInt8]) throws -> PublicKey {
        guard modulus.count >= 128, !exponent.isEmpty else {
            throw TLSError(function: "PublicKey.rsa", message: "an RSA key needs a modulus of at least 1024 bits")
        }
        let algorithm = DER.sequence(DER.tlv(0x06, [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]) + [0x05, 0x00])
        let key = DER.sequence(DER.integer(modulus) + DER.integer(exponent))
        return PublicKey(der: DER.sequence(algorithm + DER.tlv(0x03, [0x00] + key)))
    }

    public var pem: String {
        let body = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN PUBLIC KEY-----\n\(body)\n-----END PUBLIC KEY-----\n"
    }

    /// Whether `signature` (DER for ECDSA, as WebAuthn sends it) signs `data` with SHA-256.
    public func verify(_ data: [UInt8], signature: [UInt8]) -> Bool { RSAKey.verify(publicPEM: pem, data: data, signature: signature) }

    /// An ECDSA signature as r ‖ s (JOSE's form, 64 bytes for P-256) in DER, as OpenSSL takes it.
    public static func derSignature(raw: [UInt8]) -> [UInt8]? {
        guard raw.count % 2 == 0, !raw.isEmpty else { return nil }
        let half = raw.count / 2
        return DER.sequence(DER.integer(Array(raw[..<half])) + DER.integer(Array(raw[half...])))
    }
}

/// Just enough DER to write keys and signatures.
enum DER {
    static func length(_ n: Int) -> [UInt8] {
        if n < 0x80 { return [UInt8(n)] }
        var bytes: [UInt8] = []
        var rest = n
        while rest > 0 {
            bytes.insert(UInt8(rest & 0xFF), at: 0)
            rest >>= 8
        }
        return [0x80 | UInt8(bytes.count)] + bytes
    }

    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] { [tag] + length(content.count) + content }
    static func sequence(_ content: [UInt8]) -> [UInt8] { tlv(0x30, content) }

    /// An unsigned big-endian number as a DER INTEGER: leading zeros dropped, one added when the top bit is set.
    static func integer(_ bytes: [UInt8]) -> [UInt8] {
        var trimmed = Array(bytes.drop { $0 == 0 })
        if trimmed.isEmpty { trimmed = [0] }
        if trimmed[0] & 0x80 != 0 { trimmed.insert(0, at: 0) }
        return tlv(0x02, trimmed)
    }
}

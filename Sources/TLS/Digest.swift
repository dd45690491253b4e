internal import COpenSSL
import Foundation

/// Hashes, HMAC and randomness from OpenSSL's libcrypto.
public enum Digest {
    /// SHA-1, needed only for the WebSocket handshake (RFC 6455). Stands for `SHA1`.
    public static func sha1(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
        _ = SHA1(data, data.count, &out)
        return out
    }

    /// MD5, for formats that checksum with it (PVE's VMA archives). Stands for `EVP_Digest` with `EVP_md5`.
    public static func md5(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        var length: UInt32 = 0
        _ = EVP_Digest(data, data.count, &out, &length, EVP_md5(), nil)
        return out
    }

    /// SHA-256 of a buffer, in lowercase hex. Stands for `SHA256`.
    public static func sha256Hex(_ data: UnsafeRawBufferPointer) -> String {
        var out = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        _ = SHA256(data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count, &out)
        return hex(out)
    }

    /// SHA-256. Stands for `SHA256`.
    public static func sha256(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        _ = SHA256(data, data.count, &out)
        return out
    }

    /// HMAC-SHA256. Stands for `HMAC(EVP_sha256(), …)`.
    /// SHA-1 in lowercase hex: PVE's `digest` of config files.
    public static func sha1Hex(_ data: [UInt8]) -> String { hex(sha1(data)) }

    /// HMAC-SHA1 (TOTP's default). Stands for `HMAC` with `EVP_sha1`.
    public static func hmacSHA1(key: [UInt8], data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = HMAC(EVP_sha1(), key, Int32(key.count), data, data.count, &out, &length)
        return Array(out[0..<Int(length)])
    }

    public static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = HMAC(EVP_sha256(), key, Int32(key.count), data, data.count, &out, &length)
        return Array(out[0..<Int(length)])
    }

    /// Cryptographically secure random bytes. Stands for `RAND_bytes`.
    public static func randomBytes(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&out, Int32(count)) == 1 else { throw TLSError.drain("RAND_bytes") }
        return out
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

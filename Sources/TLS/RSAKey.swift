internal import COpenSSL

/// An RSA key pair for signatures (the ticket key): PKCS#1 v1.5 over SHA-1 or SHA-256.
public struct RSAKey: Sendable {
    public enum DigestName: Sendable { case sha1, sha256 }

    public let privatePEM: String
    public let publicPEM: String

    public init(privatePEM: String) throws {
        let key = try CertificateAuthority.readKey(privatePEM)
        defer { EVP_PKEY_free(key) }
        self.privatePEM = privatePEM
        publicPEM = try CertificateAuthority.withMemoryBIO { PEM_write_bio_PUBKEY($0, key) == 1 }
    }

    /// A new key of `bits`. Stands for `EVP_PKEY_keygen` with `EVP_PKEY_CTX_set_rsa_keygen_bits`.
    public static func generate(bits: Int32 = 2048) throws -> RSAKey {
        guard let ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nil) else { throw TLSError.drain("EVP_PKEY_CTX_new_id") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) == 1 else { throw TLSError.drain("EVP_PKEY_keygen_init") }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen(ctx, &key) == 1, let key else { throw TLSError.drain("EVP_PKEY_keygen") }
        defer { EVP_PKEY_free(key) }
        let pem = try CertificateAuthority.withMemoryBIO { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) == 1 }
        return try RSAKey(privatePEM: pem)
    }

    /// Signs `data`. Stands for `EVP_DigestSignInit` + `EVP_DigestSign`.
    public func sign(_ data: [UInt8], digest: DigestName = .sha256) throws -> [UInt8] {
        let key = try CertificateAuthority.readKey(privatePEM)
        defer { EVP_PKEY_free(key) }
        guard let ctx = EVP_MD_CTX_new() else { throw TLSError.drain("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestSignInit(ctx, nil, digest == .sha1 ? EVP_sha1() : EVP_sha256(), nil, key) == 1 else {
            throw TLSError.drain("EVP_DigestSignInit")
        }
        var length = 0
        guard EVP_DigestSign(ctx, nil, &length, data, data.count) == 1 else { throw TLSError.drain("EVP_DigestSign") }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(ctx, &signature, &length, data, data.count) == 1 else { throw TLSError.drain("EVP_DigestSign") }
        return Array(signature.prefix(length))
    }

    /// Whether `signature` is a valid signature of `data` by the key of `publicPEM`. Stands for
    /// `EVP_DigestVerifyInit` + `EVP_DigestVerify`.
    public static func verify(publicPEM: String, data: [UInt8], signature: [UInt8], digest: DigestName = .sha256) -> Bool {
        guard let key = try? CertificateAuthority.withReadBIO(publicPEM, { PEM_read_bio_PUBKEY($0, nil, nil, nil) }) else {
            ERR_clear_error()
            return false
        }
        defer { EVP_PKEY_free(key) }
        guard let ctx = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestVerifyInit(ctx, nil, digest == .sha1 ? EVP_sha1() : EVP_sha256(), nil, key) == 1 else { return false }
        let ok = EVP_DigestVerify(ctx, signature, signature.count, data, data.count) == 1
        ERR_clear_error()
        return ok
    }
}

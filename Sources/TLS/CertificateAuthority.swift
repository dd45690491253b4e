internal import COpenSSL
internal import CTLSShim

/// A PEM-encoded private key and certificate.
public struct PEMPair: Sendable {
    public let certificate: String
    public let privateKey: String
    public init(certificate: String, privateKey: String) {
        self.certificate = certificate
        self.privateKey = privateKey
    }
}

/// Builds the cluster CA and node certificates (ECDSA P-256, SHA-256 signatures) the way a PVE cluster
/// lays them out: one self-signed root per cluster, one certificate per node signed by it.
public enum CertificateAuthority {
    /// A self-signed CA certificate valid for `days`.
    public static func makeRoot(commonName: String, days: Int = 3650) throws -> PEMPair {
        let key = try generateKey()
        defer { EVP_PKEY_free(key) }
        let cert = try makeCertificate(
            subjectCN: commonName, organization: "Corral Cluster Manager CA", publicKey: key, days: days)
        defer { X509_free(cert) }
        guard X509_set_issuer_name(cert, X509_get_subject_name(cert)) == 1 else { throw TLSError.drain("X509_set_issuer_name") }
        try addExtension(cert, issuer: cert, NID_basic_constraints, "critical,CA:TRUE")
        try addExtension(cert, issuer: cert, NID_key_usage, "critical,keyCertSign,cRLSign")
        try addExtension(cert, issuer: cert, NID_subject_key_identifier, "hash")
        try sign(cert, with: key)
        return PEMPair(certificate: try pem(ofCertificate: cert), privateKey: try pem(ofKey: key))
    }

    /// A server certificate for a node, signed by the CA in `ca`; names and addresses go into subjectAltName.
    public static func makeNode(
        ca: PEMPair, nodeName: String, dnsNames: [String], ipAddresses: [String], days: Int = 730
    ) throws -> PEMPair {
        let caKey = try readKey(ca.privateKey)
        defer { EVP_PKEY_free(caKey) }
        let caCert = try readCertificate(ca.certificate)
        defer { X509_free(caCert) }
        let key = try generateKey()
        defer { EVP_PKEY_free(key) }
        let cert = try makeCertificate(
            subjectCN: nodeName, organization: "Corral Cluster Node", publicKey: key, days: days)
        defer { X509_free(cert) }
        guard X509_set_issuer_name(cert, X509_get_subject_name(caCert)) == 1 else { throw TLSError.drain("X509_set_issuer_name") }
        let names = dnsNames.map { "DNS:\($0)" } + ipAddresses.map { "IP:\($0)" }
        try addExtension(cert, issuer: caCert, NID_basic_constraints, "critical,CA:FALSE")
        try addExtension(cert, issuer: caCert, NID_key_usage, "critical,digitalSignature,keyAgreement")
        try addExtension(cert, issuer: caCert, NID_ext_key_usage, "serverAuth")
        try addExtension(cert, issuer: caCert, NID_authority_key_identifier, "keyid:always")
        if !names.isEmpty { try addExtension(cert, issuer: caCert, NID_subject_alt_name, names.joined(separator: ",")) }
        try sign(cert, with: caKey)
        return PEMPair(certificate: try pem(ofCertificate: cert), privateKey: try pem(ofKey: key))
    }

    /// The SHA-256 fingerprint of a PEM certificate as colon-separated upper-case hex (PVE's `ssl_fingerprint`).
    public static func fingerprint(pemCertificate: String) throws -> String {
        let cert = try readCertificate(pemCertificate)
        defer { X509_free(cert) }
        guard let fingerprint = sha256Fingerprint(cert) else { throw TLSError.drain("X509_digest") }
        return fingerprint
    }

    static func sha256Fingerprint(_ cert: OpaquePointer) -> String? {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(cert, EVP_sha256(), &out, &length) == 1 else { return nil }
        return out[0..<Int(length)].map { hex2($0) }.joined(separator: ":")
    }

    private static func hex2(_ b: UInt8) -> String {
        let d = Array("0123456789ABCDEF")
        return String([d[Int(b >> 4)], d[Int(b & 15)]])
    }

    private static func generateKey() throws -> OpaquePointer {
        guard let key = corral_evp_ec_p256_generate() else { throw TLSError.drain("EVP_EC_gen") }
        return key
    }

    private static func makeCertificate(
        subjectCN: String, organization: String, publicKey: OpaquePointer, days: Int
    ) throws -> OpaquePointer {
        guard let cert = X509_new() else { throw TLSError.drain("X509_new") }
        var serial = try Digest.randomBytes(16)
        serial[0] &= 0x7f  // a positive INTEGER
        let bn = BN_bin2bn(serial, Int32(serial.count), nil)
        defer { BN_free(bn) }
        guard X509_set_version(cert, 2) == 1,
            BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nil,
            X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != nil,
            X509_gmtime_adj(X509_getm_notAfter(cert), days * 86400) != nil,
            X509_set_pubkey(cert, publicKey) == 1
        else {
            X509_free(cert)
            throw TLSError.drain("X509 setup")
        }
        let name = X509_get_subject_name(cert)
        for (field, value) in [("O", organization), ("OU", "Corral"), ("CN", subjectCN)] {
            let bytes = Array(value.utf8)
            guard X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, bytes, Int32(bytes.count), -1, 0) == 1 else {
                X509_free(cert)
                throw TLSError.drain("X509_NAME_add_entry_by_txt(\(field))")
            }
        }
        return cert
    }

    private static func addExtension(_ cert: OpaquePointer, issuer: OpaquePointer, _ nid: Int32, _ value: String) throws {
        guard corral_x509_add_ext(cert, issuer, nid, value) == 1 else { throw TLSError.drain("X509V3_EXT_conf_nid(\(value))") }
    }

    private static func sign(_ cert: OpaquePointer, with key: OpaquePointer) throws {
        guard X509_sign(cert, key, EVP_sha256()) > 0 else { throw TLSError.drain("X509_sign") }
    }

    private static func pem(ofCertificate cert: OpaquePointer) throws -> String {
        try withMemoryBIO { PEM_write_bio_X509($0, cert) == 1 }
    }

    private static func pem(ofKey key: OpaquePointer) throws -> String {
        try withMemoryBIO { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) == 1 }
    }

    static func withMemoryBIO(_ write: (OpaquePointer) -> Bool) throws -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw TLSError.drain("BIO_new") }
        defer { BIO_free(bio) }
        guard write(bio) else { throw TLSError.drain("PEM_write_bio") }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = BIO_read(bio, &chunk, Int32(chunk.count))
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<Int(n)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Runs `body` on a read-only memory BIO over `text`. The BIO borrows the bytes rather than
    /// copying them, so it must not outlive this call (a pointer to a Swift array is only valid
    /// inside the closure that receives it).
    static func withReadBIO<T>(_ text: String, _ body: (OpaquePointer) throws -> T) throws -> T {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { throw TLSError.drain("BIO_new_mem_buf") }
            defer { BIO_free(bio) }
            return try body(bio)
        }
    }

    static func readKey(_ pem: String) throws -> OpaquePointer {
        try withReadBIO(pem) { bio in
            guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else { throw TLSError.drain("PEM_read_bio_PrivateKey") }
            return key
        }
    }

    private static func readCertificate(_ pem: String) throws -> OpaquePointer {
        try withReadBIO(pem) { bio in
            guard let cert = PEM_read_bio_X509(bio, nil, nil, nil) else { throw TLSError.drain("PEM_read_bio_X509") }
            return cert
        }
    }
}

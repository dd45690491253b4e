internal import COpenSSL
internal import CTLSShim

/// A client-side TLS configuration for calls between cluster nodes. It does not check certificates
/// against a CA: the caller pins the peer's certificate by its SHA-256 fingerprint (from ClusterFS,
/// or given by the administrator on join), which is what identifies a node.
public final class TLSClientContext: @unchecked Sendable {
    let handle: OpaquePointer

    /// Stands for `SSL_CTX_new(TLS_client_method())` with TLS 1.2 as the minimum.
    public init() throws {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw TLSError.drain("SSL_CTX_new") }
        handle = ctx
        guard corral_ssl_ctx_set_min_proto(ctx, TLS1_2_VERSION) == 1 else { throw TLSError.drain("SSL_CTX_set_min_proto_version") }
        _ = corral_ssl_ctx_set_mode(ctx, Int(SSL_MODE_AUTO_RETRY))
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
    }

    /// A context that checks the server's chain against the system's CAs (Debian's
    /// ca-certificates) and its name against the host it is given on `connect`: for services outside
    /// the cluster (an InfluxDB over HTTPS). With `verify` false it checks nothing, on request.
    /// Stands for `SSL_CTX_set_default_verify_paths` (or `SSL_CTX_load_verify_locations` with
    /// `caFile`) and `SSL_VERIFY_PEER`.
    public convenience init(verify: Bool, caFile: String? = nil) throws {
        try self.init()
        if verify {
            if let caFile {
                // a CA of the administrator's own (an OpenID provider's private CA), instead of the system's
                guard SSL_CTX_load_verify_locations(handle, caFile, nil) == 1 else { throw TLSError.drain("SSL_CTX_load_verify_locations") }
            } else {
                guard SSL_CTX_set_default_verify_paths(handle) == 1 else { throw TLSError.drain("SSL_CTX_set_default_verify_paths") }
            }
            SSL_CTX_set_verify(handle, SSL_VERIFY_PEER, nil)
        }
    }

    deinit { SSL_CTX_free(handle) }

    /// As `connect(fileDescriptor:serverName:)`, the certificate also checked to be `host`'s (a name or
    /// an address); only a context made with `verify: true` fails the handshake on a mismatch.
    /// Stands for `SSL_set1_host` / `X509_VERIFY_PARAM_set1_ip_asc`.
    public func connect(fileDescriptor: Int32, verifying host: String) throws -> TLSSession {
        guard let ssl = SSL_new(handle) else { throw TLSError.drain("SSL_new") }
        let session = TLSSession(ssl)
        guard SSL_set_fd(ssl, fileDescriptor) == 1 else { throw TLSError.drain("SSL_set_fd") }
        if host.first?.isLetter == true {
            _ = corral_ssl_set_host_name(ssl, host)
            guard SSL_set1_host(ssl, host) == 1 else { throw TLSError.drain("SSL_set1_host") }
        } else {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 else { throw TLSError.drain("X509_VERIFY_PARAM_set1_ip_asc") }
        }
        SSL_set_connect_state(ssl)
        ERR_clear_error()
        guard SSL_connect(ssl) == 1 else { throw TLSError.drain("SSL_connect") }
        return session
    }

    /// A client session on a connected, blocking socket; the handshake runs at once. Stands for
    /// `SSL_new`, `SSL_set_fd`, `SSL_set_tlsext_host_name` and `SSL_connect`.
    public func connect(fileDescriptor: Int32, serverName: String?) throws -> TLSSession {
        guard let ssl = SSL_new(handle) else { throw TLSError.drain("SSL_new") }
        let session = TLSSession(ssl)
        guard SSL_set_fd(ssl, fileDescriptor) == 1 else { throw TLSError.drain("SSL_set_fd") }
        if let serverName, serverName.first?.isLetter == true { _ = corral_ssl_set_host_name(ssl, serverName) }
        SSL_set_connect_state(ssl)
        ERR_clear_error()
        guard SSL_connect(ssl) == 1 else { throw TLSError.drain("SSL_connect") }
        return session
    }
}

extension TLSSession {
    /// The SHA-256 fingerprint of the peer's certificate, colon-separated upper-case hex (as
    /// `CertificateAuthority.fingerprint`); nil when the peer sent none.
    public var peerFingerprint: String? {
        guard let cert = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(cert) }
        return CertificateAuthority.sha256Fingerprint(cert)
    }
}

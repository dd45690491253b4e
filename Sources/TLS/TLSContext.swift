internal import COpenSSL
internal import CTLSShim

/// A server-side TLS configuration (TLS 1.2 and 1.3) holding one certificate chain and key.
/// Thread-safe once built: OpenSSL's SSL_CTX may be shared by sessions on any thread.
public final class TLSContext: @unchecked Sendable {
    let handle: OpaquePointer

    /// Loads a PEM certificate chain and private key. Stands for `SSL_CTX_new(TLS_server_method())`,
    /// `SSL_CTX_use_certificate_chain_file` and `SSL_CTX_use_PrivateKey_file`.
    public init(certificateChainFile: String, privateKeyFile: String) throws {
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSError.drain("SSL_CTX_new") }
        handle = ctx
        guard corral_ssl_ctx_set_min_proto(ctx, TLS1_2_VERSION) == 1 else {
            throw TLSError.drain("SSL_CTX_set_min_proto_version")
        }
        // Release idle read/write buffers (thousands of idle keep-alive connections otherwise hold ~34 KiB
        // each), and allow partial writes from a buffer that moves between retries.
        _ = corral_ssl_ctx_set_mode(
            ctx, Int(SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        // read whatever the socket holds in one read(2), not a record header and then its body: one
        // system call less per request. Stands for `SSL_CTX_set_read_ahead`.
        _ = SSL_CTX_ctrl(ctx, SSL_CTRL_SET_READ_AHEAD, 1, nil)
        _ = corral_ssl_ctx_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_SERVER))
        _ = corral_ssl_ctx_set_ecdh_auto(ctx)
        // one TLS 1.3 ticket is enough to resume; OpenSSL's default of two doubles the work of every
        // full handshake. Stands for `SSL_CTX_set_num_tickets`.
        SSL_CTX_set_num_tickets(ctx, 1)
        corral_ssl_ctx_harden(ctx)
        guard SSL_CTX_use_certificate_chain_file(ctx, certificateChainFile) == 1 else {
            throw TLSError.drain("SSL_CTX_use_certificate_chain_file(\(certificateChainFile))")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, privateKeyFile, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError.drain("SSL_CTX_use_PrivateKey_file(\(privateKeyFile))")
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else { throw TLSError.drain("SSL_CTX_check_private_key") }
    }

    deinit { SSL_CTX_free(handle) }

    /// A new session on an already-connected, non-blocking socket. Stands for `SSL_new` + `SSL_set_fd`.
    public func makeSession(fileDescriptor: Int32) throws -> TLSSession {
        guard let ssl = SSL_new(handle) else { throw TLSError.drain("SSL_new") }
        guard SSL_set_fd(ssl, fileDescriptor) == 1 else {
            SSL_free(ssl)
            throw TLSError.drain("SSL_set_fd")
        }
        SSL_set_accept_state(ssl)
        return TLSSession(ssl)
    }
}

internal import COpenSSL

/// The outcome of one non-blocking TLS operation.
public enum TLSIOResult: Equatable {
    case done(Int)
    case wantRead
    case wantWrite
    case closed
    case failed(String)
}

/// One TLS connection over a non-blocking socket, driven by the caller's event loop. Not thread-safe:
/// a session belongs to the loop thread that owns its socket.
public final class TLSSession {
    let ssl: OpaquePointer

    init(_ ssl: OpaquePointer) { self.ssl = ssl }
    deinit { SSL_free(ssl) }

    /// Advances the server handshake. Stands for `SSL_do_handshake`.
    public func handshake() -> TLSIOResult {
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        return rc == 1 ? .done(0) : classify(rc, "SSL_do_handshake")
    }

    /// Reads decrypted bytes. Stands for `SSL_read`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> TLSIOResult {
        Self.clearErrors()
        let rc = SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
        return rc > 0 ? .done(Int(rc)) : classify(rc, "SSL_read")
    }

    /// Writes bytes; may write fewer than given. Stands for `SSL_write`.
    public func write(_ buffer: UnsafeRawBufferPointer) -> TLSIOResult {
        Self.clearErrors()
        let rc = SSL_write(ssl, buffer.baseAddress, Int32(buffer.count))
        return rc > 0 ? .done(Int(rc)) : classify(rc, "SSL_write")
    }

    /// SSL_get_error needs an empty error queue. Looking costs less than clearing its sixteen slots
    /// on every read and write, and the queue is nearly always empty.
    private static func clearErrors() {
        if ERR_peek_error() != 0 { ERR_clear_error() }
    }

    /// Whether bytes are buffered inside OpenSSL, decrypted or not yet (read-ahead takes whole
    /// records from the socket, which epoll then cannot see). Stands for `SSL_has_pending`.
    public var hasPendingBytes: Bool { SSL_has_pending(ssl) == 1 }

    /// Sends close_notify without waiting for the peer's. Stands for `SSL_shutdown`.
    public func shutdown() {
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
    }

    /// The negotiated protocol, e.g. "TLSv1.3". Stands for `SSL_get_version`.
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    private func classify(_ rc: Int32, _ function: String) -> TLSIOResult {
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL:
            ERR_clear_error()
            return .closed
        default:
            return .failed(TLSError.drain(function).message)
        }
    }
}

import Glibc
import TLS

/// The byte stream under a connection: a plain socket or a TLS session on it. Results use the TLS
/// vocabulary so the connection treats both alike.
enum Transport {
    case plain(Int32)
    case tls(TLSSession)

    func read(into buffer: UnsafeMutableRawBufferPointer) -> TLSIOResult {
        switch self {
        case .plain(let fd):
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n > 0 { return .done(n) }
            if n == 0 { return .closed }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return .wantRead }
            return .failed(String(cString: strerror(errno)))
        case .tls(let session):
            return session.read(into: buffer)
        }
    }

    func write(_ buffer: UnsafeRawBufferPointer) -> TLSIOResult {
        switch self {
        case .plain(let fd):
            let n = send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .done(n) }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return .wantWrite }
            return .failed(String(cString: strerror(errno)))
        case .tls(let session):
            return session.write(buffer)
        }
    }

    var hasPendingBytes: Bool {
        if case .tls(let session) = self { return session.hasPendingBytes }
        return false
    }
}

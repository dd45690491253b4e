import Errors
import Foundation
import Glibc
import TLS

/// One blocking HTTPS/1.1 connection to a node whose certificate is pinned. Runs on the blocking
/// executor (each call waits for the network); the pool reuses it while the server keeps it open.
final class PeerConnection {
    let address: PeerAddress
    private let fd: Int32
    private let session: TLSSession
    private var buffer: [UInt8] = []
    private(set) var reusable = true
    /// What the peer presented.
    let peerFingerprint: String

    init(_ address: PeerAddress, context: TLSClientContext, connectTimeout: Double, ioTimeout: Double) throws(PeerError) {
        self.address = address
        fd = try Self.connect(address, timeout: connectTimeout)
        Self.setTimeout(fd, ioTimeout)
        do {
            session = try context.connect(fileDescriptor: fd, serverName: address.host)
        } catch {
            Glibc.close(fd)
            throw PeerError(PeerError.unreachable, "TLS handshake with \(address.authority) failed: \(error)")
        }
        peerFingerprint = session.peerFingerprint ?? ""
        // an empty fingerprint only asks what the peer presents (nothing is sent over such a connection)
        guard address.fingerprint.isEmpty || peerFingerprint.uppercased() == address.fingerprint.uppercased() else {
            session.shutdown()
            Glibc.close(fd)
            throw PeerError(
                PeerError.fingerprintMismatch,
                "the certificate of \(address.authority) does not match the expected fingerprint \(address.fingerprint.uppercased()) (it has \(peerFingerprint))"
            )
        }
    }

    deinit {
        session.shutdown()
        Glibc.close(fd)
    }

    func setIOTimeout(_ seconds: Double) { Self.setTimeout(fd, seconds) }

    /// Separate bounds for reads and writes: a tunnel polls with short reads, but a write must wait
    /// for a slow receiver (cut short, it would lose the bytes of a stream).
    func setIOTimeout(read: Double, write: Double) {
        Self.setTimeout(fd, read, option: SO_RCVTIMEO)
        Self.setTimeout(fd, write, option: SO_SNDTIMEO)
    }

    /// Sends a request (optionally followed by a file's bytes and a trailer) and reads the whole response.
    func exchange(_ request: [UInt8], file: String? = nil, trailer: [UInt8] = []) throws(PeerError) -> PeerResponse {
        try writeAll(request)
        if let file {
            guard let handle = FileHandle(forReadingAtPath: file) else {
                reusable = false
                throw PeerError(.failed, "cannot read \(file) to send it")
            }
            defer { try? handle.close() }
            while let chunk = try? handle.read(upToCount: 256 * 1024), !chunk.isEmpty { try writeAll([UInt8](chunk)) }
            try writeAll(trailer)
        }
        let head = try readHead()
        var response = head.response
        if head.chunked {
            response.body = try readChunked()
        } else if let length = head.length {
            response.body = try readExactly(length)
        } else {
            response.body = try readToEnd()
            reusable = false
        }
        if response.header("Connection")?.lowercased() == "close" { reusable = false }
        return response
    }

    /// Sends an upgrade request and reads the response's head only: what follows belongs to the
    /// upgraded protocol (read it with `readAvailable`).
    func upgrade(_ request: [UInt8]) throws(PeerError) -> PeerResponse {
        reusable = false
        try writeAll(request)
        return try readHead().response
    }

    var socket: Int32 { fd }

    /// Bytes already read past what was consumed, then whatever one read brings; [] when the read
    /// timed out, nil at the end of the stream.
    func readAvailable() throws(PeerError) -> [UInt8]? {
        if !buffer.isEmpty {
            defer { buffer = [] }
            return buffer
        }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        switch chunk.withUnsafeMutableBytes({ session.read(into: $0) }) {
        case .done(let n): return Array(chunk[0..<n])
        case .wantRead, .wantWrite: return []
        case .closed: return nil
        case .failed(let message): throw PeerError(PeerError.unreachable, "reading from \(address.authority) failed: \(message)")
        }
    }

    /// Whether decrypted bytes wait inside OpenSSL (poll cannot see them).
    var hasBufferedBytes: Bool { !buffer.isEmpty || session.hasPendingBytes }

    func write(_ bytes: [UInt8]) throws(PeerError) { try writeAll(bytes) }

    // MARK: bytes

    private func writeAll(_ bytes: [UInt8]) throws(PeerError) {
        var offset = 0
        while offset < bytes.count {
            let result = bytes.withUnsafeBytes { session.write(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            switch result {
            case .done(let n): offset += n
            case .wantRead, .wantWrite: throw PeerError(PeerError.timedOut, "\(address.authority) did not accept the request in time")
            case .closed, .failed:
                reusable = false
                throw PeerError(PeerError.unreachable, "\(address.authority) closed the connection")
            }
        }
    }

    /// More bytes into the buffer; false at the end of the stream.
    private func fill() throws(PeerError) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let result = chunk.withUnsafeMutableBytes { session.read(into: $0) }
        switch result {
        case .done(let n):
            buffer += chunk[0..<n]
            return true
        case .closed:
            reusable = false
            return false
        case .wantRead, .wantWrite:
            reusable = false
            throw PeerError(PeerError.timedOut, "\(address.authority) did not answer in time")
        case .failed(let message):
            reusable = false
            throw PeerError(PeerError.unreachable, "reading from \(address.authority) failed: \(message)")
        }
    }

    private func readLine() throws(PeerError) -> String {
        while true {
            if let index = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<index])
                buffer.removeSubrange(...index)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard try fill() else { throw PeerError(PeerError.unreachable, "\(address.authority) closed the connection mid-response") }
        }
    }

    private func readHead() throws(PeerError) -> (response: PeerResponse, length: Int?, chunked: Bool) {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            reusable = false
            throw PeerError(PeerError.unreachable, "\(address.authority) sent no HTTP response")
        }
        var headers: [(name: String, value: String)] = []
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var response = PeerResponse(status: status, reason: parts.count > 2 ? String(parts[2]) : "", headers: headers, body: [])
        let chunked = response.header("Transfer-Encoding")?.lowercased().contains("chunked") == true
        let length = response.header("Content-Length").flatMap { Int($0) }
        response.body = []
        return (response, length, chunked)
    }

    private func readExactly(_ count: Int) throws(PeerError) -> [UInt8] {
        while buffer.count < count {
            guard try fill() else { throw PeerError(PeerError.unreachable, "\(address.authority) closed the connection mid-response") }
        }
        let out = Array(buffer[..<count])
        buffer.removeSubrange(..<count)
        return out
    }

    private func readChunked() throws(PeerError) -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let sizeLine = try readLine()
            guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
                reusable = false
                throw PeerError(PeerError.unreachable, "\(address.authority) sent a malformed chunk")
            }
            if size == 0 {
                while try !readLine().isEmpty {}
                return out
            }
            out += try readExactly(size)
            _ = try readLine()
        }
    }

    private func readToEnd() throws(PeerError) -> [UInt8] {
        while try fill() {}
        defer { buffer = [] }
        return buffer
    }

    // MARK: sockets

    private static func setTimeout(_ fd: Int32, _ seconds: Double) {
        setTimeout(fd, seconds, option: SO_RCVTIMEO)
        setTimeout(fd, seconds, option: SO_SNDTIMEO)
    }

    private static func setTimeout(_ fd: Int32, _ seconds: Double, option: Int32) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// A connected TCP socket, or an error within `timeout` (a dead address must fail fast).
    private static func connect(_ address: PeerAddress, timeout: Double) throws(PeerError) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(address.host, String(address.port), &hints, &list) == 0, let first = list else {
            throw PeerError(PeerError.unreachable, "cannot resolve '\(address.host)'")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = Glibc.socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { continue }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var rc = Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen)
            if rc != 0 && errno == EINPROGRESS {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&pfd, 1, Int32(timeout * 1000))
                if ready == 1 {
                    var error: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                    rc = error == 0 ? 0 : -1
                    if error != 0 { errno = error }
                } else {
                    rc = -1
                    errno = ETIMEDOUT
                }
            }
            if rc == 0 {
                _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
                return fd
            }
            lastError = String(cString: strerror(errno))
            Glibc.close(fd)
        }
        throw PeerError(PeerError.unreachable, "cannot connect to \(address.authority): \(lastError)")
    }
}

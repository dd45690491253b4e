import Foundation
import Glibc
import TLS

/// A small blocking HTTP/1.1 client for the services corrald calls out to (an InfluxDB, an OpenID
/// provider): one request per connection (`Connection: close`), HTTPS through the TLS wrapper with
/// the system's CAs or a named CA file, a timeout on the connect and on every read and write.
/// Bodies come back whole (Content-Length, chunked, or up to the close), at most `limit` bytes.
/// Callers run it on the blocking executor or a queue of their own.
public enum WebClient {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    public struct Response: Sendable {
        public let status: Int
        /// Header names lowercased.
        public let headers: [String: String]
        public let body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Sends `method url` with `headers` and `body`. `verify` checks an HTTPS server's certificate
    /// (chain and name) against the system's CAs, or against `caFile` when one is named.
    public static func send(
        _ method: String, _ url: String, headers: [(String, String)] = [], body: [UInt8] = [], timeout: Double = 10, verify: Bool = true,
        caFile: String? = nil, limit: Int = 8 << 20
    ) throws -> Response {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme, ["http", "https"].contains(scheme), let host = parts.host else {
            throw Failure("not an http(s) URL: '\(url)'")
        }
        let port = parts.port ?? (scheme == "https" ? 443 : 80)
        let target = (parts.percentEncodedPath.isEmpty ? "/" : parts.percentEncodedPath) + (parts.percentEncodedQuery.map { "?" + $0 } ?? "")
        let authority = host.contains(":") ? "[\(host)]" : host
        var head =
            "\(method) \(target) HTTP/1.1\r\nHost: \(authority)\(parts.port.map { ":\($0)" } ?? "")\r\nUser-Agent: corral\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { head += "Content-Length: \(body.count)\r\n" }
        let request = Array((head + "\r\n").utf8) + body
        let socket = try connect(host, port, datagram: false, timeout: timeout)
        defer { close(socket) }
        let raw: [UInt8]
        if scheme == "https" {
            let context = try TLSClientContext(verify: verify, caFile: caFile)
            let session: TLSSession
            do { session = try context.connect(fileDescriptor: socket, verifying: host) } catch {
                throw Failure("TLS with \(authority):\(port) failed: \(error)")
            }
            defer { session.shutdown() }
            try write(session, request)
            raw = try readAll(limit: limit) { buffer in
                switch session.read(into: buffer) {
                case .done(let n): return n
                case .closed: return 0
                case let other: throw Failure("TLS read failed: \(other)")
                }
            }
        } else {
            try write(socket, request)
            raw = try readAll(limit: limit) { buffer in
                let n = recv(socket, buffer.baseAddress, buffer.count, 0)
                if n < 0 { throw Failure("no answer from \(authority):\(port): \(String(cString: strerror(errno)))") }
                return n
            }
        }
        return try parse(raw, from: "\(authority):\(port)")
    }

    /// Status, headers and the body (de-chunked) of a whole response.
    static func parse(_ raw: [UInt8], from peer: String) throws -> Response {
        guard let end = raw.firstRange(of: [13, 10, 13, 10]) else { throw Failure("no HTTP answer from \(peer)") }
        let lines = String(decoding: raw[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/"), let status = Int(statusParts[1]) else {
            throw Failure("no HTTP answer from \(peer)")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(raw[end.upperBound...])
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            body = try dechunk(body)
        } else if let length = headers["content-length"].flatMap(Int.init), length <= body.count {
            body = Array(body.prefix(length))
        }
        return Response(status: status, headers: headers, body: body)
    }

    static func dechunk(_ data: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while true {
            guard let lineEnd = data[index...].firstRange(of: [13, 10]) else { throw Failure("a chunked body ends early") }
            let sizeText = String(decoding: data[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { throw Failure("a bad chunk size") }
            index = lineEnd.upperBound
            if size == 0 { return out }
            guard index + size <= data.count else { throw Failure("a chunked body ends early") }
            out += data[index..<index + size]
            index += size + 2
        }
    }

    // MARK: sockets

    /// A connected socket to `host:port` (a name resolved now), with `timeout` on the connect and
    /// on every read and write.
    public static func connect(_ host: String, _ port: Int, datagram: Bool, timeout: Double) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(datagram ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let rc = getaddrinfo(bare, String(port), &hints, &list)
        guard rc == 0, let first = list else { throw Failure("cannot resolve '\(host)': \(String(cString: gai_strerror(rc)))") }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        let wait = max(timeout, 0.1)
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            var tv = timeval(tv_sec: Int(wait), tv_usec: Int((wait - Double(Int(wait))) * 1e6))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            // a blocking connect bounded by SO_SNDTIMEO (Linux applies it to connect)
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
            lastError = errno == EINPROGRESS || errno == EAGAIN ? "timed out" : String(cString: strerror(errno))
            close(fd)
        }
        throw Failure("cannot connect to \(host):\(port): \(lastError)")
    }

    public static func write(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure("send failed: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    static func write(_ session: TLSSession, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let result = bytes.withUnsafeBytes { session.write(UnsafeRawBufferPointer(rebasing: $0[sent...])) }
            guard case .done(let n) = result else { throw Failure("TLS send failed: \(result)") }
            sent += n
        }
    }

    private static func readAll(limit: Int, _ read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try read($0) }
            if n == 0 { return out }
            out += buffer[0..<n]
            guard out.count <= limit else { throw Failure("the answer is larger than \(limit) bytes") }
        }
    }
}

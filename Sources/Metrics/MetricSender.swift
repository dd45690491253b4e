import Foundation
import Glibc
import TLS

/// Sends a cycle's lines to one external server: UDP datagrams (Graphite or InfluxDB), a Graphite
/// TCP stream, or InfluxDB's HTTP(S) write API with its token. Blocking, with the server's timeout
/// on every connect and write: it runs on the metrics sender's own queue, never the sampler's.
struct MetricSender {
    let server: MetricServerConfig.Server

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// The lines a cycle gives for this server's type.
    func lines(_ cycle: MetricCycle) -> [String] {
        server.type == "graphite" ? MetricLines.graphite(cycle, path: server.path) : MetricLines.influx(cycle)
    }

    func send(_ cycle: MetricCycle) throws {
        let lines = lines(cycle)
        guard !lines.isEmpty else { return }
        switch (server.type, server.proto) {
        case (_, "udp"):
            let socket = try Self.connect(server.server, server.port, datagram: true, timeout: server.timeout)
            defer { close(socket) }
            // one datagram a batch, below the path's MTU less the IP and UDP headers (PVE's sizing)
            for batch in MetricLines.batches(lines, size: max(server.mtu - 50, 64)) { try Self.write(socket, batch) }
        case ("graphite", _):
            let socket = try Self.connect(server.server, server.port, datagram: false, timeout: server.timeout)
            defer { close(socket) }
            for batch in MetricLines.batches(lines, size: 56_000) { try Self.write(socket, batch) }
        default:
            for batch in MetricLines.batches(lines, size: server.maxBodySize) {
                let query = "org=\(server.organization)&bucket=\(server.bucket)"
                try http("POST", "\(server.apiPathPrefix)api/v2/write?\(query)", body: batch)
            }
        }
    }

    /// What PVE checks before it stores a server: a TCP Graphite answers a connect, an HTTP(S)
    /// InfluxDB its health check; UDP only needs an address that resolves.
    func test() throws {
        switch (server.type, server.proto) {
        case (_, "udp"): close(try Self.connect(server.server, server.port, datagram: true, timeout: server.timeout))
        case ("graphite", _): close(try Self.connect(server.server, server.port, datagram: false, timeout: server.timeout))
        default: try http("GET", "\(server.apiPathPrefix)health", body: [])
        }
    }

    // MARK: HTTP

    /// One request on a connection of its own; anything but 2xx is an error naming the status.
    func http(_ method: String, _ target: String, body: [UInt8]) throws {
        let socket = try Self.connect(server.server, server.port, datagram: false, timeout: server.timeout)
        defer { close(socket) }
        let host = server.server.contains(":") ? "[\(server.server)]:\(server.port)" : "\(server.server):\(server.port)"
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: corral\r\nConnection: close\r\n"
        if let token = server.token { head += "Authorization: Token \(token)\r\n" }
        if method == "POST" { head += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.count)\r\n" }
        let request = Array((head + "\r\n").utf8) + body
        var response: [UInt8]
        if server.proto == "https" {
            let context = try TLSClientContext(verify: server.verifyCertificate)
            let session = try context.connect(fileDescriptor: socket, verifying: server.server)
            defer { session.shutdown() }
            try Self.write(session, request)
            response = try Self.readHead(session)
        } else {
            try Self.write(socket, request)
            response = try Self.readHead(socket)
        }
        let line = String(decoding: response.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let parts = line.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure("no HTTP answer from \(host)") }
        guard (200..<300).contains(status) else { throw Failure("\(status) \(parts.count > 2 ? String(parts[2]) : "")") }
    }

    // MARK: sockets

    /// A connected socket to `host:port` (a name resolved now, as PVE resolves at every connect), with
    /// `timeout` on the connect and on every read and write.
    static func connect(_ host: String, _ port: Int, datagram: Bool, timeout: Double) throws -> Int32 {
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

    static func write(_ fd: Int32, _ bytes: [UInt8]) throws {
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

    /// Reads until the end of the response head (or the connection's end).
    static func readHead(_ fd: Int32) throws -> [UInt8] {
        try readHead { buffer in
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n < 0 { throw Failure("no answer: \(String(cString: strerror(errno)))") }
            return n
        }
    }

    static func readHead(_ session: TLSSession) throws -> [UInt8] {
        try readHead { buffer in
            switch session.read(into: buffer) {
            case .done(let n): return n
            case .closed: return 0
            case let other: throw Failure("TLS read failed: \(other)")
            }
        }
    }

    private static func readHead(_ read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while out.count < 65_536 {
            let n = try buffer.withUnsafeMutableBytes { try read($0) }
            if n == 0 { break }
            out += buffer[0..<n]
            if out.count >= 4, out.firstRange(of: [13, 10, 13, 10]) != nil { break }
        }
        return out
    }
}

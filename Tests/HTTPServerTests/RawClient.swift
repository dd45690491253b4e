import Foundation
import Glibc

/// A blocking loopback client that writes exact bytes and reads raw responses, so tests see what
/// goes over the wire (pipelining, 100-continue, closes).
final class RawClient {
    let fd: Int32

    init(port: UInt16, timeout: Int = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw POSIXError(.ECONNREFUSED) }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) { send(Array(text.utf8)) }
    func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }

    private var buffer: [UInt8] = []

    /// Reads until `count` bytes are buffered; false on close or timeout.
    private func fill(_ count: Int) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while buffer.count < count {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return false }
            buffer += chunk[0..<n]
        }
        return true
    }

    struct Response {
        var status: Int
        var reason: String
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Reads one response; `expectBody: false` for HEAD.
    func readResponse(expectBody: Bool = true) -> Response? {
        var end: Int?
        while end == nil {
            if let r = findHeadEnd() { end = r } else if !fill(buffer.count + 1) { return nil }
        }
        let head = String(decoding: buffer[0..<end!], as: UTF8.self)
        buffer.removeFirst(end! + 4)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2).map(String.init)
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body: [UInt8] = []
        if expectBody, let length = headers["content-length"].flatMap(Int.init), length > 0 {
            guard fill(length) else { return nil }
            body = Array(buffer[0..<length])
            buffer.removeFirst(length)
        }
        return Response(status: Int(statusLine[1]) ?? 0, reason: statusLine.count > 2 ? statusLine[2] : "", headers: headers, body: body)
    }

    /// Reads whatever arrives within the timeout (for streams and frames).
    func readSome(_ minimum: Int) -> [UInt8] {
        _ = fill(minimum)
        defer { buffer = [] }
        return buffer
    }

    /// Whether the server closed the connection (read returns 0 within the timeout).
    func isClosedByServer() -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 0
    }

    private func findHeadEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for i in 0...(buffer.count - 4) where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 { return i }
        return nil
    }
}

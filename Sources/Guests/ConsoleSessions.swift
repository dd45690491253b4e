import API
import Foundation
import Glibc
import Synchronization

/// One-time console tickets (`vncproxy`, `termproxy`) and the tunnels they open (`vncwebsocket`).
/// A ticket is bound to its user, VM, session port and socket; it is good once, for 40 s, as PVE's.
public final class ConsoleSessions: Sendable {
    public enum Kind: Sendable { case vnc, terminal }

    struct Ticket {
        var user: String
        var vmid: Int
        var port: Int
        var connect: @Sendable () throws -> (fd: Int32, release: (@Sendable () -> Void)?)
        var kind: Kind
        var expires: Date
    }

    private let tickets = Mutex<[String: Ticket]>([:])
    private let ports = Mutex<Set<Int>>([])

    public init() {}

    /// Issues a ticket for a unix socket; returns it with its session port (5900–5999).
    public func issue(user: String, vmid: Int, path: String, kind: Kind) throws -> (ticket: String, port: Int) {
        try issue(user: user, vmid: vmid, kind: kind) { (try Self.connect(path), nil) }
    }

    /// Issues a ticket whose tunnel runs over the descriptor `connect` opens when it is redeemed (a
    /// socket, or a container's pty); `release` runs when the tunnel closes (it frees the terminal).
    public func issue(
        user: String, vmid: Int, kind: Kind, connect: @escaping @Sendable () throws -> (fd: Int32, release: (@Sendable () -> Void)?)
    ) throws -> (ticket: String, port: Int) {
        let now = Date()
        tickets.withLock { $0 = $0.filter { $0.value.expires > now } }
        let port = try ports.withLock { used -> Int in
            let live = Set(tickets.withLock { $0.values.map(\.port) })
            used.formIntersection(live)
            guard let free = (5900...5999).first(where: { !used.contains($0) }) else { throw APIError(503, "all 100 console sessions are in use") }
            used.insert(free)
            return free
        }
        var bytes = [UInt8](repeating: 0, count: 24)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        let ticket = "CORRALVNC:" + bytes.map { String(format: "%02x", $0) }.joined()
        tickets.withLock {
            $0[ticket] = Ticket(user: user, vmid: vmid, port: port, connect: connect, kind: kind, expires: now.addingTimeInterval(40))
        }
        return (ticket, port)
    }

    /// Redeems a ticket (once) and opens the tunnel to its socket.
    public func open(ticket: String, user: String, vmid: Int, port: Int) throws -> any ByteTunnel {
        guard let entry = tickets.withLock({ $0.removeValue(forKey: ticket) }), entry.expires > Date() else {
            throw APIError(401, "permission denied - invalid vncticket")
        }
        defer { _ = ports.withLock { $0.remove(entry.port) } }
        guard entry.user == user, entry.vmid == vmid, entry.port == port else { throw APIError(401, "permission denied - invalid vncticket") }
        let (fd, release) = try entry.connect()
        return entry.kind == .vnc
            ? SocketTunnel(fd: fd, framing: false, release: release)
            : SocketTunnel(fd: fd, framing: true, expectedLogin: "\(user):\(ticket)", release: release)
    }

    /// A connected unix stream socket to a guest's console socket (also `qm terminal`'s).
    public static func connect(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw APIError(500, "cannot create a socket") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw APIError(500, "console socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw APIError(500, "the VM's console is not available (is it running?)")
        }
        return fd
    }
}

/// Joins a client to a unix socket or a pty. A reader thread copies the descriptor to the client;
/// client bytes are written to it. With `framing`, the client speaks PVE's terminal protocol: first
/// `user:ticket\n` (answered `OK`), then `0:LEN:DATA` input, `1:COLS:ROWS:` resize, `2` keep-alive.
final class SocketTunnel: ByteTunnel, @unchecked Sendable {
    private let fd: Int32
    private let framing: Bool
    private let expectedLogin: String?
    private let release: (@Sendable () -> Void)?
    private let state = Mutex<(client: (any TunnelClient)?, loggedIn: Bool, buffer: [UInt8], closed: Bool)>((nil, false, [], false))

    init(fd: Int32, framing: Bool, expectedLogin: String? = nil, release: (@Sendable () -> Void)? = nil) {
        self.fd = fd
        self.release = release
        self.framing = framing
        self.expectedLogin = expectedLogin
    }

    func opened(_ client: any TunnelClient) {
        state.withLock {
            $0.client = client; $0.loggedIn = !framing
        }
        // a terminal client gets output only after its login line was answered `OK`
        if !framing { startPump(client) }
    }

    private func startPump(_ client: any TunnelClient) {
        let thread = Thread { [self] in pump(client) }
        thread.name = "console-\(fd)"
        thread.start()
    }

    private func pump(_ client: any TunnelClient) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !state.withLock({ $0.closed }) {
            // a read blocked on a pty is not woken by close(), so the reader polls for the close
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let polled = poll(&ready, 1, 250)
            if polled == 0 || (polled < 0 && errno == EINTR) { continue }
            if polled < 0 { break }
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            client.send(Array(buffer[0..<n]))
        }
        client.close()
        closed()
    }

    func received(_ bytes: [UInt8]) {
        guard framing else { return writeAll(bytes) }
        var input: [UInt8] = []
        var reply: String?
        var reject = false
        state.withLock { s in
            s.buffer += bytes
            if !s.loggedIn {
                guard let newline = s.buffer.firstIndex(of: 10) else { return }
                let login = String(decoding: s.buffer[..<newline], as: UTF8.self)
                s.buffer.removeSubrange(...newline)
                if login == expectedLogin { s.loggedIn = true; reply = "OK" } else { reject = true; return }
            }
            // 0:LEN:DATA — several may arrive in one message, or one across messages
            while let first = s.buffer.first {
                if first == UInt8(ascii: "2") { s.buffer.removeFirst(); continue }
                if first == UInt8(ascii: "1") {
                    // 1:COLS:ROWS:
                    let fields = s.buffer.split(separator: UInt8(ascii: ":"), maxSplits: 3, omittingEmptySubsequences: false)
                    guard fields.count >= 4 else { break }
                    resize(cols: Int(String(decoding: fields[1], as: UTF8.self)), rows: Int(String(decoding: fields[2], as: UTF8.self)))
                    s.buffer.removeFirst(fields[0].count + fields[1].count + fields[2].count + 3)
                    continue
                }
                guard first == UInt8(ascii: "0"), s.buffer.count > 2, let colon = s.buffer[2...].firstIndex(of: UInt8(ascii: ":")),
                    let length = Int(String(decoding: s.buffer[2..<colon], as: UTF8.self))
                else { break }
                let start = colon + 1
                guard s.buffer.count >= start + length else { break }
                input += s.buffer[start..<(start + length)]
                s.buffer.removeSubrange(..<(start + length))
            }
        }
        if reject { return state.withLock { $0.client }?.close() ?? () }
        if let reply, let client = state.withLock({ $0.client }) {
            client.sendText(reply)
            startPump(client)
        }
        if !input.isEmpty { writeAll(input) }
    }

    /// A pty learns the client's window size; a socket has none to set.
    private func resize(cols: Int?, rows: Int?) {
        guard let cols, let rows, cols > 0, rows > 0, cols < 1000, rows < 1000, isatty(fd) == 1 else { return }
        var size = winsize(ws_row: UInt16(rows), ws_col: UInt16(cols), ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(fd, UInt(TIOCSWINSZ), &size)
    }

    private func writeAll(_ bytes: [UInt8]) { Self.writeAll(fd, bytes) }

    /// Writes all of `bytes` to a blocking descriptor (gives up when it fails).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }

    func closed() {
        let first = state.withLock { s -> Bool in
            defer { s.closed = true }
            return !s.closed
        }
        // shutdown wakes the reader; the descriptor is closed once, by whoever gets here first
        if first {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
            release?()
        }
    }
}

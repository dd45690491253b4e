import API
import Foundation
import Glibc
import Synchronization

/// The source node's ends of a live migration's channels. libvirt and QEMU only speak plain
/// sockets, so each channel is a local listener (the libvirt control connection on a unix socket,
/// QEMU's memory and disk streams on loopback TCP) whose every connection is carried to the
/// target node inside a WebSocket over the cluster's TLS (verified by the cluster CA, as every
/// node-to-node call): `open` makes that tunnel, and the target connects it to its own libvirtd or
/// to its QEMU's loopback port. Nothing of the migration crosses the network unencrypted, and no
/// SSH is involved.
public final class MigrationRelay: @unchecked Sendable {
    public enum Listen: Sendable {
        case unix(String)
        case loopbackTCP
    }

    private let fd: Int32
    /// The TCP port (loopback listeners).
    public let port: UInt16
    private let path: String?
    private let stopped = Atomic<Bool>(false)
    private let open: @Sendable (UInt16) throws -> any ByteTunnel
    private let log: @Sendable (String) -> Void

    /// `open` makes the tunnel for one connection; it is handed the listener's port (loopback
    /// listeners), which the target's end connects to as well.
    public init(_ listen: Listen, open: @escaping @Sendable (UInt16) throws -> any ByteTunnel, log: @escaping @Sendable (String) -> Void) throws {
        self.open = open
        self.log = log
        let sock: Int32
        var boundPort: UInt16 = 0
        var boundPath: String?
        switch listen {
        case .unix(let path):
            unlink(path)
            sock = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard sock >= 0 else { throw APIError(500, "cannot create a socket") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
                Glibc.close(sock)
                throw APIError(500, "socket path too long: \(path)")
            }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0 else {
                Glibc.close(sock)
                throw APIError(500, "cannot listen on \(path): \(String(cString: strerror(errno)))")
            }
            // only root (libvirtd) may use it
            chmod(path, 0o600)
            boundPath = path
        case .loopbackTCP:
            sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard sock >= 0 else { throw APIError(500, "cannot create a socket") }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, length) == 0 && getsockname(sock, $0, &length) == 0 }
            }
            guard bound else {
                Glibc.close(sock)
                throw APIError(500, "cannot listen on a loopback port: \(String(cString: strerror(errno)))")
            }
            boundPort = UInt16(bigEndian: address.sin_port)
        }
        guard Glibc.listen(sock, 8) == 0 else {
            Glibc.close(sock)
            throw APIError(500, "cannot listen: \(String(cString: strerror(errno)))")
        }
        fd = sock
        port = boundPort
        path = boundPath
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "migration-relay"
        thread.start()
    }

    /// Stops taking connections (those open go on until either end closes).
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if let path { unlink(path) }
    }

    private func acceptLoop() {
        defer { Glibc.close(fd) }
        while !stopped.load(ordering: .acquiring) {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&ready, 1, 200) <= 0 { continue }
            let connection = accept(fd, nil, nil)
            guard connection >= 0 else { continue }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            var one: Int32 = 1
            setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            do {
                let tunnel = try open(port)
                RelayedSocket(fd: connection, tunnel: tunnel).start()
            } catch {
                log("migration relay: cannot reach the target: \(error)")
                Glibc.close(connection)
            }
        }
    }

    /// The target's end: a tunnel into a socket this node connected (its libvirtd, or its QEMU's
    /// loopback port). What the source sends is written to the socket, what it answers goes back.
    public static func tunnel(into fd: Int32) -> any ByteTunnel { SocketTunnel(fd: fd, framing: false) }

    /// Connects to a loopback TCP port of this node.
    public static func connectLoopback(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw APIError(500, "cannot create a socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(fd)
            throw APIError(500, "nothing listens on 127.0.0.1:\(port)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }
}

/// One accepted connection joined to its tunnel: a thread reads the socket into the tunnel, the
/// tunnel's bytes are written to the socket. The socket is closed once, when its reader ends.
private final class RelayedSocket: TunnelClient, @unchecked Sendable {
    let fd: Int32
    let tunnel: any ByteTunnel
    private let state = Mutex<(closed: Bool, shut: Bool)>((false, false))

    init(fd: Int32, tunnel: any ByteTunnel) {
        self.fd = fd
        self.tunnel = tunnel
    }

    func start() {
        tunnel.opened(self)
        let thread = Thread { [self] in readLoop() }
        thread.name = "migration-relay-\(fd)"
        thread.start()
    }

    private func readLoop() {
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            tunnel.received(Array(buffer[0..<n]))
        }
        tunnel.closed()
        state.withLock {
            $0.closed = true
            Glibc.close(fd)
        }
    }

    func send(_ bytes: [UInt8]) {
        state.withLock { s in
            guard !s.closed else { return }
            SocketTunnel.writeAll(fd, bytes)
        }
    }

    func sendText(_ text: String) {}

    /// The target's end closed: no more to read either.
    func close() {
        state.withLock { s in
            guard !s.closed, !s.shut else { return }
            s.shut = true
            shutdown(fd, Int32(SHUT_RDWR))
        }
    }
}

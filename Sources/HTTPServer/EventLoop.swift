internal import CSocketShim
import Glibc
import Synchronization
import TLS

/// One thread, one epoll set. It owns its connections: their state is only touched on this thread.
/// Work from other threads (a response computed by an async handler, a stream chunk) arrives through
/// `execute`, which wakes the loop with an eventfd.
final class EventLoop: @unchecked Sendable {
    let epfd: Int32
    private let wakeFD: Int32
    private let queue = Mutex<[@Sendable () -> Void]>([])
    private(set) var connections: [Int32: Connection] = [:]
    private var listeners: Set<Int32> = []
    private var nextConnectionID: UInt64 = 0
    private var threadID = pthread_t()
    private let running = Atomic<Bool>(true)
    unowned let server: HTTPServer
    /// The server's, held here: read on every request without going through `server`.
    let responder: any HTTPResponder
    let index: Int
    /// Reused by every read on this loop: idle connections hold no read buffer of their own.
    var scratch = [UInt8](repeating: 0, count: 64 * 1024)
    private(set) var now: Int64 = Int64(time(nil))
    private var dateHeaderSecond: Int64 = 0
    /// `\r\nDate: …\r\nServer: …` as every response head carries it, remade once a second.
    private(set) var dateAndServerHeaders: [UInt8] = []
    var draining = false
    private var reportedDrained = false
    private let accessLog: AccessLog?
    private var accessLines = AccessLogBuffer()

    init(server: HTTPServer, index: Int) throws(HTTPServerError) {
        self.server = server
        self.index = index
        self.accessLog = server.accessLog
        self.responder = server.responder
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epfd >= 0 else { throw HTTPServerError.errno("epoll_create1") }
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wakeFD >= 0 else { throw HTTPServerError.errno("eventfd") }
        var event = corral_epoll_event(EPOLLIN.rawValue, wakeFD)
        epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFD, &event)
        refreshClock()
    }

    deinit {
        close(epfd)
        close(wakeFD)
    }

    var isCurrent: Bool { pthread_equal(pthread_self(), threadID) != 0 }

    func addListener(_ fd: Int32) {
        listeners.insert(fd)
        // EPOLLEXCLUSIVE: one loop wakes per incoming connection, not all of them.
        var event = corral_epoll_event(EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue, fd)
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event)
    }

    func removeListeners() {
        for fd in listeners { epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nil) }
        listeners.removeAll()
    }

    /// Runs `block` on the loop thread: at once when already there, otherwise on its next turn.
    func execute(_ block: @escaping @Sendable () -> Void) {
        if isCurrent {
            block()
            return
        }
        queue.withLock { $0.append(block) }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    func stop() {
        running.store(false, ordering: .releasing)
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    func run() {
        threadID = pthread_self()
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var lastSweep = now
        while running.load(ordering: .acquiring) {
            let count = epoll_wait(epfd, &events, Int32(events.count), 1000)
            refreshClock()
            inBatch = true
            if count > 0 {
                for i in 0..<Int(count) {
                    let fd = corral_epoll_event_fd(&events[i])
                    let flags = events[i].events
                    if fd == wakeFD {
                        var value: UInt64 = 0
                        _ = read(wakeFD, &value, 8)
                    } else if listeners.contains(fd) {
                        acceptConnections(fd)
                    } else if let connection = connections[fd] {
                        connection.handleEvents(flags)
                    }
                }
            }
            runQueued()
            inBatch = false
            flushBatch()
            if now != lastSweep {
                lastSweep = now
                sweep()
            }
        }
        for connection in Array(connections.values) { connection.close() }
        flushAccessLog()
    }

    /// While the loop works through one batch of events, answers collect and are written when the
    /// batch is done: a client with many connections is woken once for all of them instead of once
    /// per answer, and on a loaded machine each wake-up is a context switch the loop pays for.
    private(set) var inBatch = false
    private var pendingFlush: [Connection] = []

    func deferFlush(_ connection: Connection) { pendingFlush.append(connection) }

    private func flushBatch() {
        guard !pendingFlush.isEmpty else { return }
        for connection in pendingFlush { connection.flushDeferred() }
        pendingFlush.removeAll(keepingCapacity: true)
    }

    /// One access-log line for a request this loop answered.
    func logAccess(remote: String, user: String?, method: String, target: String, version: String, status: Int, bytes: Int) {
        guard let accessLog else { return }
        accessLines.record(now: now, remote: remote, user: user, method: method, target: target, version: version, status: status, bytes: bytes)
        if accessLines.isFull { accessLog.write(accessLines.take()) }
    }

    private func flushAccessLog() {
        accessLog?.write(accessLines.take())
    }

    private func runQueued() {
        while true {
            let work = queue.withLock { queue -> [@Sendable () -> Void] in
                let items = queue
                queue.removeAll()
                return items
            }
            if work.isEmpty { return }
            for item in work { item() }
        }
    }

    private func refreshClock() {
        now = Int64(time(nil))
        if now != dateHeaderSecond {
            dateHeaderSecond = now
            dateAndServerHeaders = Array("\r\nDate: \(HTTPDate.format(now))\r\nServer: \(server.configuration.serverName)".utf8)
        }
    }

    private func acceptConnections(_ listener: Int32) {
        for _ in 0..<64 {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    corral_accept4_nonblocking(listener, $0, &length)
                }
            }
            if fd < 0 { return }  // EAGAIN: another loop took it, or the queue is empty
            if draining {
                close(fd)
                continue
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let transport: Transport
            if let tls = server.configuration.tls {
                guard let session = try? tls.makeSession(fileDescriptor: fd) else {
                    close(fd)
                    continue
                }
                transport = .tls(session)
            } else {
                transport = .plain(fd)
            }
            nextConnectionID += 1
            let connection = Connection(
                fd: fd, id: nextConnectionID, loop: self, transport: transport, remote: Socket.describe(storage))
            connections[fd] = connection
            var event = corral_epoll_event(connection.interest, fd)
            epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event)
            connection.start()
        }
    }

    func setInterest(_ fd: Int32, _ events: UInt32) {
        var event = corral_epoll_event(events, fd)
        epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &event)
    }

    func remove(_ connection: Connection) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, connection.fd, nil)
        connections[connection.fd] = nil
        if draining && connections.isEmpty { reportDrained() }
    }

    /// Tells the server once that this loop has no connections left.
    private func reportDrained() {
        guard !reportedDrained else { return }
        reportedDrained = true
        flushAccessLog()
        server.loopDrained(self)
    }

    /// The connection with `fd`, if it is still the one with `id` (fds are reused after close).
    func connection(_ fd: Int32, _ id: UInt64) -> Connection? {
        guard let c = connections[fd], c.id == id else { return nil }
        return c
    }

    private func sweep() {
        for connection in Array(connections.values) { connection.checkTimeouts(now: now) }
        flushAccessLog()
    }

    /// Starts a graceful shutdown of this loop's connections: idle ones close now, busy ones after their response.
    func beginDraining() {
        draining = true
        removeListeners()
        for connection in Array(connections.values) { connection.drain() }
        if connections.isEmpty { reportDrained() }
    }
}

/// The Date header's format (RFC 9110 IMF-fixdate), computed once a second per loop.
enum HTTPDate {
    static func format(_ t: Int64) -> String {
        var seconds = time_t(t)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

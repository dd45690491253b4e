import Foundation
import Glibc
import Synchronization

/// An HTTP/1.1 server on POSIX sockets: a few epoll loops (one per core by default) share the
/// listening sockets, each owning the connections it accepted. TLS through OpenSSL when configured.
public final class HTTPServer: @unchecked Sendable {
    public let configuration: HTTPServerConfiguration
    let responder: any HTTPResponder
    let accessLog: AccessLog?
    private var loops: [EventLoop] = []
    private var threads: [Thread] = []
    private var listeners: [Int32] = []
    private let drainState = Mutex<(pending: Int, waiters: [CheckedContinuation<Void, Never>])>((0, []))
    private let finished = DispatchSemaphore(value: 0)

    /// Ports actually bound, in the order of `listenAddresses` (useful with port 0).
    public private(set) var boundPorts: [UInt16] = []

    public init(configuration: HTTPServerConfiguration, responder: any HTTPResponder) throws(HTTPServerError) {
        self.configuration = configuration
        self.responder = responder
        self.accessLog = try configuration.accessLogPath.map { path throws(HTTPServerError) in try AccessLog(path: path) }
    }

    /// Binds every address and starts the loop threads; returns once the server accepts connections.
    public func start() throws(HTTPServerError) {
        signal(SIGPIPE, SIG_IGN)
        for address in configuration.listenAddresses {
            let fd = try Socket.listen(address)
            listeners.append(fd)
            boundPorts.append(Socket.boundPort(fd))
        }
        let count = configuration.workers > 0 ? configuration.workers : max(1, Foundation.ProcessInfo.processInfo.activeProcessorCount)
        for index in 0..<count {
            let loop = try EventLoop(server: self, index: index)
            for fd in listeners { loop.addListener(fd) }
            loops.append(loop)
        }
        for loop in loops {
            let thread = Thread { loop.run() }
            thread.name = "http-loop-\(loop.index)"
            thread.stackSize = 1 << 20
            threads.append(thread)
            thread.start()
        }
    }

    /// Graceful shutdown: stop accepting, close idle connections, let in-flight requests finish (up to
    /// `grace` seconds), then stop the loops.
    public func shutdown(grace: Double = 10) async {
        drainState.withLock { $0.pending = loops.count }
        for fd in listeners { close(fd) }
        listeners.removeAll()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            drainState.withLock { $0.waiters.append(continuation) }
            for loop in loops { loop.execute { loop.beginDraining() } }
            let deadline = DispatchTime.now() + grace
            DispatchQueue.global().asyncAfter(deadline: deadline) { [self] in self.releaseDrainWaiters() }
        }
        for loop in loops { loop.stop() }
    }

    func loopDrained(_ loop: EventLoop) {
        let done = drainState.withLock { state -> Bool in
            state.pending -= 1
            return state.pending <= 0
        }
        if done { releaseDrainWaiters() }
    }

    private func releaseDrainWaiters() {
        let waiters = drainState.withLock { state -> [CheckedContinuation<Void, Never>] in
            let w = state.waiters
            state.waiters = []
            return w
        }
        for w in waiters { w.resume() }
    }

    /// Open connections right now, across loops (for tests and metrics).
    public func connectionCount() async -> Int {
        var total = 0
        for loop in loops {
            total += await withCheckedContinuation { (c: CheckedContinuation<Int, Never>) in
                loop.execute { c.resume(returning: loop.connections.count) }
            }
        }
        return total
    }
}

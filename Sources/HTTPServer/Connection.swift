internal import CSocketShim
import Glibc
import TLS
import Zlib

/// One client connection, owned by its loop thread. Requests are answered strictly in order: while a
/// request is being handled, later pipelined bytes wait in the input buffer.
final class Connection {
    enum State {
        case handshake
        case idle
        case processing
        case streaming
        case websocket
        case closing
    }

    let fd: Int32
    let id: UInt64
    // the loop owns its connections and outlives them: no reference counting on each use
    unowned(unsafe) let loop: EventLoop
    let transport: Transport
    let remote: String
    private(set) var state: State
    private var parser: HTTPRequestParser
    private var input: [UInt8] = []
    private var inputStart = 0
    private var output: [UInt8] = []
    private var outputStart = 0
    private var closeAfterWrite = false
    private var peerClosed = false
    private var inProcessInput = false
    private var closed = false
    private(set) var interest: UInt32 = 0
    private var lastActivity: Int64
    private var requestStarted: Int64 = 0
    private var writeBlockedSince: Int64 = 0
    private var tlsWriteWantsRead = false
    /// An answer waits in `output` for the loop's batch to end (see `EventLoop.deferFlush`).
    private var awaitingBatchFlush = false
    // the request being answered, for the response and the access log
    private var currentMethod = ""
    private var currentTarget = ""
    private var currentVersion = "HTTP/1.1"
    private var currentAcceptsGzip = false
    private var currentKeepAlive = true
    var webSocket: WebSocketSession?
    var closeHandlers: [@Sendable () -> Void] = []

    init(fd: Int32, id: UInt64, loop: EventLoop, transport: Transport, remote: String) {
        self.fd = fd
        self.id = id
        self.loop = loop
        self.transport = transport
        self.remote = remote
        self.parser = HTTPRequestParser(limits: loop.server.configuration.limits)
        self.lastActivity = loop.now
        if case .tls = transport { state = .handshake } else { state = .idle }
        interest = EPOLLIN.rawValue | EPOLLRDHUP.rawValue
    }

    func start() {
        if state == .handshake { continueHandshake() }
    }

    func handleEvents(_ flags: UInt32) {
        if flags & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 && flags & EPOLLIN.rawValue == 0 {
            close()
            return
        }
        if state == .handshake {
            continueHandshake()
            return
        }
        if flags & EPOLLOUT.rawValue != 0 {
            if tlsWriteWantsRead {
                tlsWriteWantsRead = false
            }
            flush()
            if closed { return }
        }
        if flags & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0 { readAvailable() }
    }

    // MARK: reading

    private func continueHandshake() {
        guard case .tls(let session) = transport else { return }
        if requestStarted == 0 { requestStarted = loop.now }
        switch session.handshake() {
        case .done:
            state = .idle
            requestStarted = 0
            lastActivity = loop.now
            updateInterest()
            readAvailable()
        case .wantRead: setInterest(EPOLLIN.rawValue | EPOLLRDHUP.rawValue)
        case .wantWrite: setInterest(EPOLLOUT.rawValue | EPOLLRDHUP.rawValue)
        case .closed, .failed: close()
        }
    }

    private func readAvailable() {
        var budget = 1 << 20  // fairness: at most 1 MiB per wake-up, then other connections get a turn
        while budget > 0 && !closed {
            if state == .processing && input.count - inputStart > 256 * 1024 { break }  // back-pressure
            let result = loop.scratch.withUnsafeMutableBytes { transport.read(into: $0) }
            switch result {
            case .done(let n):
                if inputStart > 0 && inputStart == input.count {
                    input.removeAll(keepingCapacity: true)
                    inputStart = 0
                }
                input.append(contentsOf: loop.scratch[0..<n])
                budget -= n
                lastActivity = loop.now
                // a short read drained the socket: another read would only say EAGAIN
                if n < loop.scratch.count && !transport.hasPendingBytes { budget = 0 }
            case .wantRead:
                budget = 0
            case .wantWrite:
                tlsWriteWantsRead = true
                budget = 0
            case .closed:
                peerClosed = true
                budget = 0
            case .failed:
                close()
                return
            }
        }
        processInput()
        if closed { return }
        if peerClosed {
            if state == .idle || state == .handshake || state == .streaming || state == .websocket {
                close()
                return
            }
            closeAfterWrite = true
        }
        updateInterest()
    }

    private func processInput() {
        guard !inProcessInput else { return }
        inProcessInput = true
        defer { inProcessInput = false }
        while !closed {
            if state == .websocket {
                processWebSocketInput()
                break
            }
            guard state == .idle else { break }
            if inputStart == input.count && transport.hasPendingBytes {
                // TLS holds bytes epoll cannot see; readAvailable's own processInput is a no-op while this
                // one runs, so what it read is parsed here
                readAvailable()
                if inputStart == input.count { break }
                continue
            }
            if parser.isMidRequest || inputStart < input.count {
                if requestStarted == 0 { requestStarted = loop.now }
            }
            let result = parser.parse(input, start: &inputStart)
            compactInput()
            switch result {
            case .needMore:
                return
            case .expectContinue:
                append(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
                flush()
            case .error(let error):
                currentMethod = "-"
                currentTarget = "-"
                state = .processing
                closeAfterWrite = true
                var response = HTTPResponse.text(error.status, error.message + "\n", reason: error.message)
                response.compressible = false
                complete(response)
                return
            case .request(var request):
                request.remoteAddress = remote
                requestStarted = 0
                dispatch(request)
            }
        }
    }

    private func compactInput() {
        if inputStart == input.count {
            // an idle connection keeps no buffer: thousands of them must stay cheap
            if input.capacity > 64 * 1024 { input = [] } else { input.removeAll(keepingCapacity: true) }
            inputStart = 0
        } else if inputStart > 64 * 1024 {
            input.removeSubrange(0..<inputStart)
            inputStart = 0
        }
    }

    private func dispatch(_ request: HTTPRequest) {
        state = .processing
        currentMethod = request.method
        currentTarget = request.target
        currentVersion = request.version.minor == 0 ? "HTTP/1.0" : "HTTP/1.1"
        currentAcceptsGzip = request.acceptsGzip
        currentKeepAlive = request.keepAlive
        let writer = ResponseWriter(handle: ConnectionHandle(loop: loop, fd: fd, id: id), request: request)
        loop.responder.respond(to: request, writer: writer)
    }

    // MARK: responding

    /// Sends a complete response to the request being processed.
    func complete(_ response: HTTPResponse) {
        guard state == .processing else { return }
        let keepAlive = currentKeepAlive && !closeAfterWrite && !loop.draining && response.headers["Connection"] != "close"
        if !keepAlive { closeAfterWrite = true }
        var headers = response.headers
        var body = response.body
        let isHead = currentMethod == "HEAD"
        if response.compressible && currentAcceptsGzip && body.count >= 512 && !headers.contains("Content-Encoding"),
            let compressed = try? Gzip.compress(body, level: 1), compressed.count < body.count
        {
            body = compressed
            headers.set("Content-Encoding", "gzip")
            headers.add("Vary", "Accept-Encoding")
        }
        writeHead(response.status, response.reasonPhrase, headers, keepAlive: keepAlive, contentLength: body.count)
        if !isHead { append(body) }
        loop.logAccess(
            remote: remote, user: response.logUser, method: currentMethod, target: currentTarget, version: currentVersion,
            status: response.status, bytes: isHead ? 0 : body.count)
        state = closeAfterWrite ? .closing : .idle
        lastActivity = loop.now
        if loop.inBatch {
            // written with the batch's other answers (and any pipelined ones that follow)
            if !awaitingBatchFlush {
                awaitingBatchFlush = true
                loop.deferFlush(self)
            }
        } else {
            flush()
        }
        if !closed && state == .idle && !inProcessInput { processInput() }
        if !closed { updateInterest() }
    }

    /// Writes what `complete` left for the end of the loop's batch.
    func flushDeferred() {
        guard awaitingBatchFlush else { return }
        awaitingBatchFlush = false
        if !closed { flush() }
    }

    /// `contentLength` replaces any Content-Length the handler set.
    private func writeHead(_ status: Int, _ reason: String, _ headers: HTTPHeaders, keepAlive: Bool, contentLength: Int? = nil) {
        if outputStart == output.count {
            output.removeAll(keepingCapacity: output.capacity <= 64 * 1024)
            outputStart = 0
        }
        // appended to a local buffer: each append to the property would pay an exclusivity check
        var out: [UInt8] = []
        swap(&out, &output)
        defer { swap(&out, &output) }
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        out.appendDecimal(status)
        out.append(UInt8(ascii: " "))
        out.appendUTF8(reason)
        out.append(contentsOf: loop.dateAndServerHeaders)
        out.append(contentsOf: keepAlive ? "\r\n".utf8 : "\r\nConnection: close\r\n".utf8)
        // by index: the fields are read in place, not copied out one by one
        let fields = headers.fields
        for i in fields.indices {
            if fields[i].name.caseInsensitiveEquals("Connection") && fields[i].value == "close" { continue }
            if contentLength != nil && fields[i].name.caseInsensitiveEquals("Content-Length") { continue }
            out.appendUTF8(fields[i].name)
            out.append(contentsOf: ": ".utf8)
            // values reach the wire only without CR/LF: no handler can split a response
            out.appendUTF8(fields[i].value, dropping: 13, 10)
            out.append(contentsOf: "\r\n".utf8)
        }
        if let contentLength {
            out.append(contentsOf: "Content-Length: ".utf8)
            out.appendDecimal(contentLength)
            out.append(contentsOf: "\r\n".utf8)
        }
        out.append(contentsOf: "\r\n".utf8)
    }

    /// Starts a chunked response that stays open (server-sent events).
    func beginStream(_ response: HTTPResponse) -> Bool {
        guard state == .processing else { return false }
        var headers = response.headers
        headers.remove("Content-Length")
        headers.set("Transfer-Encoding", "chunked")
        headers.set("Cache-Control", "no-cache")
        writeHead(response.status, response.reasonPhrase, headers, keepAlive: true)
        loop.logAccess(
            remote: remote, user: response.logUser, method: currentMethod, target: currentTarget, version: currentVersion,
            status: response.status, bytes: 0)
        state = .streaming
        flush()
        return true
    }

    func streamWrite(_ bytes: [UInt8]) {
        guard state == .streaming, !bytes.isEmpty else { return }
        append(Array((String(bytes.count, radix: 16) + "\r\n").utf8))
        append(bytes)
        append([13, 10])
        flush()
    }

    func streamFinish() {
        guard state == .streaming else { return }
        append(Array("0\r\n\r\n".utf8))
        state = closeAfterWrite || loop.draining ? .closing : .idle
        if state == .closing { closeAfterWrite = true }
        flush()
        if !closed && state == .idle { processInput() }
    }

    /// Answers 101 and turns the connection into a WebSocket driven by `handler`.
    func beginWebSocket(_ requestHeaders: HTTPHeaders, handler: any WebSocketHandler) -> Bool {
        guard state == .processing, let key = requestHeaders["Sec-WebSocket-Key"] else { return false }
        var headers = HTTPHeaders([("Upgrade", "websocket"), ("Connection", "Upgrade")])
        headers.add("Sec-WebSocket-Accept", WebSocketFrame.acceptValue(for: key))
        if let proto = requestHeaders["Sec-WebSocket-Protocol"]?.split(separator: ",").first?.trimmingSpaces() {
            headers.add("Sec-WebSocket-Protocol", proto)
        }
        var head = "HTTP/1.1 101 Switching Protocols\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        append(Array((head + "\r\n").utf8))
        loop.logAccess(
            remote: remote, user: nil, method: currentMethod, target: currentTarget, version: currentVersion, status: 101, bytes: 0)
        state = .websocket
        let session = WebSocketSession(handle: WebSocket(handle: ConnectionHandle(loop: loop, fd: fd, id: id)), handler: handler)
        webSocket = session
        flush()
        handler.didOpen(session.handle)
        processInput()  // frames may have arrived with the upgrade request
        return true
    }

    private func processWebSocketInput() {
        guard let session = webSocket else { return }
        while !closed {
            switch WebSocketFrame.parse(input, start: &inputStart, maxPayload: loop.server.configuration.limits.maxBodyBytes) {
            case .needMore:
                compactInput()
                return
            case .error(let code, let reason):
                sendWebSocketClose(code: code, reason: reason)
                return
            case .frame(let frame):
                compactInput()
                session.receive(frame, connection: self)
            }
        }
    }

    func sendWebSocket(opcode: UInt8, payload: [UInt8]) {
        guard state == .websocket else { return }
        append(WebSocketFrame.encode(opcode: opcode, payload: payload))
        flush()
    }

    func sendWebSocketClose(code: UInt16, reason: String) {
        guard state == .websocket else { return }
        var payload = [UInt8(code >> 8), UInt8(code & 0xFF)]
        payload.append(contentsOf: reason.utf8.prefix(120))
        append(WebSocketFrame.encode(opcode: WebSocketFrame.close, payload: payload))
        state = .closing
        closeAfterWrite = true
        flush()
    }

    // MARK: writing

    private func append(_ bytes: [UInt8]) {
        if outputStart == output.count {
            output.removeAll(keepingCapacity: output.capacity <= 64 * 1024)
            outputStart = 0
        }
        output.append(contentsOf: bytes)
    }

    private func flush() {
        while outputStart < output.count && !closed {
            let result = output.withUnsafeBytes { raw in
                transport.write(UnsafeRawBufferPointer(rebasing: raw[outputStart...]))
            }
            switch result {
            case .done(let n):
                outputStart += n
                writeBlockedSince = 0
            case .wantWrite:
                if writeBlockedSince == 0 { writeBlockedSince = loop.now }
                updateInterest()
                return
            case .wantRead:
                if writeBlockedSince == 0 { writeBlockedSince = loop.now }
                updateInterest()
                return
            case .closed, .failed:
                close()
                return
            }
        }
        if outputStart == output.count {
            output = output.capacity > 64 * 1024 ? [] : output
            output.removeAll(keepingCapacity: true)
            outputStart = 0
            if closeAfterWrite && (state == .closing || state == .idle) {
                close()
                return
            }
        }
        updateInterest()
    }

    private func updateInterest() {
        guard !closed else { return }
        var wanted = EPOLLRDHUP.rawValue
        let readable: Bool
        switch state {
        case .processing: readable = input.count - inputStart < 256 * 1024
        case .closing: readable = false
        default: readable = true
        }
        if readable { wanted |= EPOLLIN.rawValue }
        // output the batch will write is not waiting for the socket
        if (outputStart < output.count && !awaitingBatchFlush) || tlsWriteWantsRead { wanted |= EPOLLOUT.rawValue }
        setInterest(wanted)
    }

    private func setInterest(_ events: UInt32) {
        guard events != interest, !closed else { return }
        interest = events
        loop.setInterest(fd, events)
    }

    // MARK: lifecycle

    func close() {
        guard !closed else { return }
        closed = true
        parser.abandon()
        if case .tls(let session) = transport, state != .handshake { session.shutdown() }
        loop.remove(self)
        Glibc.close(fd)
        let handlers = closeHandlers
        closeHandlers = []
        for handler in handlers { handler() }
        if let session = webSocket {
            webSocket = nil
            session.handler.didClose(session.handle)
        }
    }

    func checkTimeouts(now: Int64) {
        let config = loop.server.configuration
        switch state {
        case .handshake:
            if now - requestStarted > Int64(config.requestTimeout) { close() }
        case .idle:
            if outputStart < output.count {
                if writeBlockedSince > 0 && now - writeBlockedSince > Int64(config.requestTimeout) { close() }
            } else if parser.isMidRequest || inputStart < input.count {
                if requestStarted > 0 && now - requestStarted > Int64(config.requestTimeout) {
                    state = .processing
                    currentMethod = "-"
                    currentTarget = "-"
                    closeAfterWrite = true
                    complete(.text(408, "request not received in time\n", reason: "Request Timeout"))
                }
            } else if now - lastActivity > Int64(config.keepAliveTimeout) {
                close()
            }
        case .closing, .streaming, .websocket:
            if writeBlockedSince > 0 && now - writeBlockedSince > Int64(config.requestTimeout) { close() }
        case .processing:
            break  // the handler owns the time; its response will come
        }
    }

    func drain() {
        switch state {
        case .idle:
            if !parser.isMidRequest && inputStart == input.count { close() } else { closeAfterWrite = true }
        case .handshake, .streaming:
            close()
        case .websocket:
            sendWebSocketClose(code: 1001, reason: "server shutting down")
        case .processing, .closing:
            closeAfterWrite = true
        }
    }
}

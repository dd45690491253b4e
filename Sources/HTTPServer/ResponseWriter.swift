import Synchronization

/// Answers one request, from any thread and exactly once: a complete response, a stream that stays
/// open (server-sent events), or an upgrade to WebSocket. Called on the loop thread it writes at once;
/// from elsewhere the loop picks it up on its next turn.
public final class ResponseWriter: Sendable {
    private let loop: EventLoop
    private let fd: Int32
    private let connectionID: UInt64
    private let request: HTTPRequest
    private let answered = Atomic<Bool>(false)

    init(loop: EventLoop, fd: Int32, connectionID: UInt64, request: HTTPRequest) {
        self.loop = loop
        self.fd = fd
        self.connectionID = connectionID
        self.request = request
    }

    private func claim() -> Bool {
        answered.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }

    public func send(_ response: HTTPResponse) {
        guard claim() else { return }
        let (loop, fd, id) = (loop, fd, connectionID)
        loop.execute { loop.connection(fd, id)?.complete(response) }
    }

    /// Sends the head of a chunked response and returns a handle to push more; `onClose` runs when
    /// the client goes away (or the stream is finished).
    public func startStream(_ head: HTTPResponse, onClose: @escaping @Sendable () -> Void) -> ResponseStream {
        let stream = ResponseStream(loop: loop, fd: fd, connectionID: connectionID)
        guard claim() else { return stream }
        let (loop, fd, id) = (loop, fd, connectionID)
        loop.execute {
            guard let connection = loop.connection(fd, id), connection.beginStream(head) else {
                onClose()
                return
            }
            connection.closeHandlers.append(onClose)
        }
        return stream
    }

    /// Whether the request asks for a WebSocket (RFC 6455 §4.2.1).
    public var isWebSocketRequest: Bool {
        request.method == "GET" && request.headers.hasToken("Connection", "upgrade")
            && request.headers["Upgrade"]?.caseInsensitiveEquals("websocket") == true
            && request.headers["Sec-WebSocket-Key"] != nil && request.headers["Sec-WebSocket-Version"] == "13"
    }

    /// Completes the upgrade and hands the connection to `handler`; answers 400 when the request is no
    /// valid upgrade.
    public func upgradeToWebSocket(_ handler: any WebSocketHandler) {
        guard isWebSocketRequest else {
            send(.text(400, "not a valid WebSocket upgrade request\n", reason: "Bad Request"))
            return
        }
        guard claim() else { return }
        let (loop, fd, id, request) = (loop, fd, connectionID, request)
        loop.execute { _ = loop.connection(fd, id)?.beginWebSocket(request, handler: handler) }
    }
}

/// The open end of a streamed (chunked) response.
public final class ResponseStream: Sendable {
    private let loop: EventLoop
    private let fd: Int32
    private let connectionID: UInt64

    init(loop: EventLoop, fd: Int32, connectionID: UInt64) {
        self.loop = loop
        self.fd = fd
        self.connectionID = connectionID
    }

    public func write(_ bytes: [UInt8]) {
        let (loop, fd, id) = (loop, fd, connectionID)
        loop.execute { loop.connection(fd, id)?.streamWrite(bytes) }
    }

    public func finish() {
        let (loop, fd, id) = (loop, fd, connectionID)
        loop.execute { loop.connection(fd, id)?.streamFinish() }
    }
}

/// What the server calls for each request. Implementations must not block the calling (loop) thread
/// for long: quick work may answer inline, anything slow hops to a task and answers from there.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, writer: ResponseWriter)
}

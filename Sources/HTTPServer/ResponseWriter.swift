import Synchronization

/// Answers one request, from any thread and exactly once: a complete response, a stream that stays
/// open (server-sent events), or an upgrade to WebSocket. Called on the loop thread it writes at once;
/// from elsewhere the loop picks it up on its next turn.
public final class ResponseWriter: Sendable {
    private let handle: ConnectionHandle
    // what the writer needs of the request, not all of it (it lives as long as the answer takes)
    private let method: String
    private let requestHeaders: HTTPHeaders
    private let answered = Atomic<Bool>(false)

    init(handle: ConnectionHandle, request: HTTPRequest) {
        self.handle = handle
        self.method = request.method
        self.requestHeaders = request.headers
    }

    private func claim() -> Bool {
        answered.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }

    public func send(_ response: HTTPResponse) {
        guard claim() else { return }
        // most answers are computed on the loop thread itself: no closures to allocate and queue
        if handle.loop.isCurrent {
            handle.loop.connection(handle.fd, handle.id)?.complete(response)
            return
        }
        handle.run { $0.complete(response) }
    }

    /// Sends the head of a chunked response and returns a handle to push more; `onClose` runs when
    /// the client goes away (or the stream is finished).
    public func startStream(_ head: HTTPResponse, onClose: @escaping @Sendable () -> Void) -> ResponseStream {
        let stream = ResponseStream(handle: handle)
        guard claim() else { return stream }
        let (loop, fd, id) = (handle.loop, handle.fd, handle.id)
        loop.execute {
            guard let connection = loop.connection(fd, id), connection.beginStream(head) else {
                onClose()
                return
            }
            connection.closeHandlers.append(onClose)
        }
        return stream
    }

    /// One of the request's headers (a stream's handler reads its resume point so).
    public func requestHeader(_ name: String) -> String? { requestHeaders[name] }

    /// Whether the request asks for a WebSocket (RFC 6455 §4.2.1).
    public var isWebSocketRequest: Bool {
        method == "GET" && requestHeaders.hasToken("Connection", "upgrade")
            && requestHeaders["Upgrade"]?.caseInsensitiveEquals("websocket") == true
            && requestHeaders["Sec-WebSocket-Key"] != nil && requestHeaders["Sec-WebSocket-Version"] == "13"
    }

    /// Completes the upgrade and hands the connection to `handler`; answers 400 when the request is no
    /// valid upgrade.
    public func upgradeToWebSocket(_ handler: any WebSocketHandler) {
        guard isWebSocketRequest else {
            send(.text(400, "not a valid WebSocket upgrade request\n", reason: "Bad Request"))
            return
        }
        guard claim() else { return }
        let headers = requestHeaders
        handle.run { _ = $0.beginWebSocket(headers, handler: handler) }
    }
}

/// The open end of a streamed (chunked) response.
public final class ResponseStream: Sendable {
    private let handle: ConnectionHandle

    init(handle: ConnectionHandle) { self.handle = handle }

    public func write(_ bytes: [UInt8]) { handle.run { $0.streamWrite(bytes) } }

    public func finish() { handle.run { $0.streamFinish() } }
}

/// What the server calls for each request. Implementations must not block the calling (loop) thread
/// for long: quick work may answer inline, anything slow hops to a task and answers from there.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, writer: ResponseWriter)
}

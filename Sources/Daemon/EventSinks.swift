import API
import HTTPServer
import Schema
import Synchronization

/// Handlers to run once when a client goes away; one registered after that runs at once.
final class CloseSignal: Sendable {
    private let state = Mutex<(handlers: [@Sendable () -> Void], closed: Bool)>(([], false))

    func add(_ handler: @escaping @Sendable () -> Void) {
        let already = state.withLock { s -> Bool in
            if !s.closed { s.handlers.append(handler) }
            return s.closed
        }
        if already { handler() }
    }

    func fire() {
        let handlers = state.withLock { s -> [@Sendable () -> Void] in
            s.closed = true
            defer { s.handlers = [] }
            return s.handlers
        }
        for h in handlers { h() }
    }
}

/// Delivers API events as server-sent events (`event: NAME` / `data: JSON`).
final class ServerSentEventSink: EventSink {
    private let stream = Mutex<ResponseStream?>(nil)
    let closeSignal = CloseSignal()
    let lastEventID: String?

    init(lastEventID: String?) { self.lastEventID = lastEventID }

    func attach(_ stream: ResponseStream) {
        self.stream.withLock { $0 = stream }
        stream.write(Array(": connected\n\n".utf8))
    }

    func send(event: String, data: JSON, id: String?) {
        let idLine = id.map { "id: \($0)\n" } ?? ""
        stream.withLock { $0 }?.write(Array("\(idLine)event: \(event)\ndata: \(data.jsonString)\n\n".utf8))
    }

    func onClose(_ handler: @escaping @Sendable () -> Void) { closeSignal.add(handler) }
}

/// Delivers API events over a WebSocket as text messages `{"event": NAME, "data": …}`; events sent
/// before the upgrade completes wait for it.
final class WebSocketEventSink: EventSink, WebSocketHandler {
    private let state = Mutex<(socket: WebSocket?, pending: [String])>((nil, []))
    private let closeSignal = CloseSignal()
    var lastEventID: String? { nil }

    func didOpen(_ socket: WebSocket) {
        let pending = state.withLock { s -> [String] in
            s.socket = socket
            defer { s.pending = [] }
            return s.pending
        }
        for text in pending { socket.send(text: text) }
    }

    func didReceive(_ socket: WebSocket, text: String) {}

    func didClose(_ socket: WebSocket) { closeSignal.fire() }

    func send(event: String, data: JSON, id: String?) {
        var message: [String: JSON] = ["event": .string(event), "data": data]
        if let id { message["id"] = .string(id) }
        let text = JSON.object(message).jsonString
        let socket = state.withLock { s -> WebSocket? in
            if s.socket == nil { s.pending.append(text) }
            return s.socket
        }
        socket?.send(text: text)
    }

    func onClose(_ handler: @escaping @Sendable () -> Void) { closeSignal.add(handler) }
}

/// Joins a WebSocket to a byte tunnel: binary and text messages go to the far end as bytes; what the
/// far end sends goes back as binary messages.
final class TunnelBridge: WebSocketHandler {
    let far: any ByteTunnel

    init(far: any ByteTunnel) { self.far = far }

    struct Client: TunnelClient {
        let socket: WebSocket
        func send(_ bytes: [UInt8]) { socket.send(binary: bytes) }
        func sendText(_ text: String) { socket.send(text: text) }
        func close() { socket.close() }
    }

    func didOpen(_ socket: WebSocket) { far.opened(Client(socket: socket)) }
    func didReceive(_ socket: WebSocket, text: String) { far.received(Array(text.utf8)) }
    func didReceive(_ socket: WebSocket, binary: [UInt8]) { far.received(binary) }
    func didClose(_ socket: WebSocket) { far.closed() }
}

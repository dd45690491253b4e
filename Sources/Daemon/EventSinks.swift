import API
import HTTPServer
import Schema
import Synchronization

/// Delivers API events as server-sent events (`event: NAME` / `data: JSON`).
final class ServerSentEventSink: EventSink {
    private let state = Mutex<(stream: ResponseStream?, handlers: [@Sendable () -> Void], closed: Bool)>((nil, [], false))

    func attach(_ stream: ResponseStream) {
        state.withLock { $0.stream = stream }
        stream.write(Array(": connected\n\n".utf8))
    }

    func send(event: String, data: JSON) {
        let text = "event: \(event)\ndata: \(data.jsonString)\n\n"
        state.withLock { $0.stream }?.write(Array(text.utf8))
    }

    func onClose(_ handler: @escaping @Sendable () -> Void) {
        let already = state.withLock { s -> Bool in
            if !s.closed { s.handlers.append(handler) }
            return s.closed
        }
        if already { handler() }
    }

    func closed() {
        let handlers = state.withLock { s -> [@Sendable () -> Void] in
            s.closed = true
            let h = s.handlers
            s.handlers = []
            return h
        }
        for h in handlers { h() }
    }
}

/// Delivers API events over a WebSocket as text messages `{"event": NAME, "data": …}`.
final class WebSocketEventSink: EventSink, WebSocketHandler {
    private let state = Mutex<(socket: WebSocket?, pending: [String], handlers: [@Sendable () -> Void], closed: Bool)>((nil, [], [], false))

    func didOpen(_ socket: WebSocket) {
        let pending = state.withLock { s -> [String] in
            s.socket = socket
            let p = s.pending
            s.pending = []
            return p
        }
        for text in pending { socket.send(text: text) }
    }

    func didReceive(_ socket: WebSocket, text: String) {}

    func didClose(_ socket: WebSocket) {
        let handlers = state.withLock { s -> [@Sendable () -> Void] in
            s.closed = true
            let h = s.handlers
            s.handlers = []
            return h
        }
        for h in handlers { h() }
    }

    func send(event: String, data: JSON) {
        let text = JSON.object(["event": .string(event), "data": data]).jsonString
        let socket = state.withLock { s -> WebSocket? in
            if s.socket == nil { s.pending.append(text) }
            return s.socket
        }
        socket?.send(text: text)
    }

    func onClose(_ handler: @escaping @Sendable () -> Void) {
        let already = state.withLock { s -> Bool in
            if !s.closed { s.handlers.append(handler) }
            return s.closed
        }
        if already { handler() }
    }
}

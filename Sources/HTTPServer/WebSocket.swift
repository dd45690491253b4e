/// Receives a WebSocket's messages. Called on the connection's loop thread: hand slow work elsewhere.
public protocol WebSocketHandler: Sendable {
    func didOpen(_ socket: WebSocket)
    func didReceive(_ socket: WebSocket, text: String)
    func didReceive(_ socket: WebSocket, binary: [UInt8])
    func didClose(_ socket: WebSocket)
}

extension WebSocketHandler {
    public func didOpen(_ socket: WebSocket) {}
    public func didReceive(_ socket: WebSocket, binary: [UInt8]) {}
    public func didClose(_ socket: WebSocket) {}
}

/// The sending side of an open WebSocket; usable from any thread.
public final class WebSocket: Sendable {
    private let handle: ConnectionHandle

    init(handle: ConnectionHandle) { self.handle = handle }

    public func send(text: String) { send(opcode: WebSocketFrame.text, Array(text.utf8)) }
    public func send(binary: [UInt8]) { send(opcode: WebSocketFrame.binary, binary) }

    public func close(code: UInt16 = 1000, reason: String = "") {
        handle.run { $0.sendWebSocketClose(code: code, reason: reason) }
    }

    private func send(opcode: UInt8, _ payload: [UInt8]) {
        handle.run { $0.sendWebSocket(opcode: opcode, payload: payload) }
    }
}

/// Reassembles fragmented messages and answers control frames for one connection.
final class WebSocketSession {
    let handle: WebSocket
    let handler: any WebSocketHandler
    private var fragments: [UInt8] = []
    private var fragmentOpcode: UInt8?

    init(handle: WebSocket, handler: any WebSocketHandler) {
        self.handle = handle
        self.handler = handler
    }

    func receive(_ frame: WebSocketFrame, connection: Connection) {
        switch frame.opcode {
        case WebSocketFrame.ping:
            connection.sendWebSocket(opcode: WebSocketFrame.pong, payload: frame.payload)
        case WebSocketFrame.pong:
            break
        case WebSocketFrame.close:
            let code: UInt16 = frame.payload.count >= 2 ? UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1]) : 1000
            connection.sendWebSocketClose(code: code == 1005 ? 1000 : code, reason: "")
        case WebSocketFrame.continuation:
            guard let opcode = fragmentOpcode else {
                connection.sendWebSocketClose(code: 1002, reason: "continuation without a start")
                return
            }
            fragments.append(contentsOf: frame.payload)
            if frame.fin {
                fragmentOpcode = nil
                let message = fragments
                fragments = []
                deliver(opcode, message, connection)
            }
        default:
            guard fragmentOpcode == nil else {
                connection.sendWebSocketClose(code: 1002, reason: "new message inside a fragmented one")
                return
            }
            if frame.fin {
                deliver(frame.opcode, frame.payload, connection)
            } else {
                fragmentOpcode = frame.opcode
                fragments = frame.payload
            }
        }
    }

    private func deliver(_ opcode: UInt8, _ payload: [UInt8], _ connection: Connection) {
        if opcode == WebSocketFrame.text {
            guard let text = String(validating: payload, as: UTF8.self) else {
                connection.sendWebSocketClose(code: 1007, reason: "invalid UTF-8 in text message")
                return
            }
            handler.didReceive(handle, text: text)
        } else {
            handler.didReceive(handle, binary: payload)
        }
    }
}

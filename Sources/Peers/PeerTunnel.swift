import API
import Foundation
import Glibc
import TLS

/// A console WebSocket (`vncwebsocket`, `termproxy`'s) of a guest on another node: this node opens
/// the same WebSocket on the owner and relays messages both ways. One thread reads the owner; the
/// browser's messages are written from the connection's thread. OpenSSL allows one operation on a
/// session at a time, so both hold `lock` around their calls, and the reader only takes it once
/// poll says bytes are there.
final class PeerTunnel: ByteTunnel, @unchecked Sendable {
    private let connect: @Sendable () throws -> PeerConnection
    private var connection: PeerConnection?
    private let lock = NSLock()
    private var client: (any TunnelClient)?
    private var finished = false
    /// What the browser sent before the owner's end was open.
    private var pending: [[UInt8]] = []

    /// `connect` runs on the tunnel's own thread: the connection's thread never waits for the network.
    init(connect: @escaping @Sendable () throws -> PeerConnection) { self.connect = connect }

    func opened(_ client: any TunnelClient) {
        lock.withLock { self.client = client }
        Thread.detachNewThread { [self] in
            do {
                let connection = try connect()
                // short reads (the reader polls), but a write waits for a slow receiver: cut short, it would drop
                // the bytes of a migration's stream or of a console's screen update
                connection.setIOTimeout(read: 0.05, write: 60)
                // what came before the connection goes first, under the lock: a byte received meanwhile
                // must not overtake it (a migration's stream starts at once, and order is everything)
                lock.withLock {
                    for bytes in pending where !finished {
                        if (try? connection.write(PeerFrame.encode(opcode: PeerFrame.binary, payload: bytes))) == nil { finished = true }
                    }
                    pending = []
                    self.connection = connection
                }
                readLoop(connection)
            } catch {
                client.sendText("error: \(error)")
                lock.withLock { finished = true }
                client.close()
            }
        }
    }

    func received(_ bytes: [UInt8]) {
        lock.withLock {
            guard !finished else { return }
            guard let connection else {
                pending.append(bytes)
                return
            }
            if (try? connection.write(PeerFrame.encode(opcode: PeerFrame.binary, payload: bytes))) == nil { finished = true }
        }
    }

    func closed() {
        lock.withLock {
            guard !finished else { return }
            finished = true
            try? connection?.write(PeerFrame.encode(opcode: PeerFrame.close, payload: [0x03, 0xE8]))
        }
    }

    private func readLoop(_ connection: PeerConnection) {
        var buffer: [UInt8] = []
        while true {
            if lock.withLock({ finished }) { break }
            if !lock.withLock({ connection.hasBufferedBytes }) {
                var pfd = pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0)
                if poll(&pfd, 1, 200) == 0 { continue }
            }
            let chunk = lock.withLock { () -> [UInt8]? in (try? connection.readAvailable()) ?? nil }
            guard let chunk else { break }
            buffer += chunk
            var start = 0
            var closing = false
            parse: while true {
                switch PeerFrame.parse(buffer, start: &start) {
                case .needMore: break parse
                case .invalid:
                    closing = true
                    break parse
                case .frame(let opcode, let payload):
                    let client = lock.withLock { self.client }
                    switch opcode {
                    case PeerFrame.text: client?.sendText(String(decoding: payload, as: UTF8.self))
                    case PeerFrame.binary, 0: client?.send(payload)
                    case PeerFrame.ping: lock.withLock { _ = try? connection.write(PeerFrame.encode(opcode: PeerFrame.pong, payload: payload)) }
                    case PeerFrame.close: closing = true
                    default: break
                    }
                    if closing { break parse }
                }
            }
            buffer.removeFirst(start)
            if closing { break }
        }
        let client = lock.withLock { () -> (any TunnelClient)? in
            finished = true
            return self.client
        }
        client?.close()
    }
}

/// WebSocket frames as a client writes them (masked) and reads them (unmasked), RFC 6455 §5.
enum PeerFrame {
    static let text: UInt8 = 0x1, binary: UInt8 = 0x2, close: UInt8 = 0x8, ping: UInt8 = 0x9, pong: UInt8 = 0xA

    enum Parsed {
        case needMore
        case frame(UInt8, [UInt8])
        case invalid
    }

    static func encode(opcode: UInt8, payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            out.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            out += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            out.append(0x80 | 127)
            for i in (0..<8).reversed() { out.append(UInt8((UInt64(payload.count) >> (UInt64(i) * 8)) & 0xFF)) }
        }
        let mask = (try? Digest.randomBytes(4)) ?? [1, 2, 3, 4]
        out += mask
        for (i, byte) in payload.enumerated() { out.append(byte ^ mask[i & 3]) }
        return out
    }

    /// A server frame from `buffer` at `start`; fragments are passed on as they come (the relay
    /// does not need whole messages).
    static func parse(_ buffer: [UInt8], start: inout Int) -> Parsed {
        let available = buffer.count - start
        guard available >= 2 else { return .needMore }
        let opcode = buffer[start] & 0x0F
        guard buffer[start + 1] & 0x80 == 0 else { return .invalid }
        var length = Int(buffer[start + 1] & 0x7F)
        var offset = 2
        if length == 126 {
            guard available >= 4 else { return .needMore }
            length = Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
            offset = 4
        } else if length == 127 {
            guard available >= 10 else { return .needMore }
            var value: UInt64 = 0
            for i in 0..<8 { value = value << 8 | UInt64(buffer[start + 2 + i]) }
            guard value < 64 << 20 else { return .invalid }
            length = Int(value)
            offset = 10
        }
        guard available >= offset + length else { return .needMore }
        let payload = Array(buffer[(start + offset)..<(start + offset + length)])
        start += offset + length
        return .frame(opcode, payload)
    }
}

import TLS

/// One WebSocket frame (RFC 6455 §5.2), and the codec for it.
public struct WebSocketFrame: Sendable {
    public static let continuation: UInt8 = 0x0
    public static let text: UInt8 = 0x1
    public static let binary: UInt8 = 0x2
    public static let close: UInt8 = 0x8
    public static let ping: UInt8 = 0x9
    public static let pong: UInt8 = 0xA

    public let fin: Bool
    public let opcode: UInt8
    public let payload: [UInt8]

    public enum ParseResult {
        case needMore
        case frame(WebSocketFrame)
        /// A protocol violation: close with this status code.
        case error(UInt16, String)
    }

    /// The Sec-WebSocket-Accept value for a client key.
    public static func acceptValue(for key: String) -> String {
        base64(Digest.sha1(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8)))
    }

    /// Parses a client frame; clients must mask (§5.1), control frames are short and unfragmented.
    public static func parse(_ buffer: [UInt8], start: inout Int, maxPayload: Int) -> ParseResult {
        let available = buffer.count - start
        guard available >= 2 else { return .needMore }
        let b0 = buffer[start], b1 = buffer[start + 1]
        let fin = b0 & 0x80 != 0
        guard b0 & 0x70 == 0 else { return .error(1002, "reserved bits set") }
        let opcode = b0 & 0x0F
        guard [0, 1, 2, 8, 9, 10].contains(opcode) else { return .error(1002, "unknown opcode") }
        guard b1 & 0x80 != 0 else { return .error(1002, "client frames must be masked") }
        var length = Int(b1 & 0x7F)
        var offset = 2
        if length == 126 {
            guard available >= 4 else { return .needMore }
            length = Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
            offset = 4
        } else if length == 127 {
            guard available >= 10 else { return .needMore }
            var value: UInt64 = 0
            for i in 0..<8 { value = value << 8 | UInt64(buffer[start + 2 + i]) }
            guard value <= UInt64(maxPayload) else { return .error(1009, "message too big") }
            length = Int(value)
            offset = 10
        }
        if opcode >= 8 && (length > 125 || !fin) { return .error(1002, "invalid control frame") }
        guard length <= maxPayload else { return .error(1009, "message too big") }
        guard available >= offset + 4 + length else { return .needMore }
        let mask = Array(buffer[(start + offset)..<(start + offset + 4)])
        let dataStart = start + offset + 4
        var payload = Array(buffer[dataStart..<(dataStart + length)])
        for i in 0..<payload.count { payload[i] ^= mask[i & 3] }
        start = dataStart + length
        return .frame(WebSocketFrame(fin: fin, opcode: opcode, payload: payload))
    }

    /// Encodes a server frame (unmasked, final).
    public static func encode(opcode: UInt8, payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            out.append(UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            out.append(126)
            out.append(UInt8(payload.count >> 8))
            out.append(UInt8(payload.count & 0xFF))
        } else {
            out.append(127)
            for i in (0..<8).reversed() { out.append(UInt8((UInt64(payload.count) >> (UInt64(i) * 8)) & 0xFF)) }
        }
        out.append(contentsOf: payload)
        return out
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            let b0 = bytes[i], b1 = n > 1 ? bytes[i + 1] : 0, b2 = n > 2 ? bytes[i + 2] : 0
            out.append(table[Int(b0 >> 2)])
            out.append(table[Int((b0 & 3) << 4 | b1 >> 4)])
            out.append(n > 1 ? table[Int((b1 & 15) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(n > 2 ? table[Int(b2 & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

import Testing
import Zlib

@testable import HTTPServer

@Suite struct WebSocketFrameTests {
    static func masked(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
        let mask: [UInt8] = [1, 2, 3, 4]
        var out: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        if payload.count < 126 {
            out.append(0x80 | UInt8(payload.count))
        } else {
            out.append(0x80 | 126)
            out += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        out += mask
        out += payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
        return out
    }

    @Test func acceptKeyMatchesRFCExample() {
        #expect(WebSocketFrame.acceptValue(for: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func parsesMaskedFramesOfEverySize() {
        for size in [0, 5, 125, 126, 300, 70_000] {
            let payload = (0..<size).map { UInt8($0 & 0xFF) }
            var frame = size <= 0xFFFF ? Self.masked(WebSocketFrame.binary, payload) : []
            if size > 0xFFFF {
                frame =
                    [0x82, 0x80 | 127] + (0..<8).reversed().map { UInt8((UInt64(size) >> (UInt64($0) * 8)) & 0xFF) } + [1, 2, 3, 4]
                    + payload.enumerated().map { $0.element ^ [1, 2, 3, 4][$0.offset & 3] }
            }
            var start = 0
            guard case .frame(let f) = WebSocketFrame.parse(frame, start: &start, maxPayload: 1 << 20) else {
                Issue.record("size \(size) not parsed")
                continue
            }
            #expect(f.payload == payload)
            #expect(start == frame.count)
        }
    }

    @Test func rejectsUnmaskedAndOversized() {
        var start = 0
        if case .error(let code, _) = WebSocketFrame.parse([0x81, 0x01, 0x41], start: &start, maxPayload: 100) {
            #expect(code == 1002)
        } else {
            Issue.record("unmasked accepted")
        }
        start = 0
        if case .error(let code, _) = WebSocketFrame.parse(Self.masked(2, Array(repeating: 0, count: 200)), start: &start, maxPayload: 100) {
            #expect(code == 1009)
        } else {
            Issue.record("oversized accepted")
        }
    }

    @Test func gzipRoundTrip() throws {
        let text = Array(String(repeating: "corral ", count: 1000).utf8)
        let packed = try Gzip.compress(text)
        #expect(packed.count < text.count / 10)
        #expect(try Gzip.decompress(packed) == text)
        #expect(throws: ZlibError.self) { try Gzip.decompress(Array(packed.prefix(10))) }
    }
}

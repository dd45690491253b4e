import API
import Glibc
import HTTPServer
import Schema

/// Turns URL paths, query strings and bodies into API parameters; every malformed input becomes an
/// APIError in PVE's shape, never a crash.
enum RequestDecoding {
    /// Percent-decodes (and, for forms, turns '+' into space); nil for bad escapes or invalid UTF-8.
    static func percentDecode(_ text: Substring, plusIsSpace: Bool) -> String? {
        // most names, values and path segments have nothing to decode
        if !text.utf8.contains(where: { $0 == UInt8(ascii: "%") || ($0 == UInt8(ascii: "+") && plusIsSpace) }) { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let b = iterator.next() {
            if b == UInt8(ascii: "%") {
                guard let h = iterator.next(), let l = iterator.next(), let hi = hexValue(h), let lo = hexValue(l) else { return nil }
                bytes.append(hi << 4 | lo)
            } else if b == UInt8(ascii: "+") && plusIsSpace {
                bytes.append(0x20)
            } else {
                bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }

    static func pathSegments(_ path: Substring) throws(APIError) -> [String] {
        // on every call: a path of plain segments is split in one pass over its bytes
        var text = String(path)
        let plain = text.withUTF8 { bytes -> [String]? in
            var segments: [String] = []
            var start = 0
            for i in 0...bytes.count {
                let byte = i < bytes.count ? bytes[i] : UInt8(ascii: "/")
                if byte == UInt8(ascii: "%") || byte == 0 { return nil }
                guard byte == UInt8(ascii: "/") else { continue }
                if i > start { segments.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)) }
                start = i + 1
            }
            return segments
        }
        if let plain { return plain }
        return try path.split(separator: "/").map { segment throws(APIError) in
            guard let s = percentDecode(segment, plusIsSpace: false), !s.contains("\0") else {
                throw APIError(400, "invalid percent-encoding in the request path")
            }
            return s
        }
    }

    /// The value of cookie `name` in the Cookie headers. On every request, so one pass over UTF-8
    /// bytes without splitting (Foundation's trimming would bridge through UTF-16).
    static func cookie(_ name: String, in headers: HTTPHeaders) -> String? {
        var wanted = name + "="
        return headers.firstResult("Cookie") { header -> String? in
            header.utf8.withContiguousStorageIfAvailable { bytes -> String? in
                var i = 0
                while i < bytes.count {
                    while i < bytes.count && (bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "\t")) { i += 1 }
                    // memchr: a ticket is some 400 bytes
                    var end = bytes.count
                    if i < bytes.count, let base = bytes.baseAddress, let semicolon = memchr(base + i, Int32(UInt8(ascii: ";")), bytes.count - i) {
                        end = base.distance(to: semicolon.assumingMemoryBound(to: UInt8.self))
                    }
                    let matched = wanted.withUTF8 { prefix in
                        end - i >= prefix.count && memcmp(bytes.baseAddress! + i, prefix.baseAddress!, prefix.count) == 0
                    }
                    if matched {
                        let start = i + wanted.utf8.count
                        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
                    }
                    i = end + 1
                }
                return nil
            } ?? nil
        }
    }

    /// `a=1&b=2` into parameters; a name given twice becomes `.repeated`.
    static func form(_ text: String, into parameters: inout [String: RawParameter]) throws(APIError) {
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecode(parts[0], plusIsSpace: true),
                let value = percentDecode(parts.count > 1 ? parts[1] : "", plusIsSpace: true)
            else { throw APIError(400, "invalid percent-encoding or UTF-8 in parameters") }
            guard !name.isEmpty else { continue }
            parameters.appendParameter(name, .text(value))
        }
    }

    static func json(_ body: [UInt8], into parameters: inout [String: RawParameter]) throws(APIError) {
        let value: JSON
        do { value = try JSONParser.parse(body) } catch { throw APIError(400, "invalid JSON body: \(error.description)") }
        guard case .object(let fields) = value else { throw APIError(400, "the JSON body must be an object of parameters") }
        for (name, field) in fields {
            if case .null = field { continue }
            parameters.appendParameter(name, .json(field))
        }
    }
}

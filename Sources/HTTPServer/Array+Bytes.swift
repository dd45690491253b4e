/// Appending text and numbers to a byte buffer (response heads, access-log lines) without making
/// Strings or walking a String's view byte by byte.
extension [UInt8] {
    /// A string's UTF-8 bytes in one copy.
    mutating func appendUTF8(_ text: String) {
        if text.utf8.withContiguousStorageIfAvailable({ append(contentsOf: $0) }) == nil { append(contentsOf: text.utf8) }
    }

    /// Same, leaving out two byte values (CR and LF from a header value).
    mutating func appendUTF8(_ text: String, dropping a: UInt8, _ b: UInt8) {
        let copied = text.utf8.withContiguousStorageIfAvailable { bytes in
            if !bytes.contains(where: { $0 == a || $0 == b }) {
                append(contentsOf: bytes)
            } else {
                for byte in bytes where byte != a && byte != b { append(byte) }
            }
        }
        if copied == nil {
            for byte in text.utf8 where byte != a && byte != b { append(byte) }
        }
    }

    /// A non-negative number's digits, without making a String of it.
    mutating func appendDecimal(_ value: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        Swift.withUnsafeMutableBytes(of: &digits) { buffer in
            var n = UInt(Swift.max(0, value))
            var i = buffer.count
            repeat {
                i -= 1
                buffer[i] = UInt8(ascii: "0") + UInt8(n % 10)
                n /= 10
            } while n > 0
            append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[i...]))
        }
    }
}

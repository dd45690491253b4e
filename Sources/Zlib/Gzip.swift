internal import CZlib

/// Errors from zlib, with the zlib return code.
public struct ZlibError: Error, CustomStringConvertible {
    public let code: Int32
    public let function: String
    public var description: String { "zlib \(function) failed with code \(code)" }
}

/// gzip (RFC 1952) compression through zlib's deflate with a gzip wrapper (windowBits 15+16).
public enum Gzip {
    /// Compresses `input` into a complete gzip member. Stands for `deflateInit2`/`deflate`/`deflateEnd`.
    public static func compress(_ input: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        var stream = z_stream()
        var rc = deflateInit2_(
            &stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
            Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw ZlibError(code: rc, function: "deflateInit2") }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, UInt(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        var produced = 0
        input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress)
                stream.avail_in = UInt32(src.count)
                stream.next_out = dst.baseAddress
                stream.avail_out = UInt32(dst.count)
                rc = deflate(&stream, Z_FINISH)
                produced = dst.count - Int(stream.avail_out)
            }
        }
        guard rc == Z_STREAM_END else { throw ZlibError(code: rc, function: "deflate") }
        output.removeSubrange(produced...)
        return output
    }

    /// Decompresses a gzip member; `limit` bounds the output so a small bomb cannot exhaust memory.
    /// Stands for `inflateInit2`/`inflate`/`inflateEnd`.
    public static func decompress(_ input: [UInt8], limit: Int = 64 << 20) throws -> [UInt8] {
        var stream = z_stream()
        var rc = inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw ZlibError(code: rc, function: "inflateInit2") }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        try input.withUnsafeBufferPointer { src in
            stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress)
            stream.avail_in = UInt32(src.count)
            repeat {
                let got: Int = chunk.withUnsafeMutableBufferPointer { dst in
                    stream.next_out = dst.baseAddress
                    stream.avail_out = UInt32(dst.count)
                    rc = inflate(&stream, Z_NO_FLUSH)
                    return dst.count - Int(stream.avail_out)
                }
                guard rc == Z_OK || rc == Z_STREAM_END else { throw ZlibError(code: rc, function: "inflate") }
                output.append(contentsOf: chunk[0..<got])
                if output.count > limit { throw ZlibError(code: Z_BUF_ERROR, function: "inflate (output limit)") }
                if got == 0 && rc != Z_STREAM_END && stream.avail_in == 0 {
                    throw ZlibError(code: Z_DATA_ERROR, function: "inflate (truncated input)")
                }
            } while rc != Z_STREAM_END
        }
        return output
    }
}

internal import CZstd

/// Errors from libzstd, with its own message.
public struct ZstdError: Error, CustomStringConvertible {
    public let description: String
}

/// Single-frame zstd compression through libzstd's one-shot API: chunks of a deduplicating backup
/// store are compressed one by one, so a frame per chunk is all that is needed.
public enum Zstd {
    /// One frame holding `input`, with its content size recorded. Stands for `ZSTD_compress`.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = 1) throws(ZstdError) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { ZSTD_compress($0.baseAddress, bound, input.baseAddress, input.count, level) }
        if ZSTD_isError(written) != 0 { throw ZstdError(description: "zstd compression failed: \(String(cString: ZSTD_getErrorName(written)))") }
        output.removeSubrange(written...)
        return output
    }

    public static func compress(_ input: [UInt8], level: Int32 = 1) throws(ZstdError) -> [UInt8] {
        do { return try input.withUnsafeBytes { try compress($0, level: level) } } catch let error as ZstdError { throw error } catch {
            throw ZstdError(description: "\(error)")
        }
    }

    /// The content of one frame; refuses frames without a recorded size or larger than `limit`.
    /// Stands for `ZSTD_getFrameContentSize` and `ZSTD_decompress`.
    public static func decompress(_ input: [UInt8], limit: Int) throws(ZstdError) -> [UInt8] {
        let size = input.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        // ZSTD_CONTENTSIZE_UNKNOWN and _ERROR are the two largest values
        guard size < UInt64.max - 1 else { throw ZstdError(description: "not a zstd frame with a known size") }
        guard size <= UInt64(limit) else { throw ZstdError(description: "zstd frame of \(size) bytes exceeds \(limit)") }
        var output = [UInt8](repeating: 0, count: Int(size))
        let written = output.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { ZSTD_decompress(out.baseAddress, out.count, $0.baseAddress, $0.count) }
        }
        if ZSTD_isError(written) != 0 { throw ZstdError(description: "zstd decompression failed: \(String(cString: ZSTD_getErrorName(written)))") }
        guard written == Int(size) else { throw ZstdError(description: "zstd frame decompressed to \(written) of \(size) bytes") }
        return output
    }
}

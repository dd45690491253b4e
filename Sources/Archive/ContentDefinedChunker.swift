/// Cuts a byte stream where its content says (a gear rolling hash over the last 64 bytes), so an
/// insertion early in a container's tar moves only the chunk it lands in and later chunks keep
/// their digests. Chunks are 256 KiB to 4 MiB, about 1 MiB on average.
public struct ContentDefinedChunker {
    public static let minimum = 256 << 10
    public static let maximum = 4 << 20
    /// The top 20 bits of the hash are zero once per MiB on average.
    static let mask: UInt64 = ((1 << 20) - 1) << 44

    /// Fixed pseudo-random values per byte (splitmix64 from a constant seed). Changing them costs
    /// deduplication against older backups, never correctness.
    static let gear: [UInt64] = {
        var state: UInt64 = 0x434f_5252_414c_4344
        return (0..<256).map { _ in
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }()

    var pending: [UInt8] = []

    public init() {}

    /// The length of the first chunk of `buffer`, or nil when more data is needed to decide.
    static func cut(_ buffer: UnsafeRawBufferPointer, final: Bool) -> Int? {
        let n = buffer.count
        if n <= minimum { return final && n > 0 ? n : nil }
        let end = min(n, maximum)
        var h: UInt64 = 0
        var i = minimum - 64
        gear.withUnsafeBufferPointer { table in
            while i < end {
                h = (h << 1) &+ table[Int(buffer[i])]
                i += 1
                if i >= minimum && h & mask == 0 { return }
            }
        }
        if i < end || end == maximum { return i }
        return final ? n : nil
    }

    /// Takes more of the stream; hands back the chunks it completes.
    public mutating func push(_ bytes: [UInt8]) -> [[UInt8]] {
        pending += bytes
        return take(final: false)
    }

    /// The rest of the stream as its last chunks.
    public mutating func finish() -> [[UInt8]] { take(final: true) }

    mutating func take(final: Bool) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var start = 0
        while start < pending.count {
            let length = pending.withUnsafeBytes { Self.cut(UnsafeRawBufferPointer(rebasing: $0[start...]), final: final) }
            guard let length else { break }
            out.append(Array(pending[start..<(start + length)]))
            start += length
        }
        pending.removeFirst(start)
        return out
    }
}

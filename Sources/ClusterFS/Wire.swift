/// The byte encoding of replication messages: little-endian integers, length-prefixed byte strings.
/// Every node runs the same code, but a reader never trusts its input: a short or malformed message
/// throws instead of trapping.
struct WireWriter {
    private(set) var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func bool(_ v: Bool) { u8(v ? 1 : 0) }
    mutating func data(_ v: [UInt8]) {
        u32(UInt32(v.count))
        bytes.append(contentsOf: v)
    }
    mutating func string(_ v: String) { data(Array(v.utf8)) }
    mutating func path(_ parts: [String]) {
        u32(UInt32(parts.count))
        for part in parts { string(part) }
    }
}

struct WireError: Error {}

struct WireReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { offset == bytes.count }

    private mutating func take(_ n: Int) throws(WireError) -> ArraySlice<UInt8> {
        guard n >= 0, bytes.count - offset >= n else { throw WireError() }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    mutating func u8() throws(WireError) -> UInt8 { try take(1).first! }
    mutating func u32() throws(WireError) -> UInt32 { try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) } }
    mutating func u64() throws(WireError) -> UInt64 { try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) } }
    mutating func bool() throws(WireError) -> Bool { try u8() != 0 }
    mutating func data() throws(WireError) -> [UInt8] { Array(try take(Int(try u32()))) }
    mutating func string() throws(WireError) -> String {
        guard let s = String(validating: try data(), as: UTF8.self) else { throw WireError() }
        return s
    }
    mutating func path() throws(WireError) -> [String] {
        let count = Int(try u32())
        guard count <= 64 else { throw WireError() }
        return try (0..<count).map { _ throws(WireError) in try string() }
    }
    /// A count that is checked against what is left, so a corrupt count cannot ask for gigabytes.
    mutating func count(elementSize: Int) throws(WireError) -> Int {
        let n = Int(try u32())
        guard n * elementSize <= bytes.count - offset else { throw WireError() }
        return n
    }
}

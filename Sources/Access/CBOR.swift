/// The part of CBOR (RFC 8949) WebAuthn uses: an authenticator's attestation object and its COSE
/// keys are definite-length maps of integers, byte and text strings, arrays, booleans and null.
/// Anything else (indefinite lengths, tags, floats) is refused, as is input that ends early or
/// nests too deep: what the decoder returns was wholly read.
enum CBOR: Equatable, Hashable {
    case unsigned(UInt64)
    case negative(Int64)  // -1 - n
    case bytes([UInt8])
    case text(String)
    indirect case array([CBOR])
    indirect case map([CBOR: CBOR])
    case bool(Bool)
    case null

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Decodes one item from the start of `bytes`; `consumed` says where it ended (the authenticator
    /// data puts a COSE key before optional extensions, with no length of its own).
    static func decode(_ bytes: [UInt8], from start: Int = 0) throws -> (value: CBOR, consumed: Int) {
        var reader = Reader(bytes: bytes, offset: start)
        let value = try reader.item(depth: 0)
        return (value, reader.offset - start)
    }

    subscript(key: Int) -> CBOR? {
        guard case .map(let map) = self else { return nil }
        return map[key >= 0 ? .unsigned(UInt64(key)) : .negative(Int64(-1 - key))]
    }

    subscript(key: String) -> CBOR? {
        guard case .map(let map) = self else { return nil }
        return map[.text(key)]
    }

    var bytesValue: [UInt8]? { if case .bytes(let b) = self { b } else { nil } }
    var textValue: String? { if case .text(let t) = self { t } else { nil } }
    var intValue: Int? {
        switch self {
        case .unsigned(let n): n <= UInt64(Int.max) ? Int(n) : nil
        case .negative(let n): Int(-1 - n)
        default: nil
        }
    }

    struct Reader {
        let bytes: [UInt8]
        var offset: Int

        mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, offset + n <= bytes.count else { throw Failure(description: "CBOR ends early") }
            defer { offset += n }
            return bytes[offset..<offset + n]
        }

        mutating func argument(_ info: UInt8) throws -> UInt64 {
            switch info {
            case 0..<24: return UInt64(info)
            case 24, 25, 26, 27:
                let size = 1 << Int(info - 24)
                return try take(size).reduce(0) { $0 << 8 | UInt64($1) }
            default: throw Failure(description: "CBOR indefinite lengths are not taken")
            }
        }

        mutating func item(depth: Int) throws -> CBOR {
            guard depth < 16 else { throw Failure(description: "CBOR nests too deep") }
            let initial = try take(1).first!
            let major = initial >> 5, info = initial & 0x1F
            switch major {
            case 0: return .unsigned(try argument(info))
            case 1:
                let n = try argument(info)
                guard n < UInt64(Int64.max) else { throw Failure(description: "CBOR negative number out of range") }
                return .negative(Int64(n))
            case 2, 3:
                let length = try argument(info)
                guard length <= UInt64(bytes.count) else { throw Failure(description: "CBOR ends early") }
                let content = Array(try take(Int(length)))
                if major == 2 { return .bytes(content) }
                guard let text = String(validating: content, as: UTF8.self) else { throw Failure(description: "CBOR text is not UTF-8") }
                return .text(text)
            case 4:
                let count = try argument(info)
                guard count <= UInt64(bytes.count) else { throw Failure(description: "CBOR ends early") }
                return .array(try (0..<Int(count)).map { _ in try item(depth: depth + 1) })
            case 5:
                let count = try argument(info)
                guard count <= UInt64(bytes.count) else { throw Failure(description: "CBOR ends early") }
                var map: [CBOR: CBOR] = [:]
                for _ in 0..<Int(count) {
                    let key = try item(depth: depth + 1)
                    guard map[key] == nil else { throw Failure(description: "CBOR map repeats a key") }
                    map[key] = try item(depth: depth + 1)
                }
                return .map(map)
            case 7:
                switch info {
                case 20: return .bool(false)
                case 21: return .bool(true)
                case 22: return .null
                default: throw Failure(description: "CBOR simple value \(info) is not taken")
                }
            default: throw Failure(description: "CBOR tags are not taken")
            }
        }
    }
}

import Foundation

extension JSON {
    /// Compact UTF-8 JSON. Object keys are sorted so output is deterministic (golden tests, ETags).
    public func serialized(pretty: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out, pretty: pretty, indent: 0)
        return out
    }

    public var jsonString: String { String(decoding: serialized(), as: UTF8.self) }

    public func write(into out: inout [UInt8], pretty: Bool = false, indent: Int = 0) {
        switch self {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let b): out.append(contentsOf: b ? "true".utf8 : "false".utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .number(let d): out.append(contentsOf: JSON.formatNumber(d).utf8)
        case .string(let s): JSON.writeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                if pretty { newline(&out, indent + 1) }
                item.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty && !items.isEmpty { newline(&out, indent) }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            let writeField = { (position: Int, field: (key: String, value: JSON), out: inout [UInt8]) in
                if position > 0 { out.append(UInt8(ascii: ",")) }
                if pretty { newline(&out, indent + 1) }
                JSON.writeString(field.key, into: &out)
                out.append(UInt8(ascii: ":"))
                if pretty { out.append(UInt8(ascii: " ")) }
                field.value.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if fields.isEmpty {
                // nothing to write between the braces
            } else if fields.count <= 32 {
                // most objects are small: their indices sorted by key in a buffer on the stack, no
                // copy of the pairs
                withUnsafeTemporaryAllocation(of: [String: JSON].Index.self, capacity: fields.count) { order in
                    let base = order.baseAddress!
                    var count = 0
                    for index in fields.indices {
                        let key = fields[index].key
                        var slot = count
                        while slot > 0 && key < fields[base[slot - 1]].key {
                            (base + slot).moveInitialize(from: base + slot - 1, count: 1)
                            slot -= 1
                        }
                        (base + slot).initialize(to: index)
                        count += 1
                    }
                    for position in 0..<count { writeField(position, fields[base[position]], &out) }
                    base.deinitialize(count: count)
                }
            } else {
                for (position, field) in fields.sorted(by: { $0.key < $1.key }).enumerated() { writeField(position, field, &out) }
            }
            if pretty && !fields.isEmpty { newline(&out, indent) }
            out.append(UInt8(ascii: "}"))
        }
    }

    private func newline(_ out: inout [UInt8], _ indent: Int) {
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * 3))
    }

    static func formatNumber(_ d: Double) -> String { d.shortestText() ?? "null" }  // JSON has no NaN or infinity

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // most strings need no escape: one scan of the contiguous bytes, one copy
        var text = s
        let copied = text.withUTF8 { bytes in
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if copied {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension Double {
    /// The number as JSON, Prometheus and the metric line protocols write it: integers without a
    /// fraction, anything else as the shortest text that reads back exactly; with `exponent: false`,
    /// spelled out without one (Graphite and InfluxDB take none). Nil when not finite: each format
    /// has its own word for that.
    public func shortestText(exponent: Bool = true) -> String? {
        guard isFinite else { return nil }
        if rounded() == self && abs(self) < 1e15 { return String(Int64(self)) }
        let text = String(self)
        guard !exponent, text.contains("e") else { return text }
        var fixed = String(format: "%.12f", self)
        while fixed.hasSuffix("0") { fixed.removeLast() }
        if fixed.hasSuffix(".") { fixed.removeLast() }
        return fixed
    }
}

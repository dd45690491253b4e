/// Header fields in arrival order; names compare case-insensitively.
public struct HTTPHeaders: Sendable, Sequence {
    public private(set) var fields: [(name: String, value: String)] = []

    public init(_ fields: [(String, String)] = []) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    /// Room for `capacity` fields in one allocation (a parsed head's fields are appended one by one).
    init(capacity: Int) { fields.reserveCapacity(capacity) }

    public subscript(name: String) -> String? {
        fields.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    public func all(_ name: String) -> [String] {
        var values: [String] = []
        for field in fields where field.name.caseInsensitiveEquals(name) { values.append(field.value) }
        return values
    }

    public mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }

    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        fields.append((name, value))
    }

    public mutating func remove(_ name: String) { fields.removeAll { $0.name.caseInsensitiveEquals(name) } }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Whether a comma-separated header (Connection, Accept-Encoding, …) lists `token`.
    public func hasToken(_ name: String, _ token: String) -> Bool {
        // asked on every request (Connection, Accept-Encoding): no copies of the value
        for field in fields where field.name.caseInsensitiveEquals(name) {
            for item in field.value.utf8.split(separator: UInt8(ascii: ",")) {
                var word = item.prefix { $0 != UInt8(ascii: ";") }
                while let first = word.first, first == 0x20 || first == 0x09 { word = word.dropFirst() }
                while let last = word.last, last == 0x20 || last == 0x09 { word = word.dropLast() }
                if Substring(word).caseInsensitiveEquals(token) { return true }
            }
        }
        return false
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }
}

extension StringProtocol {
    @inlinable
    public func caseInsensitiveEquals(_ other: some StringProtocol) -> Bool {
        let a = self.utf8, b = other.utf8
        guard a.count == b.count else { return false }
        var i = a.startIndex, j = b.startIndex
        while i != a.endIndex {
            let x = a[i], y = b[j]
            if x != y && !(x | 0x20 == y | 0x20 && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7A) { return false }
            a.formIndex(after: &i)
            b.formIndex(after: &j)
        }
        return true
    }

    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}

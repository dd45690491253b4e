/// Header fields in arrival order; names compare case-insensitively.
public struct HTTPHeaders: Sendable, Sequence {
    public private(set) var fields: [(name: String, value: String)] = []

    public init(_ fields: [(String, String)] = []) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    /// Room for `capacity` fields in one allocation (a parsed head's fields are appended one by one).
    init(capacity: Int) { fields.reserveCapacity(capacity) }

    // Lookups walk the fields by index: a field read in place costs no reference counting, one
    // copied out by an iterator costs two (its name and its value), and every request makes a dozen.

    public subscript(name: String) -> String? {
        for i in fields.indices where fields[i].name.caseInsensitiveEquals(name) { return fields[i].value }
        return nil
    }

    public func all(_ name: String) -> [String] {
        var values: [String] = []
        for i in fields.indices where fields[i].name.caseInsensitiveEquals(name) { values.append(fields[i].value) }
        return values
    }

    public mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }

    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        fields.append((name, value))
    }

    public mutating func remove(_ name: String) {
        if contains(name) { fields.removeAll { $0.name.caseInsensitiveEquals(name) } }
    }

    public func contains(_ name: String) -> Bool {
        for i in fields.indices where fields[i].name.caseInsensitiveEquals(name) { return true }
        return false
    }

    /// Whether a comma-separated header (Connection, Accept-Encoding, …) lists `token`.
    public func hasToken(_ name: String, _ token: String) -> Bool {
        // asked on every request (Connection, Accept-Encoding): no copies of the value
        for i in fields.indices where fields[i].name.caseInsensitiveEquals(name) {
            for item in fields[i].value.utf8.split(separator: UInt8(ascii: ",")) {
                var word = item.prefix { $0 != UInt8(ascii: ";") }
                while let first = word.first, first == 0x20 || first == 0x09 { word = word.dropFirst() }
                while let last = word.last, last == 0x20 || last == 0x09 { word = word.dropLast() }
                if Substring(word).caseInsensitiveEquals(token) { return true }
            }
        }
        return false
    }

    /// Calls `body` with each value of header `name`, read in place, until it returns a result.
    @inlinable
    public func firstResult<T>(_ name: String, _ body: (String) -> T?) -> T? {
        for i in fields.indices where fields[i].name.caseInsensitiveEquals(name) {
            if let result = body(fields[i].value) { return result }
        }
        return nil
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

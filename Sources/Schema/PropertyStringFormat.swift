/// The schema of a property string (PVE's `key=value,key=value` strings such as `net0` or `scsi0`):
/// the sub-keys, and which key a bare leading value belongs to.
public struct PropertyStringFormat: Sendable {
    public let properties: [String: Schema]
    /// The key a value without `key=` stands for (PVE's `default_key`).
    public let defaultKey: String?
    /// Keys whose name is itself the value, PVE's `keyAlias`-style shortcuts (`virtio=MAC` for `model=virtio,macaddr=MAC`).
    public let keyAliases: [String: (key: String, valueKey: String)]

    public init(
        _ properties: [String: Schema], defaultKey: String? = nil,
        keyAliases: [String: (key: String, valueKey: String)] = [:]
    ) {
        self.properties = properties
        self.defaultKey = defaultKey
        self.keyAliases = keyAliases
    }
}

/// Splits and joins property strings. Values may be double-quoted to carry commas; inside quotes a
/// backslash escapes the next character.
public enum PropertyString {
    public struct Error: Swift.Error, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Splits into (key, value) pairs in order; a bare value gets key `nil`.
    public static func split(_ text: String) throws(Error) -> [(key: String?, value: String)] {
        var pairs: [(String?, String)] = []
        var chars = Array(text.unicodeScalars)[...]
        guard !chars.isEmpty else { return [] }
        while true {
            var key: String? = nil
            var value = ""
            var token = ""
            var inQuotes = false
            var sawQuote = false
            var seenEquals = false
            while let c = chars.first {
                chars = chars.dropFirst()
                if inQuotes {
                    if c == "\\" {
                        guard let next = chars.first else { throw Error(message: "unterminated escape in quoted value") }
                        token.unicodeScalars.append(next)
                        chars = chars.dropFirst()
                    } else if c == "\"" {
                        inQuotes = false
                    } else {
                        token.unicodeScalars.append(c)
                    }
                    continue
                }
                if c == "," { break }
                if c == "=" && !seenEquals && !sawQuote {
                    seenEquals = true
                    key = token
                    token = ""
                    continue
                }
                if c == "\"" && token.isEmpty && !sawQuote {
                    inQuotes = true
                    sawQuote = true
                    continue
                }
                if sawQuote { throw Error(message: "unexpected data after quoted value") }
                token.unicodeScalars.append(c)
            }
            if inQuotes { throw Error(message: "unterminated quoted value") }
            value = token
            if let k = key, k.isEmpty { throw Error(message: "empty key in '\(text)'") }
            if key == nil && value.isEmpty && !sawQuote { throw Error(message: "empty element in '\(text)'") }
            pairs.append((key, value))
            if chars.isEmpty { break }
        }
        return pairs.map { (key: $0.0, value: $0.1) }
    }

    /// Parses against a format: resolves the default key and aliases, rejects unknown and repeated keys,
    /// and validates every value against its sub-schema. Returns typed values.
    public static func parse(_ text: String, format: PropertyStringFormat) throws(Error) -> [String: JSON] {
        var result: [String: JSON] = [:]
        for (index, pair) in try split(text).enumerated() {
            var key: String
            var value = pair.value
            if let k = pair.key {
                key = k
            } else if index == 0, let defaultKey = format.defaultKey {
                key = defaultKey
            } else if let alias = format.keyAliases[value] {
                key = alias.key
                value = pair.value
            } else {
                throw Error(message: "value without key, but schema does not define a default key")
            }
            if let alias = format.keyAliases[key], pair.key != nil {
                guard result[alias.key] == nil, result[alias.valueKey] == nil else {
                    throw Error(message: "duplicate key in comma-separated list property: \(alias.key)")
                }
                result[alias.key] = .string(key)
                result[alias.valueKey] = .string(value)
                continue
            }
            guard var schema = format.properties[key] else { throw Error(message: "invalid format - unknown key '\(key)'") }
            if let target = schema.alias {
                key = target
                guard let aliased = format.properties[target] else { throw Error(message: "invalid alias '\(key)'") }
                schema = aliased
            }
            guard result[key] == nil else { throw Error(message: "duplicate key in comma-separated list property: \(key)") }
            switch Validator.check(.string(value), schema, path: key) {
            case .success(let typed): result[key] = typed
            case .failure(let failure): throw Error(message: "invalid format - \(key): \(failure.message)")
            }
        }
        for (key, schema) in format.properties where !schema.optional && schema.alias == nil && result[key] == nil {
            throw Error(message: "invalid format - property '\(key)' is missing")
        }
        return result
    }

    /// Joins typed values back, the default key first without its name, the rest sorted; values with
    /// a comma, quote or equals sign are quoted.
    public static func print(_ values: [String: JSON], format: PropertyStringFormat) -> String {
        var parts: [String] = []
        if let defaultKey = format.defaultKey, let value = values[defaultKey] {
            parts.append(quoteIfNeeded(value.plainText))
        }
        for key in values.keys.sorted() where key != format.defaultKey {
            parts.append("\(key)=\(quoteIfNeeded(values[key]!.plainText))")
        }
        return parts.joined(separator: ",")
    }

    static func quoteIfNeeded(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "=" }) else { return value }
        var out = "\""
        for c in value {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out + "\""
    }
}

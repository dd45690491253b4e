import Foundation

/// Why one value failed its schema, in PVE's wording style.
public struct ValidationFailure: Error, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

/// Per-parameter failures, keyed by parameter name (PVE's `errors` object).
public struct ParameterErrors: Error, Equatable, Sendable {
    public var errors: [String: String]
    public init(_ errors: [String: String] = [:]) { self.errors = errors }
}

/// A raw parameter as it arrived: text from a query string, form or command line, or a JSON value.
public enum RawParameter: Sendable, Equatable {
    case text(String)
    case json(JSON)
    /// The same name more than once; valid only for array-typed parameters.
    case repeated([RawParameter])
}

extension Dictionary where Key == String, Value == RawParameter {
    /// Adds a parameter; a name given again becomes `.repeated` (only arrays accept that).
    public mutating func appendParameter(_ name: String, _ value: RawParameter) {
        switch self[name] {
        case nil: self[name] = value
        case .repeated(let values)?: self[name] = .repeated(values + [value])
        case let existing?: self[name] = .repeated([existing, value])
        }
    }
}

/// Checks values against schemas and converts them to typed JSON (strings from forms become integers,
/// booleans, numbers). Never throws past its result: every bad value becomes a message.
public enum Validator {
    /// Validates a whole parameter object: unknown names, missing required ones, and each value.
    public static func validate(_ raw: [String: RawParameter], against schema: Schema) -> Result<[String: JSON], ParameterErrors> {
        var errors: [String: String] = [:]
        var typed: [String: JSON] = [:]
        for (name, value) in raw {
            guard let property = schema.property(named: name) else {
                if schema.additionalProperties {
                    if case .text(let text) = value { typed[name] = .string(text) } else if case .json(let j) = value { typed[name] = j }
                    continue
                }
                errors[name] = "property is not defined in schema and the schema does not allow additional properties"
                continue
            }
            switch convert(value, property) {
            case .success(let v): typed[name] = v
            case .failure(let f): errors[name] = f.message
            }
        }
        for (name, property) in schema.properties where !property.optional && raw[name] == nil {
            errors[name] = "property is missing and it is not optional"
        }
        return errors.isEmpty ? .success(typed) : .failure(ParameterErrors(errors))
    }

    private static func convert(_ raw: RawParameter, _ schema: Schema) -> Result<JSON, ValidationFailure> {
        switch raw {
        case .text(let text): return check(.string(text), schema, path: "")
        case .json(let value): return check(value, schema, path: "")
        case .repeated(let values):
            guard schema.type == .array, let items = schema.items else {
                return .failure(ValidationFailure("duplicate parameter (the schema allows a single value)"))
            }
            var out: [JSON] = []
            for value in values {
                switch convert(value, items) {
                case .success(let v): out.append(v)
                case .failure(let f): return .failure(f)
                }
            }
            return .success(.array(out))
        }
    }

    /// Checks one value; strings are coerced to the schema's scalar type first, as PVE does for form input.
    public static func check(_ value: JSON, _ schema: Schema, path: String) -> Result<JSON, ValidationFailure> {
        switch schema.type {
        case nil: return .success(value)
        case .null: return value.isNull ? .success(value) : .failure(ValidationFailure("type check ('null') failed"))
        case .boolean: return checkBoolean(value)
        case .integer: return checkInteger(value, schema)
        case .number: return checkNumber(value, schema)
        case .string: return checkString(value, schema)
        case .array: return checkArray(value, schema, path: path)
        case .object: return checkObject(value, schema)
        }
    }

    private static func got(_ value: JSON) -> String {
        switch value {
        case .string(let s): return s
        default: return value.jsonString
        }
    }

    private static func checkBoolean(_ value: JSON) -> Result<JSON, ValidationFailure> {
        switch value {
        case .bool: return .success(value)
        case .int(let i) where i == 0 || i == 1: return .success(.bool(i == 1))
        case .string(let s):
            switch s.lowercased() {
            case "1", "true", "yes", "on": return .success(.bool(true))
            case "0", "false", "no", "off": return .success(.bool(false))
            default: break
            }
        default: break
        }
        return .failure(ValidationFailure("type check ('boolean') failed - got '\(got(value))'"))
    }

    private static func checkInteger(_ value: JSON, _ schema: Schema) -> Result<JSON, ValidationFailure> {
        var number: Int64?
        switch value {
        case .int(let i): number = i
        case .number(let d) where d.rounded() == d && abs(d) < 9.2e18: number = Int64(d)
        case .string(let s):
            let trimmed = s.hasPrefix("+") ? String(s.dropFirst()) : s
            if !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }) { number = Int64(trimmed) }
        default: break
        }
        guard let n = number else {
            return .failure(ValidationFailure("type check ('integer') failed - got '\(got(value))'"))
        }
        if let f = checkRange(Double(n), schema) { return .failure(f) }
        if let f = checkEnum(String(n), schema) { return .failure(f) }
        if let f = checkNamedFormat(String(n), schema) { return .failure(f) }
        return .success(.int(n))
    }

    private static func checkNumber(_ value: JSON, _ schema: Schema) -> Result<JSON, ValidationFailure> {
        var number: Double?
        switch value {
        case .int(let i): number = Double(i)
        case .number(let d): number = d
        case .string(let s):
            if let d = Double(s), d.isFinite, s.allSatisfy({ $0.isASCII && !$0.isLetter || $0 == "e" || $0 == "E" }) { number = d }
        default: break
        }
        guard let n = number else {
            return .failure(ValidationFailure("type check ('number') failed - got '\(got(value))'"))
        }
        if let f = checkRange(n, schema) { return .failure(f) }
        return .success(.number(n))
    }

    private static func checkRange(_ n: Double, _ schema: Schema) -> ValidationFailure? {
        if let min = schema.minimum, n < min { return ValidationFailure("value must have a minimum value of \(JSON.formatNumber(min))") }
        if let max = schema.maximum, n > max { return ValidationFailure("value must have a maximum value of \(JSON.formatNumber(max))") }
        return nil
    }

    private static func checkEnum(_ text: String, _ schema: Schema) -> ValidationFailure? {
        guard let values = schema.enumValues, !values.contains(text) else { return nil }
        return ValidationFailure("value '\(text)' does not have a value in the enumeration '\(values.joined(separator: ", "))'")
    }

    private static func checkNamedFormat(_ text: String, _ schema: Schema) -> ValidationFailure? {
        guard let name = schema.formatName else { return nil }
        if text.utf8.contains(0) { return ValidationFailure("invalid format - value contains a NUL character") }
        guard let format = Formats.lookup(name) else {
            return ValidationFailure("unable to verify format '\(name)': no such format is registered")
        }
        return format.check(text).map { ValidationFailure("invalid format - \($0)") }
    }

    private static func checkString(_ value: JSON, _ schema: Schema) -> Result<JSON, ValidationFailure> {
        let text: String
        switch value {
        case .string(let s): text = s
        case .int(let i): text = String(i)
        case .number(let d): text = JSON.formatNumber(d)
        case .bool(let b): text = b ? "1" : "0"
        default: return .failure(ValidationFailure("type check ('string') failed - got '\(got(value))'"))
        }
        let length = text.count
        if let max = schema.maxLength, length > max { return .failure(ValidationFailure("value may only be \(max) characters long")) }
        if let min = schema.minLength, length < min { return .failure(ValidationFailure("value must be at least \(min) characters long")) }
        if let f = checkEnum(text, schema) { return .failure(f) }
        if let pattern = schema.pattern, !PatternCache.matches(pattern, text) {
            return .failure(ValidationFailure("value does not match the regex pattern"))
        }
        switch schema.format {
        case .named: if let f = checkNamedFormat(text, schema) { return .failure(f) }
        case .propertyString(let format):
            do { _ = try PropertyString.parse(text, format: format) } catch { return .failure(ValidationFailure(error.message)) }
        case nil: break
        }
        return .success(.string(text))
    }

    private static func checkArray(_ value: JSON, _ schema: Schema, path: String) -> Result<JSON, ValidationFailure> {
        let items: [JSON]
        switch value {
        case .array(let a): items = a
        case .string(let s) where !s.isEmpty: items = [.string(s)]
        default: return .failure(ValidationFailure("type check ('array') failed"))
        }
        guard let itemSchema = schema.items else { return .success(.array(items)) }
        var out: [JSON] = []
        for item in items {
            switch check(item, itemSchema, path: path) {
            case .success(let v): out.append(v)
            case .failure(let f): return .failure(f)
            }
        }
        return .success(.array(out))
    }

    private static func checkObject(_ value: JSON, _ schema: Schema) -> Result<JSON, ValidationFailure> {
        guard case .object(let fields) = value else { return .failure(ValidationFailure("type check ('object') failed")) }
        let raw = fields.mapValues { RawParameter.json($0) }
        switch validate(raw, against: schema) {
        case .success(let typed): return .success(.object(typed))
        case .failure(let errors):
            let text = errors.errors.keys.sorted().map { "\($0): \(errors.errors[$0]!)" }.joined(separator: "; ")
            return .failure(ValidationFailure(text))
        }
    }
}

/// PVE's patterns are anchored at both ends; compiled once each and shared between threads.
enum PatternCache {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var compiled: [String: NSRegularExpression] = [:]

    static func matches(_ pattern: String, _ text: String) -> Bool {
        lock.lock()
        var regex = compiled[pattern]
        if regex == nil {
            // \A…\z, not ^…$: `$` also matches before a final newline, so "name\n" would pass
            regex = try? NSRegularExpression(pattern: "\\A(?:\(pattern))\\z", options: [])
            compiled[pattern] = regex
        }
        lock.unlock()
        guard let regex else { return false }
        let range = NSRange(text.startIndex..<text.endIndex, in: text)
        return regex.firstMatch(in: text, options: [], range: range) != nil
    }
}

extension Schema {
    /// The schema in PVE's JSON shape (as `methods.json` and `pvesh usage` show it).
    public var pveJSON: JSON {
        var out: [String: JSON] = [:]
        if let type { out["type"] = .string(type.rawValue) }
        if let description { out["description"] = .string(description) }
        if optional { out["optional"] = 1 }
        if let defaultValue { out["default"] = defaultValue }
        switch format {
        case .named(let name): out["format"] = .string(name)
        case .propertyString(let f):
            var sub = f.properties.mapValues { $0.pveJSON }
            if let key = f.defaultKey, case .object(var fields)? = sub[key] {
                fields["default_key"] = 1
                sub[key] = .object(fields)
            }
            out["format"] = .object(sub)
        case nil: break
        }
        if let enumValues { out["enum"] = .array(enumValues.map { .string($0) }) }
        if let minimum { out["minimum"] = .number(minimum) }
        if let maximum { out["maximum"] = .number(maximum) }
        if let minLength { out["minLength"] = .int(Int64(minLength)) }
        if let maxLength { out["maxLength"] = .int(Int64(maxLength)) }
        if let pattern { out["pattern"] = .string(pattern) }
        if let alias { out["alias"] = .string(alias) }
        if let renderer { out["renderer"] = .string(renderer) }
        out["typetext"] = .string(typetext ?? computedTypeText)
        if let items { out["items"] = items.pveJSON }
        if type == .object {
            if !properties.isEmpty { out["properties"] = .object(properties.mapValues { $0.pveJSON }) }
            out["additionalProperties"] = additionalProperties ? 1 : 0
        }
        return .object(out)
    }

    /// A short human-readable type, as the CLIs show it: `<integer> (100 - 999999999)`, `<a | b>`.
    public var computedTypeText: String {
        if let enumValues { return "<" + enumValues.joined(separator: " | ") + ">" }
        switch type {
        case .integer, .number:
            let kind = type == .integer ? "integer" : "number"
            switch (minimum, maximum) {
            case (let lo?, let hi?): return "<\(kind)> (\(JSON.formatNumber(lo)) - \(JSON.formatNumber(hi)))"
            case (let lo?, nil): return "<\(kind)> (\(JSON.formatNumber(lo)) - N)"
            case (nil, let hi?): return "<\(kind)> (-N - \(JSON.formatNumber(hi)))"
            default: return "<\(kind)>"
            }
        case .boolean: return "<boolean>"
        case .string:
            if case .propertyString(let f) = format {
                let keys = f.properties.keys.sorted().filter { $0 != f.defaultKey }.map { "[\($0)=<\(f.properties[$0]!.type?.rawValue ?? "value")>]" }
                return ([f.defaultKey.map { "[\($0)=]<value>" }].compactMap { $0 } + keys).joined(separator: " [,")
            }
            return "<string>"
        case .array: return "<array>"
        case .object: return "<object>"
        default: return "<value>"
        }
    }
}

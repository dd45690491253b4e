import API
import Schema

/// A guest type's option schema, from the parameters of its create method in PVE's facts: the config
/// keys are those parameters without the ones that only steer the API call.
public struct GuestOptionSchema: Sendable {
    /// The create method's parameters, API-only ones included.
    public let create: [String: Schema]
    let apiOnly: Set<String>
    let config: Schema

    public init(method: String, apiOnly: Set<String>) {
        create = PVEFacts.parameters(method)
        self.apiOnly = apiOnly
        config = Schema.object(create.filter { !apiOnly.contains($0.key) })
    }

    /// The schema of one config key (`net3` finds `net[n]`), or nil for an unknown key.
    public func option(_ key: String) -> Schema? {
        guard !apiOnly.contains(key) else { return nil }
        return config.property(named: key)
    }

    /// The property-string format of an option, if it has one.
    public func format(_ key: String) -> PropertyStringFormat? {
        guard let schema = option(key) else { return nil }
        switch schema.format {
        case .propertyString(let format): return format
        case .named(let name): return Formats.guestPropertyFormats[name]
        case nil: return nil
        }
    }

    /// The config options among validated API parameters, as config text (booleans as 1/0, as PVE writes them).
    public func options(from parameters: [String: JSON]) -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in parameters where option(key) != nil { out[key] = Self.configText(value) }
        return out
    }

    public static func configText(_ value: JSON) -> String {
        if case .bool(let b) = value { return b ? "1" : "0" }
        return value.plainText
    }
}

/// The JSON types PVE's schema uses.
public enum SchemaType: String, Sendable {
    case string, integer, number, boolean, array, object, null
}

/// How a string-typed value is further checked: by a named, registered format (`pve-vmid`,
/// `pve-configid-list`, …) or as a property string with sub-keys (`key=value,…`).
public enum SchemaFormat: Sendable {
    case named(String)
    case propertyString(PropertyStringFormat)
}

/// One parameter or return-value schema, mirroring the keys PVE's JSON schema uses (`optional`,
/// `default`, `format`, `enum`, `minimum`, …) so declarations read like PVE's and compare against
/// `methods.json`. Immutable and shared.
public final class Schema: Sendable {
    public let type: SchemaType?
    public let description: String?
    public let optional: Bool
    public let defaultValue: JSON?
    public let format: SchemaFormat?
    public let enumValues: [String]?
    public let minimum: Double?
    public let maximum: Double?
    public let minLength: Int?
    public let maxLength: Int?
    public let pattern: String?
    public let typetext: String?
    public let items: Schema?
    public let properties: [String: Schema]
    public let additionalProperties: Bool
    /// For a property-string sub-key: the key it stands in for (PVE's `alias`).
    public let alias: String?
    /// Reads nothing but is documented: PVE's `renderer` hint for clients.
    public let renderer: String?

    public init(
        type: SchemaType?, description: String? = nil, optional: Bool = false, default defaultValue: JSON? = nil,
        format: SchemaFormat? = nil, enum enumValues: [String]? = nil, minimum: Double? = nil, maximum: Double? = nil,
        minLength: Int? = nil, maxLength: Int? = nil, pattern: String? = nil, typetext: String? = nil,
        items: Schema? = nil, properties: [String: Schema] = [:], additionalProperties: Bool = false,
        alias: String? = nil, renderer: String? = nil
    ) {
        self.type = type
        self.description = description
        self.optional = optional
        self.defaultValue = defaultValue
        self.format = format
        self.enumValues = enumValues
        self.minimum = minimum
        self.maximum = maximum
        self.minLength = minLength
        self.maxLength = maxLength
        self.pattern = pattern
        self.typetext = typetext
        self.items = items
        self.properties = properties
        self.additionalProperties = additionalProperties
        self.alias = alias
        self.renderer = renderer
    }

    /// The same schema made optional, as PVE's `optional => 1`.
    public func optional(_ flag: Bool = true) -> Schema { copy(optional: flag) }

    /// The same schema with a default (which also makes it optional, as in PVE).
    public func defaulting(to value: JSON) -> Schema { copy(optional: true, defaultValue: value) }

    public func described(_ text: String) -> Schema { copy(description: text) }

    /// The same schema accepting more enum values (Corral's own beside PVE's).
    public func widened(by values: [String]) -> Schema {
        Schema(
            type: type, description: description, optional: optional, default: defaultValue, format: format,
            enum: enumValues.map { $0 + values.filter { !$0.isEmpty } }, minimum: minimum, maximum: maximum, minLength: minLength,
            maxLength: maxLength, pattern: pattern, typetext: typetext, items: items, properties: properties,
            additionalProperties: additionalProperties, alias: alias, renderer: renderer)
    }

    private func copy(optional: Bool? = nil, defaultValue: JSON? = nil, description: String? = nil) -> Schema {
        Schema(
            type: type, description: description ?? self.description, optional: optional ?? self.optional,
            default: defaultValue ?? self.defaultValue, format: format, enum: enumValues, minimum: minimum,
            maximum: maximum, minLength: minLength, maxLength: maxLength, pattern: pattern, typetext: typetext,
            items: items, properties: properties, additionalProperties: additionalProperties, alias: alias,
            renderer: renderer)
    }

    /// The name of the named format, if any.
    public var formatName: String? {
        if case .named(let name) = format { return name }
        return nil
    }
}

// Builders that keep declarations short and close to PVE's.
extension Schema {
    public static func string(
        format: String? = nil, enum values: [String]? = nil, pattern: String? = nil, minLength: Int? = nil,
        maxLength: Int? = nil, description: String? = nil
    ) -> Schema {
        Schema(
            type: .string, description: description, format: format.map { .named($0) }, enum: values,
            minLength: minLength, maxLength: maxLength, pattern: pattern)
    }

    public static func integer(minimum: Int64? = nil, maximum: Int64? = nil, description: String? = nil) -> Schema {
        Schema(type: .integer, description: description, minimum: minimum.map(Double.init), maximum: maximum.map(Double.init))
    }

    public static func number(minimum: Double? = nil, maximum: Double? = nil, description: String? = nil) -> Schema {
        Schema(type: .number, description: description, minimum: minimum, maximum: maximum)
    }

    public static func boolean(description: String? = nil) -> Schema { Schema(type: .boolean, description: description) }

    public static func array(of items: Schema, description: String? = nil) -> Schema {
        Schema(type: .array, description: description, items: items)
    }

    public static func object(
        _ properties: [String: Schema] = [:], additionalProperties: Bool = false, description: String? = nil
    ) -> Schema {
        Schema(type: .object, description: description, properties: properties, additionalProperties: additionalProperties)
    }

    public static func propertyString(_ format: PropertyStringFormat, description: String? = nil) -> Schema {
        Schema(type: .string, description: description, format: .propertyString(format))
    }

    public static let null = Schema(type: .null)

    /// A value of any type (PVE leaves some returns untyped).
    public static let any = Schema(type: nil)

    // Standard options PVE registers once and reuses everywhere.
    public static let node = Schema.string(format: "pve-node", description: "The cluster node name.")
    public static let vmid = Schema(
        type: .integer, description: "The (unique) ID of the VM.", format: .named("pve-vmid"), minimum: 100,
        maximum: 999_999_999)
    public static let storageID = Schema.string(format: "pve-storage-id", description: "The storage identifier.")
    public static let userid = Schema.string(format: "pve-userid", maxLength: 64, description: "Full user ID, in the form of 'name@realm'.")
    public static let upid = Schema.string(description: "The task's unique ID (UPID).")
}

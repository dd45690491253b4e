extension Schema {
    /// Builds a schema from PVE's JSON shape (the inverse of `pveJSON`): how declarations generated
    /// from PVE's interface facts become schemas. Property-string formats keep their default key,
    /// sub-key aliases and key aliases (`virtio=<mac>` standing for `model=virtio,macaddr=<mac>`).
    public convenience init(pveJSON json: JSON) {
        let fields = json.objectValue ?? [:]
        var format: SchemaFormat?
        switch fields["format"] {
        case .string(let name)?: format = .named(name)
        case .object(let sub)?: format = .propertyString(Self.propertyFormat(sub))
        default: format = nil
        }
        let flag: (String) -> Bool = { key in fields[key].map { $0.boolValue ?? ($0.intValue == 1) } ?? false }
        let type = fields["type"]?.stringValue.flatMap(SchemaType.init(rawValue:))
        self.init(
            type: type,
            optional: flag("optional"),
            default: fields["default"].flatMap { Self.typedDefault($0, type) },
            format: format,
            enum: fields["enum"]?.arrayValue?.compactMap(\.stringValue),
            minimum: fields["minimum"].flatMap(Self.number),
            maximum: fields["maximum"].flatMap(Self.number),
            minLength: fields["minLength"]?.intValue.map(Int.init),
            maxLength: fields["maxLength"]?.intValue.map(Int.init),
            pattern: fields["pattern"]?.stringValue,
            typetext: fields["typetext"]?.stringValue,
            items: fields["items"].map { Schema(pveJSON: $0) },
            properties: (fields["properties"]?.objectValue ?? [:]).mapValues { Schema(pveJSON: $0) },
            additionalProperties: flag("additionalProperties"),
            alias: fields["alias"]?.stringValue)
    }

    /// PVE writes boolean defaults as 0/1 and sometimes prose where a number belongs; a default must
    /// have the declared type (the OpenAPI document is validated), so those become typed or are dropped.
    private static func typedDefault(_ value: JSON, _ type: SchemaType?) -> JSON? {
        switch type {
        case .boolean: return value.boolValue.map(JSON.bool) ?? value.intValue.map { .bool($0 != 0) }
        case .integer: return value.intValue.map(JSON.int) ?? value.stringValue.flatMap { Int64($0) }.map(JSON.int)
        case .number: return value.doubleValue.map(JSON.number) ?? value.stringValue.flatMap { Double($0) }.map(JSON.number)
        default: return value
        }
    }

    private static func number(_ json: JSON) -> Double? {
        json.doubleValue ?? json.stringValue.flatMap(Double.init)
    }

    private static func propertyFormat(_ sub: [String: JSON]) -> PropertyStringFormat {
        var properties: [String: Schema] = [:]
        var defaultKey: String?
        var keyAliases: [String: (key: String, valueKey: String)] = [:]
        for (key, value) in sub {
            if let target = value["keyAlias"]?.stringValue, let valueKey = value["alias"]?.stringValue {
                keyAliases[key] = (target, valueKey)
                continue
            }
            if value["default_key"]?.intValue == 1 || value["default_key"]?.boolValue == true { defaultKey = key }
            properties[key] = Schema(pveJSON: value)
        }
        return PropertyStringFormat(properties, defaultKey: defaultKey, keyAliases: keyAliases)
    }

    /// The declaration that covers `name`: itself, or the indexed family it belongs to (`net3` is
    /// covered by `net[n]`, as PVE's schema dump collapses `net0`…`net31`).
    public func property(named name: String) -> Schema? {
        if let direct = properties[name] { return direct }
        guard let family = Self.indexedFamily(name), let index = Int(name.dropFirst(family.count)) else { return nil }
        guard let schema = properties[family + "[n]"], index < Self.indexLimit(family) else { return nil }
        return schema
    }

    /// `scsi12` → `scsi`; nil when the name does not end in digits.
    public static func indexedFamily(_ name: String) -> String? {
        let base = name.prefix { !$0.isNumber }
        guard base.count < name.count, name.dropFirst(base.count).allSatisfy(\.isNumber) else { return nil }
        return String(base)
    }

    /// How many of an indexed family a guest may have (PVE's limits).
    public static func indexLimit(_ family: String) -> Int {
        switch family {
        case "ide": 4
        case "sata": 6
        case "scsi": 31
        case "virtio", "hostpci": 16
        case "net", "ipconfig": 32
        case "serial", "parallel": 4
        case "usb": 14
        case "numa": 8
        case "unused": 256
        case "mp", "dev": 256
        case "virtiofs": 10
        default: 256
        }
    }
}

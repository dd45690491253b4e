/// What the sections of one section-config file may hold: the id's format and, per section type, its
/// properties (PVE's plugin schemas). Used when a section is created or changed through the API.
public struct SectionConfigSchema: Sendable {
    public let file: String
    public let id: Schema
    public let types: [String: [String: Schema]]

    public init(file: String, id: Schema, types: [String: [String: Schema]]) {
        self.file = file
        self.id = id
        self.types = types
    }

    /// Per-property messages for a section that does not fit (empty when it fits), keyed as PVE keys
    /// the parameter errors of its create and update calls.
    public func check(_ section: SectionConfig.Section, idKey: String = "id") -> [String: String] {
        guard let properties = types[section.type] else {
            return ["type": "unknown type '\(section.type)' (known: \(types.keys.sorted().joined(separator: ", ")))"]
        }
        var errors: [String: String] = [:]
        if case .failure(let failure) = Validator.validate([idKey: .text(section.id)], against: .object([idKey: id])) {
            errors.merge(failure.errors) { a, _ in a }
        }
        var raw: [String: RawParameter] = [:]
        for option in section.options {
            if raw[option.key] != nil { errors[option.key] = "given more than once" }
            raw[option.key] = .text(option.value ?? "1")
        }
        if case .failure(let failure) = Validator.validate(raw, against: .object(properties)) {
            for (key, message) in failure.errors {
                errors[key] = properties[key] == nil && raw[key] != nil ? "not an option of type '\(section.type)'" : message
            }
        }
        return errors
    }
}

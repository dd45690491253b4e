import Foundation
import Testing

@testable import Schema

/// Checks against the interface facts of PVE's API (`../shared/pve-api/methods.json`): every
/// parameter default PVE declares for a named format we know must pass our check of that format,
/// and every property-string format in it must accept the strings PVE's own defaults produce.
@Suite struct PVEMethodsTests {
    static func methods() throws -> [JSON]? {
        let here = URL(fileURLWithPath: #filePath)
        for up in 3...4 {
            var url = here
            for _ in 0..<up { url.deleteLastPathComponent() }
            let candidate = url.appendingPathComponent("shared/pve-api/methods.json")
            if let data = FileManager.default.contents(atPath: candidate.path) {
                return try JSONParser.parse(Array(data)).arrayValue
            }
        }
        let bundled = Bundle.module.url(forResource: "Fixtures/methods-sample", withExtension: "json")
        guard let bundled, let data = FileManager.default.contents(atPath: bundled.path) else { return nil }
        return try JSONParser.parse(Array(data)).arrayValue
    }

    static func parameterSchemas(_ methods: [JSON]) -> [JSON] {
        var out: [JSON] = []
        func walk(_ s: JSON) {
            guard case .object(let fields) = s else { return }
            out.append(s)
            for v in fields["properties"]?.objectValue?.values.map({ $0 }) ?? [] { walk(v) }
            if let items = fields["items"] { walk(items) }
        }
        for m in methods { if let p = m["parameters"] { walk(p) } }
        return out
    }

    @Test func namedFormatDefaultsPassOurChecks() throws {
        // the bundled sample stands in when the full facts are not beside the repository
        let methods = try #require(try Self.methods())
        var checked = 0
        for s in Self.parameterSchemas(methods) {
            guard let name = s["format"]?.stringValue, let format = Formats.lookup(name), let d = s["default"] else { continue }
            let text = d.plainText
            // some defaults are prose for the reader ("current connected node"), not values
            if text.isEmpty || (text.contains(" ") && !name.hasSuffix("-list")) { continue }
            #expect(format.check(text) == nil, "PVE default '\(text)' rejected by \(name)")
            checked += 1
        }
        #expect(checked > 0)
    }

    @Test func mostUsedNamedFormatsAreRegistered() throws {
        // the bundled sample stands in when the full facts are not beside the repository
        let methods = try #require(try Self.methods())
        var counts: [String: Int] = [:]
        for s in Self.parameterSchemas(methods) { if let n = s["format"]?.stringValue { counts[n, default: 0] += 1 } }
        let used = counts.filter { $0.value >= 8 }.keys.sorted()
        // property-string formats named by PVE (pve-qm-*, pve-lxc-*, …) arrive with their domains
        let missing = used.filter {
            Formats.lookup($0) == nil && !$0.hasPrefix("pve-fw-") && !$0.hasPrefix("pve-qm") && !$0.hasPrefix("pve-lxc") && $0 != "IPorCIDRorAlias"
                && $0 != "prune-backups"
        }
        #expect(missing.isEmpty, "formats used 8+ times in PVE's API but not registered: \(missing)")
        let coverage = Double(counts.keys.filter { Formats.lookup($0) != nil }.count) / Double(counts.count)
        print("named formats registered: \(counts.keys.filter { Formats.lookup($0) != nil }.count) of \(counts.count) (\(Int(coverage * 100))%)")
    }

    @Test func pveObjectFormatsParseTheirOwnDefaults() throws {
        // the bundled sample stands in when the full facts are not beside the repository
        let methods = try #require(try Self.methods())
        var checked = 0
        for s in Self.parameterSchemas(methods) {
            guard case .object(let sub)? = s["format"] else { continue }
            var properties: [String: Schema] = [:]
            var defaultKey: String?
            var sample: [String] = []
            for (key, field) in sub {
                properties[key] = Self.schema(from: field)
                if field["default_key"]?.intValue == 1 { defaultKey = key }
                if let d = field["default"], !d.plainText.isEmpty, field["alias"] == nil {
                    sample.append("\(key)=\(PropertyString.quoteIfNeeded(d.plainText))")
                }
            }
            // only the keys with defaults; required keys without one are filled in by the format itself
            guard !properties.values.contains(where: { !$0.optional && $0.defaultValue == nil }), !sample.isEmpty else { continue }
            let format = PropertyStringFormat(properties, defaultKey: defaultKey)
            do {
                let parsed = try PropertyString.parse(sample.joined(separator: ","), format: format)
                #expect(parsed.count == sample.count)
                checked += 1
            } catch {
                Issue.record("'\(sample.joined(separator: ","))' rejected: \(error.message)")
            }
        }
        #expect(checked > 10)
    }

    static func schema(from json: JSON) -> Schema {
        let type = json["type"]?.stringValue.flatMap(SchemaType.init(rawValue:))
        let named = json["format"]?.stringValue
        return Schema(
            type: type, optional: json["optional"]?.intValue == 1, default: json["default"],
            format: named.flatMap { Formats.lookup($0) != nil ? .named($0) : nil },
            enum: json["enum"]?.arrayValue?.compactMap(\.stringValue), minimum: json["minimum"]?.doubleValue,
            maximum: json["maximum"]?.doubleValue, minLength: json["minLength"].flatMap { $0.intValue.map(Int.init) },
            maxLength: json["maxLength"].flatMap { $0.intValue.map(Int.init) }, pattern: json["pattern"]?.stringValue,
            alias: json["alias"]?.stringValue)
    }
}

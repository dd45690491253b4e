import API
import ClusterFS
import Foundation
import Schema

/// `datacenter.cfg` (`GET`/`PUT /cluster/options`): cluster-wide settings as PVE keeps them, one
/// `key: value` line each, property strings (`ha`, `migration`, `webauthn`, …) as their text. GET
/// answers them parsed into objects, as PVE does; PUT checks every value against PVE's schema
/// before one write under the cluster lock `datacenter`, and keeps comments and keys it does not
/// change. The file's other readers (`mac_prefix`, `ha`'s shutdown policy, WebAuthn's relying
/// party) read it themselves.
public enum DatacenterOptions {
    static let file = "datacenter.cfg"
    static let schema = PVEFacts.parameters("PUT /cluster/options")

    /// The file's settings in order, and its other lines (comments) to keep.
    static func lines(_ text: String) -> [(key: String?, text: String)] {
        guard !text.isEmpty else { return [] }
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0).map { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), let colon = trimmed.firstIndex(of: ":") else { return (nil, String(line)) }
            let key = String(trimmed[..<colon])
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else { return (nil, String(line)) }
            return (key, String(trimmed[trimmed.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
    }

    /// The settings by key, as text.
    public static func values(_ tree: any ConfigTree) -> [String: String] {
        var out: [String: String] = [:]
        for line in lines((try? tree.readString(file)) ?? "") { if let key = line.key { out[key] = line.text } }
        return out
    }

    /// One setting's property string parsed (`webauthn`, `ha`, …), nil when unset or unreadable.
    public static func propertyString(_ tree: any ConfigTree, _ key: String) -> [String: JSON]? {
        guard let text = values(tree)[key], case .propertyString(let format)? = schema[key]?.format else { return nil }
        return try? PropertyString.parse(text, format: format)
    }

    static func typed(_ key: String, _ text: String) -> JSON {
        switch schema[key]?.format {
        case .propertyString(let format)?:
            if let parsed = try? PropertyString.parse(text, format: format) { return .object(parsed) }
            return .string(text)
        default:
            switch schema[key]?.type {
            case .integer?, .boolean?: return Int64(text).map { .int($0) } ?? .string(text)
            case .number?: return Double(text).map { JSON($0) } ?? .string(text)
            default: return .string(text)
            }
        }
    }

    static func endpoints(tree: any ConfigTree) -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /cluster/options", description: "The cluster-wide settings of datacenter.cfg.",
                // PVE's check admits every user (the console reads its keyboard and language here)
                returns: .object([:], additionalProperties: true), permission: .anyUser,
                handler: .blocking { _ in
                    var out: [String: JSON] = [:]
                    for (key, text) in values(tree) { out[key] = typed(key, text) }
                    return .object(out)
                }),
            Endpoint(
                pve: "PUT /cluster/options", description: "Changes cluster-wide settings (datacenter.cfg).", returns: .null,
                permission: .privileges(path: "/", ["Sys.Modify"]),
                handler: .blocking { context in
                    let deleted = Formats.splitList(context.string("delete") ?? "")
                    var errors: [String: String] = [:]
                    for key in deleted where schema[key] == nil || key == "delete" {
                        errors["delete"] = "'\(key)' is not a setting of datacenter.cfg"
                    }
                    for key in deleted where context.parameters[key] != nil { errors[key] = "cannot set and delete '\(key)' at once" }
                    if !errors.isEmpty { throw APIError.parameters(errors) }
                    var given: [String: String] = [:]
                    for (key, value) in context.parameters where key != "delete" { given[key] = value.plainText }
                    try tree.withLock("datacenter", timeout: 10) {
                        var out: [String] = []
                        var pending = given
                        for line in lines((try? tree.readString(file)) ?? "") {
                            guard let key = line.key else {
                                out.append(line.text)
                                continue
                            }
                            if deleted.contains(key) { continue }
                            if let value = pending.removeValue(forKey: key) {
                                out.append("\(key): \(value)")
                            } else {
                                out.append("\(key): \(line.text)")
                            }
                        }
                        for key in pending.keys.sorted() { out.append("\(key): \(pending[key]!)") }
                        try tree.write(file, Array((out.joined(separator: "\n") + (out.isEmpty ? "" : "\n")).utf8))
                    }
                    return .null
                }),
        ]
    }
}

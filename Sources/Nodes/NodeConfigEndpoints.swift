import API
import ClusterFS
import Foundation
import Schema
import TLS

/// `/nodes/{node}/config`: the node's options in `nodes/<node>/config` (PVE's file: the description as
/// `#` lines first, then `key: value` lines): `description`, `wakeonlan`, `startall-onboot-delay`,
/// `ballooning-target`, `acme`, `acmedomain[n]`.
enum NodeConfigEndpoints {
    static func all(tree: any ConfigTree) -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /nodes/{node}/config", description: "The node's options (one with `property`), with the file's digest.",
                returns: .object([:], additionalProperties: true), permission: .privileges(path: "/", ["Sys.Audit"]),
                handler: .blocking { context in
                    let text = (try? tree.readString(path(context))) ?? ""
                    var out = parse(text).mapValues { JSON.string($0) }
                    if let property = context.string("property") { out = out.filter { $0.key == property } }
                    out["digest"] = .string(Digest.sha1Hex(Array(text.utf8)))
                    return .object(out)
                }),
            Endpoint(
                pve: "PUT /nodes/{node}/config",
                description: "Sets node options (`delete` removes some; refused if the file changed since `digest`).",
                permission: .privileges(path: "/", ["Sys.Modify"]),
                handler: .blocking { context in
                    let file = path(context)
                    try tree.withLock("node-config-\(context.services.nodeName)", timeout: 10) {
                        let text = (try? tree.readString(file)) ?? ""
                        if let digest = context.string("digest"), digest != Digest.sha1Hex(Array(text.utf8)) {
                            throw APIError(500, "detected modified configuration - file changed by other user? Try again.")
                        }
                        var options = parse(text)
                        let deletions = Formats.splitList(context.string("delete") ?? "")
                        var errors: [String: String] = [:]
                        for key in deletions where context.parameters[key] != nil { errors[key] = "cannot set and delete '\(key)' at once" }
                        guard errors.isEmpty else { throw APIError.parameters(errors) }
                        for key in deletions { options[key] = nil }
                        for (key, value) in context.parameters where !["node", "delete", "digest"].contains(key) {
                            if case .bool(let flag) = value { options[key] = flag ? "1" : "0" } else { options[key] = value.plainText }
                        }
                        try tree.write(file, Array(serialize(options).utf8))
                    }
                    return .null
                }),
        ]
    }

    static func path(_ context: RequestContext) -> String { "nodes/\(context.services.nodeName)/config" }

    /// The options of the file; the description's `#` lines joined (without their `#`).
    static func parse(_ text: String) -> [String: String] {
        var out: [String: String] = [:], description: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("#") {
                description.append(String(line.dropFirst()))
            } else if let colon = line.firstIndex(of: ":") {
                out[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        if !description.isEmpty { out["description"] = description.joined(separator: "\n") }
        return out
    }

    static func serialize(_ options: [String: String]) -> String {
        var text = ""
        if let description = options["description"], !description.isEmpty {
            text += description.split(separator: "\n", omittingEmptySubsequences: false).map { "#\($0)\n" }.joined()
        }
        for key in options.keys.sorted() where key != "description" { text += "\(key): \(options[key]!)\n" }
        return text
    }
}

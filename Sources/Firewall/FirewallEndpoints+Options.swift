import API
import Schema

extension FirewallEndpoints {
    /// `…/options`: the `[OPTIONS]` section; PUT sets what it names and drops what `delete` lists.
    static func optionEndpoints(_ store: FirewallStore, scope: FirewallScope) -> [Endpoint] {
        let base = scope.base + "/options"
        let put = "PUT \(base)"
        // the option names are the PUT's parameters, less the path's and the bookkeeping
        let keys = Set(PVEFacts.parameters(put).keys).subtracting(["node", "vmid", "digest", "delete"])
        return [
            Endpoint(
                pve: "GET \(base)", description: "The firewall options.", returns: .object([:], additionalProperties: true),
                permission: scope.readPermission,
                handler: .blocking { context in
                    let (file, digest) = try store.read(context, scope)
                    var out: [String: JSON] = ["digest": .string(digest)]
                    for (key, value) in file.options where keys.contains(key) {
                        out[key] = Int64(value).map(JSON.int) ?? .string(value)
                    }
                    return .object(out)
                }),
            Endpoint(
                pve: put, description: "Changes firewall options.", permission: scope.writePermission,
                handler: .blocking { context in
                    try store.modify(context, scope) { file in
                        for key in Formats.splitList(context.parameters["delete"]?.plainText ?? "") {
                            guard keys.contains(key) else { throw FirewallError.field("delete", "unknown option '\(key)'") }
                            file.setOption(key, nil)
                        }
                        for key in keys.sorted() {
                            guard let value = context.parameters[key] else { continue }
                            if case .bool(let flag) = value {
                                file.setOption(key, flag ? "1" : "0")
                            } else {
                                file.setOption(key, value.plainText)
                            }
                        }
                    }
                    return .null
                }),
        ]
    }
}

import Foundation
import Schema

/// Interface facts of PVE methods, generated from PVE's API description (`Tests/Tools/gen_pve_facts.py`):
/// endpoints whose parameter lists are long (VM options, storage content) take their parameters,
/// handler name, `protected` and `proxyto` from here, so they match PVE exactly. Description,
/// permission, returns and handler stay ours.
public enum PVEFacts {
    static let facts: JSON = {
        let text = data.replacingOccurrences(of: "\n", with: "")
        return (try? JSONParser.parse(text)) ?? [:]
    }()
    static var all: [String: JSON] { facts["methods"]?.objectValue ?? [:] }
    /// Parameters declared alike by several methods, stored once; a method refers to one with `1`.
    static var shared: [String: JSON] { facts["shared"]?.objectValue ?? [:] }

    /// The parameters of `METHOD /path`; empty for a method not in the generated list.
    public static func parameters(_ method: String) -> [String: Schema] {
        let shared = shared
        var out: [String: Schema] = [:]
        for (name, value) in all[method]?["parameters"]?.objectValue ?? [:] {
            out[name] = Schema(pveJSON: value.intValue == 1 ? shared[name] ?? value : value)
        }
        if withDescription.contains(method) { out["description"] = Schema.string(maxLength: 8192).optional() }
        for (name, values) in widened[method] ?? [:] { out[name] = out[name]?.widened(by: values) }
        for (name, format) in widerFormats[method] ?? [:] {
            if let old = out[name] { out[name] = Schema.string(format: format).optional(old.optional) }
        }
        return out
    }

    /// Enum values Corral accepts beyond PVE's (its own storage types).
    public static let widened: [String: [String: [String]]] = [
        "POST /storage": ["type": ["dedup"]], "GET /storage": ["type": ["dedup"]],
    ]

    /// Formats Corral widens: an alias may name another alias (cycles are refused when it is saved).
    public static let widerFormats: [String: [String: String]] = {
        var out: [String: [String: String]] = [:]
        for base in ["/cluster/firewall", "/nodes/{node}/qemu/{vmid}/firewall", "/nodes/{node}/lxc/{vmid}/firewall"] {
            out["POST \(base)/aliases"] = ["cidr": "IPorCIDRorAlias"]
            out["PUT \(base)/aliases/{name}"] = ["cidr": "IPorCIDRorAlias"]
        }
        return out
    }()

    /// Methods whose `description` parameter the facts lost when prose was stripped from them (the
    /// parameter's own name was taken for prose); PVE has it.
    public static let withDescription: Set<String> = [
        "POST /nodes/{node}/qemu", "PUT /nodes/{node}/qemu/{vmid}/config", "POST /nodes/{node}/qemu/{vmid}/config",
        "POST /nodes/{node}/qemu/{vmid}/snapshot", "PUT /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config",
        "POST /nodes/{node}/qemu/{vmid}/clone", "POST /nodes/{node}/lxc", "PUT /nodes/{node}/lxc/{vmid}/config",
        "POST /nodes/{node}/lxc/{vmid}/snapshot", "PUT /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config", "POST /nodes/{node}/lxc/{vmid}/clone",
        "PUT /nodes/{node}/config", "POST /access/tfa/{userid}", "PUT /access/tfa/{userid}/{id}",
    ]

    public static func meta(_ method: String) -> (name: String, protected: Bool, proxyTo: String?) {
        let entry = all[method]
        return (entry?["name"]?.stringValue ?? "index", entry?["protected"]?.intValue == 1, entry?["proxyto"]?.stringValue)
    }
}

extension Endpoint {
    /// An endpoint declared from PVE's facts for `"METHOD /path"`; `extra` adds parameters beyond PVE's.
    public init(
        pve key: String, description: String, returns: Schema = .null, permission: Permission,
        allowToken: Bool = true, childKey: String? = nil, handler: EndpointHandler
    ) {
        let parts = key.split(separator: " ", maxSplits: 1).map(String.init)
        let meta = PVEFacts.meta(key)
        self.init(
            HTTPMethodName(rawValue: parts[0])!, parts[1], name: meta.name, description: description,
            parameters: PVEFacts.parameters(key), returns: returns, permission: permission, protected: meta.protected,
            proxyTo: meta.proxyTo, allowToken: allowToken, childKey: childKey, handler: handler)
    }
}

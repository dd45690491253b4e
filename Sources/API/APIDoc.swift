import Schema

/// The API as PVE's API viewer reads it (`/pve-docs/api-viewer/apidoc.js`): a tree of path nodes,
/// each with its methods' declarations in PVE's schema shape, generated from Corral's own
/// declarations. Tools that read PVE's viewer data (cv4pve's generic commands) read this as well.
public enum APIDoc {
    /// The tree below `/`: `{path, text, leaf, children, info: {METHOD: {...}}}` per path.
    public static func tree(_ registry: Registry) -> JSON {
        final class Node {
            var path: String
            var children: [String: Node] = [:]
            var info: [String: JSON] = [:]
            init(path: String) { self.path = path }
        }
        let root = Node(path: "")
        for endpoint in registry.endpoints {
            var node = root
            for segment in Registry.segments(endpoint.path) {
                let child = node.children[segment] ?? Node(path: node.path + "/" + segment)
                node.children[segment] = child
                node = child
            }
            var method: [String: JSON] = [
                "method": .string(endpoint.method.rawValue), "name": .string(endpoint.name), "description": .string(endpoint.description),
                "parameters": endpoint.parameters.pveJSON, "returns": endpoint.returns.pveJSON, "permissions": endpoint.permission.pveShape,
                "allowtoken": endpoint.allowToken ? 1 : 0,
            ]
            if endpoint.protected { method["protected"] = 1 }
            if let proxyTo = endpoint.proxyTo { method["proxyto"] = .string(proxyTo) }
            node.info[endpoint.method.rawValue] = .object(method)
        }
        func render(_ node: Node) -> JSON {
            var out: [String: JSON] = [
                "path": .string(node.path), "text": .string(String(node.path.split(separator: "/").last ?? "")),
                "leaf": node.children.isEmpty ? 1 : 0,
            ]
            if !node.info.isEmpty { out["info"] = .object(node.info) }
            if !node.children.isEmpty { out["children"] = .array(node.children.keys.sorted().map { render(node.children[$0]!) }) }
            return .object(out)
        }
        return .array(root.children.keys.sorted().map { render(root.children[$0]!) })
    }

    /// The script PVE's viewer loads: the tree as `const apiSchema`.
    public static func script(_ registry: Registry) -> [UInt8] {
        Array("const apiSchema = ".utf8) + tree(registry).serialized() + Array(";\n".utf8)
    }
}

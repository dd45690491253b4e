import Schema

/// Every declared endpoint, routed by a tree of path segments: literal segments win over `{param}`
/// segments, so `/nodes/{node}/tasks` and `/nodes/{node}/status` never shadow each other.
public final class Registry: Sendable {
    final class RouteNode: @unchecked Sendable {
        var literals: [String: RouteNode] = [:]
        var parameter: (name: String, node: RouteNode)?
        var endpoints: [HTTPMethodName: Endpoint] = [:]
    }

    private let root: RouteNode
    public let endpoints: [Endpoint]

    public init(_ endpoints: [Endpoint]) throws {
        let root = RouteNode()
        for endpoint in endpoints {
            var node = root
            for segment in Registry.segments(endpoint.path) {
                if segment.hasPrefix("{") && segment.hasSuffix("}") {
                    let name = String(segment.dropFirst().dropLast())
                    if let existing = node.parameter {
                        guard existing.name == name else {
                            throw APIError(500, "route conflict at \(endpoint.path): {\(existing.name)} vs {\(name)}")
                        }
                        node = existing.node
                    } else {
                        let child = RouteNode()
                        node.parameter = (name, child)
                        node = child
                    }
                } else {
                    if node.literals[segment] == nil { node.literals[segment] = RouteNode() }
                    node = node.literals[segment]!
                }
            }
            guard node.endpoints[endpoint.method] == nil else {
                throw APIError(500, "endpoint declared twice: \(endpoint.method) \(endpoint.path)")
            }
            node.endpoints[endpoint.method] = endpoint
        }
        self.root = root
        self.endpoints = endpoints.sorted { ($0.path, $0.method.rawValue) < ($1.path, $1.method.rawValue) }
    }

    static func segments(_ path: String) -> [String] { path.split(separator: "/").map(String.init) }

    /// Finds the endpoint for a method and a decoded path; also returns the path's parameters.
    public func route(_ method: String, _ segments: [String]) -> (Endpoint, [String: String])? {
        guard let (node, params) = find(segments), let m = HTTPMethodName(rawValue: method), let endpoint = node.endpoints[m] else {
            return nil
        }
        return (endpoint, params)
    }

    private func find(_ segments: [String]) -> (RouteNode, [String: String])? {
        var params: [String: String] = [:]
        guard let node = find(segments[...], from: root, &params) else { return nil }
        return (node, params)
    }

    /// The path parameters PVE routes with their `/`s (its `fragmentDelimiter => ''` routes): a
    /// storage volume (`…/content/local:iso/x.iso`) and a firewall IP set entry (`…/ipset/n/192.0.2.0/24`).
    static let slashParameters: Set<String> = ["volume", "cidr"]

    /// Literal segments first, then a parameter taking one segment. When neither leads anywhere, a
    /// parameter that ends a declared path (a leaf: nothing is declared below it) takes every remaining segment with its `/`s, as PVE routes
    /// values that clients send unencoded (`content/local:iso/x.iso`, `ipset/n/192.0.2.0/24`).
    private func find(_ segments: ArraySlice<String>, from node: RouteNode, _ params: inout [String: String]) -> RouteNode? {
        guard let segment = segments.first else { return node }
        let rest = segments.dropFirst()
        if let next = node.literals[segment], let found = find(rest, from: next, &params) { return found }
        guard let p = node.parameter, !segment.isEmpty else { return nil }
        // every level takes back what it set when its branch fails: no dictionary copy per request
        params[p.name] = segment
        if let found = find(rest, from: p.node, &params) { return found }
        params[p.name] = nil
        guard !rest.isEmpty, Self.slashParameters.contains(p.name), !p.node.endpoints.isEmpty, p.node.literals.isEmpty, p.node.parameter == nil
        else { return nil }
        params[p.name] = segments.joined(separator: "/")
        return p.node
    }

    /// The methods available at a path (for `pvesh ls` and `usage`).
    public func methods(at segments: [String]) -> [HTTPMethodName: Endpoint] { find(segments)?.0.endpoints ?? [:] }

    /// Literal child segments below a path, and the parameter child's name when there is one.
    public func children(of segments: [String]) -> (literals: [String], parameter: String?) {
        guard let (node, _) = find(segments) else { return ([], nil) }
        return (node.literals.keys.sorted(), node.parameter?.name)
    }

    /// Whether anything is declared below a path.
    public func hasChildren(_ segments: [String]) -> Bool {
        guard let (node, _) = find(segments) else { return false }
        return !node.literals.isEmpty || node.parameter != nil
    }
}

import Schema

extension Endpoint {
    /// A directory GET that lists what is declared below its path, as `[{key: child}]` (PVE's index
    /// methods). The list comes from the registry, so it never falls out of date.
    public static func directory(
        _ path: String, name: String = "index", key: String = "name", description: String,
        parameters: [String: Schema] = [:], permission: Permission = .anyUser, proxyTo: String? = nil
    ) -> Endpoint {
        Endpoint(
            .GET, path, name: name, description: description, parameters: parameters,
            returns: .array(of: .object([:], additionalProperties: true)), permission: permission, proxyTo: proxyTo, childKey: key,
            handler: .sync { context in
                guard let registry = context.services.registry else { return .array([]) }
                let children = registry.children(of: Registry.segments(path))
                return .array(children.literals.map { [key: .string($0)] })
            })
    }
}

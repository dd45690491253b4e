import API
import Access

/// Users, groups, roles, ACLs, realms, tokens, second factors and pools.
public struct AccessDomain: Domain {
    public let access: AccessControl

    public init(access: AccessControl) { self.access = access }

    public var name: String { "access" }
    public var endpoints: [Endpoint] { AccessEndpoints.all(access: access) }
}

import API
import Access

/// Containers through liblxc, and the templates they are made from.
public struct ContainersDomain: Domain {
    public let manager: ContainerManager
    public let access: AccessControl?

    public init(manager: ContainerManager, access: AccessControl?) {
        self.manager = manager
        self.access = access
    }

    public var name: String { "lxc" }
    public var endpoints: [Endpoint] { LxcEndpoints.all(manager: manager, access: access) + TemplateEndpoints.all(manager: manager) }
}

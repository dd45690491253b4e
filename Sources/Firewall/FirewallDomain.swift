import API
import ClusterFS

/// The firewall: its endpoints and the service that keeps the node's ruleset in step.
public struct FirewallDomain: Domain {
    public let service: FirewallService

    public init(service: FirewallService) { self.service = service }

    public var name: String { "firewall" }
    public var endpoints: [Endpoint] { FirewallEndpoints.all(FirewallStore(service: service)) }

    public func start() throws {
        if let fs = service.tree as? ClusterFS { service.watch(fs) }
    }
}

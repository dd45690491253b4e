import API
import ClusterFS
import Guests

/// Software-defined networking: the `/cluster/sdn` and `/nodes/{node}/sdn` endpoints and the
/// service that builds this node's networks from the applied configuration.
public struct SDNDomain: Domain {
    public let service: SDNService

    public init(service: SDNService) { self.service = service }

    public var name: String { "sdn" }
    public var endpoints: [Endpoint] { SDNEndpoints.all(SDNStore(service: service)) }

    public func start() throws {
        guard let fs = service.tree as? ClusterFS else { return }
        service.watch(fs)
        // a guest's first DHCP request must find its address mapped: apply before it starts
        let service = service
        GuestStartHooks.shared.add { _, _ in
            if SDNConfig.running(tree: service.tree).zones.values.contains(where: { $0["dhcp"] != nil }) { service.apply() }
        }
    }
}

import API
import ClusterFS

/// High availability: the `/cluster/ha` endpoints and, in corrald, the managers' rounds.
public struct HADomain: Domain {
    public let service: HAService

    public init(service: HAService) { self.service = service }

    public var name: String { "ha" }
    public var endpoints: [Endpoint] { HAEndpoints.all(service) }

    public func start() throws {
        guard service.tree is ClusterFS else { return }
        service.start()
    }

    public func stop() async { await service.shutdown() }
}

import API

/// The node itself: status, version, time, and its tasks.
public struct NodesDomain: Domain {
    public let sampler: CPUSampler
    public let fingerprint: String?

    public init(sampler: CPUSampler, fingerprint: String?) {
        self.sampler = sampler
        self.fingerprint = fingerprint
    }

    public var name: String { "nodes" }
    public var endpoints: [Endpoint] { NodeEndpoints.all(sampler: sampler, fingerprint: fingerprint) + TaskEndpoints.all() }
}

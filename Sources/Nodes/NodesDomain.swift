import API

/// The node itself: status, version, time, and its tasks.
public struct NodesDomain: Domain {
    public let sampler: CPUSampler
    public let fingerprint: String?
    public let files: NodeSystemFiles

    public init(sampler: CPUSampler, fingerprint: String?, files: NodeSystemFiles) {
        self.sampler = sampler
        self.fingerprint = fingerprint
        self.files = files
    }

    public var name: String { "nodes" }
    public var endpoints: [Endpoint] {
        NodeEndpoints.all(sampler: sampler, fingerprint: fingerprint) + TaskEndpoints.all() + NodeSystemEndpoints.all(files: files)
    }
}

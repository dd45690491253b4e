import API
import Guests
import Nodes
import Storage

/// The cluster-wide views every domain contributes to: `/cluster/resources`, `/cluster/status`,
/// `/cluster/nextid`, and forming, joining and leaving the cluster.
public struct ClusterDomain: Domain {
    public let guests: GuestBackends
    public let storage: Storage
    public let sampler: CPUSampler
    /// The pool a guest belongs to (from access control), for its resource row.
    public let poolOf: @Sendable (Int) -> String?
    public let membership: ClusterMembership?

    public init(
        guests: GuestBackends, storage: Storage, sampler: CPUSampler, membership: ClusterMembership? = nil,
        poolOf: @escaping @Sendable (Int) -> String? = { _ in nil }
    ) {
        self.guests = guests
        self.membership = membership
        self.storage = storage
        self.sampler = sampler
        self.poolOf = poolOf
    }

    public var name: String { "cluster" }
    public var endpoints: [Endpoint] {
        ClusterEndpoints.all(guests: guests, storage: storage, sampler: sampler, poolOf: poolOf) + ClusterConfigEndpoints.all(tree: storage.fs)
            + (membership.map(ClusterMembershipEndpoints.all) ?? [])
    }

    public func start() throws { membership?.startWatching() }
    public func stop() async { membership?.stopWatching() }
}

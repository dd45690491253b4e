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
    /// Each guest's pool, asked once per list.
    public let pools: @Sendable () -> [Int: String]
    public let membership: ClusterMembership?
    public let state: ClusterState
    /// The resource changes for `/events`, compared while the domain runs.
    public let events: ResourceEvents?

    public init(
        guests: GuestBackends, storage: Storage, sampler: CPUSampler, state: ClusterState, membership: ClusterMembership? = nil,
        events: ResourceEvents? = nil, pools: @escaping @Sendable () -> [Int: String] = { [:] }
    ) {
        self.state = state
        self.events = events
        self.guests = guests
        self.membership = membership
        self.storage = storage
        self.sampler = sampler
        self.pools = pools
    }

    public var name: String { "cluster" }
    public var endpoints: [Endpoint] {
        ClusterEndpoints.all(guests: guests, storage: storage, state: state, pools: pools) + ClusterConfigEndpoints.all(tree: storage.fs)
            + DatacenterOptions.endpoints(tree: storage.fs)
            + (membership.map(ClusterMembershipEndpoints.all) ?? [])
    }

    public func start() throws {
        membership?.startWatching()
        if membership?.clusterMode == true { state.start() }
        events?.start()
    }

    public func stop() async {
        membership?.stopWatching()
        state.stop()
        events?.stop()
    }
}

/// What the cluster manager keeps in `ha/manager_status` (PVE's states and fields).
public struct HAManagerStatus: Equatable, Sendable {
    public struct Service: Equatable, Sendable {
        /// started, stopped, request_stop, migrate, relocate, fence, recovery, freeze, error
        public var state: String
        public var node: String
        /// A migration's or relocation's destination.
        public var target: String?
        /// Bumped on every command, so a node's result is matched to the command it answers.
        public var uid: Int
        public var failedNodes: [String] = []
        public var restarts = 0
        public var relocations = 0
        /// The node it left for maintenance, to go back to when that ends.
        public var maintenanceNode: String?

        public init(state: String, node: String, uid: Int) {
            self.state = state
            self.node = node
            self.uid = uid
        }
    }

    public var master: String?
    /// online, unknown, fence, gone, maintenance
    public var nodes: [String: String] = [:]
    /// When a node was last seen online (for unknown → fence).
    public var lastSeen: [String: Double] = [:]
    public var services: [String: Service] = [:]
    /// Nodes put into maintenance (`crm-command node-maintenance enable`).
    public var maintenance: Set<String> = []
    public var nextUID = 1

    public init() {}
}

/// A resource of `ha/resources.cfg` (`vm: 100` / `ct: 101`).
public struct HAResource: Equatable, Sendable {
    public var sid: String
    /// started, stopped, disabled, ignored
    public var state: String
    public var maxRestart: Int
    public var maxRelocate: Int
    /// Where it prefers to run: node → priority (higher first); empty means anywhere.
    public var nodes: [String: Int]
    /// Only the listed nodes (a strict node-affinity rule / restricted group).
    public var strict: Bool
    public var failback: Bool
    /// Resource-affinity rules: services to keep on the same node, and ones to keep apart.
    public var together: [String] = []
    public var apart: [String] = []
    /// The node holding the guest's configuration now (where a new service starts out).
    public var home: String?

    public init(
        sid: String, state: String = "started", maxRestart: Int = 1, maxRelocate: Int = 1, nodes: [String: Int] = [:], strict: Bool = false,
        failback: Bool = true
    ) {
        self.sid = sid
        self.state = state
        self.maxRestart = maxRestart
        self.maxRelocate = maxRelocate
        self.nodes = nodes
        self.strict = strict
        self.failback = failback
    }
}

/// A node's local resource manager's report (PVE's `nodes/<node>/lrm_status`).
public struct HALRMStatus: Equatable, Sendable {
    /// active, maintenance
    public var mode = "active"
    /// sid → (uid of the command, whether it succeeded)
    public var results: [String: (uid: Int, ok: Bool)] = [:]
    /// The services running on the node.
    public var running: Set<String> = []

    public init() {}

    public static func == (a: HALRMStatus, b: HALRMStatus) -> Bool {
        a.mode == b.mode && a.running == b.running && a.results.keys == b.results.keys
            && a.results.allSatisfy { key, value in b.results[key].map { $0.uid == value.uid && $0.ok == value.ok } ?? false }
    }
}

/// What the manager decided in one step, for the log (PVE's event lines).
public struct HAEvent: Equatable, Sendable, CustomStringConvertible {
    public var time: Double
    public var text: String
    public var description: String { "\(Int(time)) \(text)" }
}

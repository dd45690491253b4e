/// A cluster on a virtual clock for the manager logic: nodes that fail, lose the network or come
/// back, cluster locks that expire, guests that run or refuse to start. Each tick every live node
/// renews its agent lock if it is quorate, self-fences through its watchdog if it has not been
/// for `watchdog` seconds, the master runs `HAManager.step`, and quorate nodes run `HALRM.step`.
/// After every tick it checks the safety property: no service runs on two nodes.
public struct HASimulator {
    public struct Node {
        public var name: String
        public var alive = true
        public var partition = 0
        public var running: Set<String> = []
        public var lostQuorumAt: Double?
        /// Services that fail to start here.
        public var broken: Set<String> = []
        /// The mode its local manager reports while corrald stops (`restart`, `shutdown`, `maintenance`).
        public var leavingMode: String?
        /// corrald is stopped: the node is out of the membership, its guests run on, no watchdog.
        public var managerStopped = false
    }

    struct Runtime: HALRM.Runtime {
        var node: Node
        func isRunning(_ sid: String) -> Bool { node.running.contains(sid) }
        mutating func start(_ sid: String) -> Bool? {
            guard !node.broken.contains(sid) else { return false }
            node.running.insert(sid)
            return true
        }
        mutating func stop(_ sid: String, graceful: Bool) -> Bool? {
            node.running.remove(sid)
            return true
        }
        mutating func move(_ sid: String, to target: String) -> Bool? {
            node.running.remove(sid)
            return true
        }
    }

    public var timing: HATiming
    public var now: Double = 0
    public var nodes: [Node]
    public var resources: [String: HAResource] = [:]
    public var status = HAManagerStatus()
    public var lrm: [String: HALRMStatus] = [:]
    /// lock name → (holder, expiry)
    var locks: [String: (holder: String, expires: Double)] = [:]
    public var pending: [HAManager.Command] = []
    public private(set) var events: [HAEvent] = []
    /// Times a service ran on two nodes at once (must stay empty).
    public private(set) var violations: [String] = []

    public init(nodes: [String], timing: HATiming = HATiming()) {
        self.nodes = nodes.map { Node(name: $0) }
        self.timing = timing
    }

    func index(_ name: String) -> Int { nodes.firstIndex { $0.name == name }! }

    /// Nodes alive in a partition holding a majority of all nodes.
    /// Quorate nodes whose corrald runs (what the managers see as online).
    public var members: Set<String> { quorate.filter { name in !nodes[index(name)].managerStopped } }

    public var quorate: Set<String> {
        var sizes: [Int: Int] = [:]
        for node in nodes where node.alive { sizes[node.partition, default: 0] += 1 }
        guard let (partition, size) = sizes.max(by: { $0.value < $1.value }), size * 2 > nodes.count else { return [] }
        return Set(nodes.filter { $0.alive && $0.partition == partition }.map(\.name))
    }

    mutating func acquire(_ lock: String, by holder: String) -> Bool {
        if let current = locks[lock], current.holder != holder, current.expires > now { return false }
        locks[lock] = (holder, now + timing.lockLease)
        return true
    }

    mutating func log(_ text: String) { events.append(HAEvent(time: now, text: text)) }

    // MARK: scripted events

    /// Power loss: the node and its guests are gone at once.
    public mutating func kill(_ name: String) {
        nodes[index(name)].alive = false
        nodes[index(name)].running = []
        log("simulation: node '\(name)' powered off")
    }

    /// The node's network is cut: it alone is in partition `partition`.
    public mutating func isolate(_ name: String, partition: Int = 1) {
        nodes[index(name)].partition = partition
        log("simulation: network of node '\(name)' cut")
    }

    public mutating func heal(_ name: String) {
        nodes[index(name)].partition = 0
        nodes[index(name)].alive = true
        log("simulation: node '\(name)' back")
    }

    /// The guest dies on whatever node runs it.
    public mutating func crash(_ sid: String) {
        for i in nodes.indices where nodes[i].running.contains(sid) { nodes[i].running.remove(sid) }
        log("simulation: service '\(sid)' crashed")
    }

    public mutating func breakService(_ sid: String, on name: String) { nodes[index(name)].broken.insert(sid) }

    /// corrald begins to stop: its local manager reports `mode` (HAShutdownPolicy) from now on.
    public mutating func leave(_ name: String, mode: String) {
        nodes[index(name)].leavingMode = mode
        log("simulation: corrald of node '\(name)' stopping, mode '\(mode)'")
    }

    /// corrald is gone (its guests keep running unless `stopGuests`): it gives up the manager lock,
    /// and after a `shutdown` its agent lock too.
    public mutating func managerGone(_ name: String, stopGuests: Bool = false) {
        let i = index(name)
        nodes[i].managerStopped = true
        if stopGuests { nodes[i].running = [] }
        if nodes[i].leavingMode == "shutdown" { locks["ha_agent_\(name)_lock"] = nil }
        // a clean stop hands the master's role on at once
        if locks["ha_manager_lock"]?.holder == name { locks["ha_manager_lock"] = nil }
        log("simulation: corrald of node '\(name)' stopped")
    }

    /// corrald is back.
    public mutating func managerBack(_ name: String) {
        let i = index(name)
        nodes[i].managerStopped = false
        nodes[i].leavingMode = nil
        log("simulation: corrald of node '\(name)' started")
    }

    public func runningOn(_ sid: String) -> [String] { nodes.filter { $0.alive && $0.running.contains(sid) }.map(\.name) }

    // MARK: time

    public mutating func tick() {
        now += timing.tick
        let quorate = quorate
        let members = members
        for i in nodes.indices where nodes[i].alive && !nodes[i].managerStopped {
            let name = nodes[i].name
            if quorate.contains(name) {
                nodes[i].lostQuorumAt = nil
            } else {
                if nodes[i].lostQuorumAt == nil { nodes[i].lostQuorumAt = now }
                // the watchdog: no quorum for `watchdog` seconds and the node stops its HA guests
                if now - nodes[i].lostQuorumAt! >= timing.watchdog, !nodes[i].running.isEmpty {
                    log("watchdog: node '\(name)' without quorum, stopping \(nodes[i].running.sorted().joined(separator: ", "))")
                    nodes[i].running = []
                }
            }
        }
        // the master: the first quorate node that holds or gets the manager lock
        if let master = members.sorted().first(where: { acquire("ha_manager_lock", by: $0) }) {
            let commands = pending
            pending = []
            let visible = lrm.filter { members.contains($0.key) }
            var snapshot = self
            let new = HAManager.step(
                &status, now: now, master: master, resources: resources, nodes: nodes.map(\.name), online: members, lrm: visible,
                commands: commands
            ) { node in snapshot.acquire("ha_agent_\(node)_lock", by: master) }
            locks = snapshot.locks
            events += new
        }
        // local managers of quorate nodes that hold their agent lock
        for i in nodes.indices where nodes[i].alive && members.contains(nodes[i].name) {
            let name = nodes[i].name
            guard acquire("ha_agent_\(name)_lock", by: name) else { continue }
            var report = lrm[name] ?? HALRMStatus()
            report.mode = nodes[i].leavingMode ?? (status.maintenance.contains(name) ? "maintenance" : "active")
            var runtime = Runtime(node: nodes[i])
            HALRM.step(node: name, status: status, report: &report, runtime: &runtime)
            nodes[i] = runtime.node
            lrm[name] = report
        }
        for sid in resources.keys where runningOn(sid).count > 1 {
            violations.append("\(Int(now)): \(sid) runs on \(runningOn(sid).joined(separator: ", "))")
        }
    }

    public mutating func run(seconds: Double) {
        let end = now + seconds
        while now < end { tick() }
    }

    /// Runs until `condition` holds (or `limit` seconds pass); the time it took, nil if it never held.
    public mutating func run(until condition: (HASimulator) -> Bool, limit: Double) -> Double? {
        let start = now
        while now - start < limit {
            tick()
            if condition(self) { return now - start }
        }
        return nil
    }
}

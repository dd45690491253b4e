import Blocking
import ClusterFS
import Dispatch
import Foundation
import Guests
import HA
import Schema
import Synchronization
import Tasks

/// PVE's two HA daemons in one service of corrald: every `tick` the node's local resource manager
/// (LRM) renews its agent lock and makes the node run what `ha/manager_status` assigns to it, and
/// the node that holds the manager lock runs the cluster resource manager (CRM) over every node's
/// `lrm_status`. The decisions are `HAManager.step` and `HALRM.step` (Sources/HA); this service
/// reads and writes their files, holds the locks, moves configs on recovery, and arms the watchdog.
public final class HAService: Sendable {
    public static let resourcesFile = "ha/resources.cfg"
    public static let groupsFile = "ha/groups.cfg"
    public static let rulesFile = "ha/rules.cfg"
    public static let managerStatusFile = "ha/manager_status"
    public static let commandsFile = "ha/crm_commands"
    public static func lrmStatusFile(_ node: String) -> String { "nodes/\(node)/lrm_status" }
    static let managerLock = "ha_manager_lock"
    static func agentLock(_ node: String) -> String { "ha_agent_\(node)_lock" }

    public let tree: any ConfigTree
    public let node: String
    let timing: HATiming
    let runtime: HAGuestRuntime
    let watchdog: HAWatchdog
    let log: @Sendable (String) -> Void
    /// When this node last renewed each lock it holds (wall clock; kept in `lockFile` so a
    /// restarted corrald goes on holding what it held).
    let renewals = Synchronization.Mutex<[String: Double]>([:])
    let lockFile: String
    /// What the LRM last wrote, and when (rewritten on change, and every 10 s as a heartbeat).
    let written = Synchronization.Mutex<[String: (bytes: [UInt8], at: Double)]>([:])
    let report = Synchronization.Mutex<HALRMStatus>(HALRMStatus())
    /// When the LRM's previous round began (outcomes older than that are stale).
    let lastRound = Synchronization.Mutex<Double>(0)
    let timer = Synchronization.Mutex<RepeatingTimer?>(nil)
    /// The mode the local manager reports once corrald is on its way down (HAService+Shutdown).
    let shutdownMode = Synchronization.Mutex<String?>(nil)
    let queue = DispatchQueue(label: "corral-ha")

    public init(
        tree: any ConfigTree, node: String, guests: GuestBackends, tasks: TaskManager, runDirectory: String, timing: HATiming = HATiming(),
        fenceCommand: @escaping @Sendable (String, Int) -> [String], log: @escaping @Sendable (String) -> Void
    ) {
        self.tree = tree
        self.node = node
        self.timing = timing
        self.log = log
        runtime = HAGuestRuntime(node: node, guests: guests, tasks: tasks, fenceCommand: fenceCommand, log: log)
        watchdog = HAWatchdog(file: runDirectory + "/ha/watchdog", log: runDirectory + "/ha/watchdog.log")
        lockFile = runDirectory + "/ha/locks.json"
        if let data = try? Data(contentsOf: URL(fileURLWithPath: lockFile)), let json = try? JSONParser.parse(Array(data)) {
            renewals.withLock { $0 = (json.objectValue ?? [:]).compactMapValues(\.doubleValue) }
        }
        installGuestHandlers()
    }

    public func start() {
        let round = RepeatingTimer(queue: queue, after: 1, every: timing.tick) { [weak self] in self?.tick() }
        timer.withLock { $0 = round }
    }

    public func stop() { timer.withLock { $0?.cancel() } }

    var clusterFS: ClusterFS? { tree as? ClusterFS }

    func quorate() -> Bool { clusterFS?.isQuorate() ?? true }

    /// The cluster's nodes and the online ones (this node alone when standalone).
    func membership() -> (nodes: [String], online: Set<String>) {
        let members = tree.clusterMembers()
        guard !members.isEmpty else { return ([node], [node]) }
        return (members.keys.sorted(), Set(members.filter { $0.value.online }.keys))
    }

    // MARK: locks

    /// Renews a lock this node holds, or takes it. A lock renewed less than `lease - 2 ticks` ago is
    /// still ours (nobody may take it before `lease`), so a refresh keeps it; otherwise it must be
    /// taken anew, which succeeds only when it is free or expired.
    func renew(_ lock: String, now: Double) -> Bool {
        let last = renewals.withLock { $0[lock] }
        var held = false
        if let last, now - last < timing.lockLease - 2 * timing.tick {
            held = (try? tree.setMtime("priv/lock/\(lock)", UInt32(now))) != nil
        }
        if !held { held = (try? tree.tryLock(lock)) == true }
        renewals.withLock { $0[lock] = held ? now : nil }
        return held
    }

    func saveRenewals() {
        let json = JSON.object(renewals.withLock { $0 }.mapValues { .number($0) })
        try? FileManager.default.createDirectory(atPath: (lockFile as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? Data(json.serialized()).write(to: URL(fileURLWithPath: lockFile), options: .atomic)
    }

    /// Writes `path` when its content changed or every 10 s (a heartbeat the status shows).
    func publish(_ path: String, _ bytes: [UInt8], now: Double, compare: [UInt8]) {
        if let last = written.withLock({ $0[path] }), last.bytes == compare, now - last.at < 10 { return }
        do {
            try tree.write(path, bytes)
            written.withLock { $0[path] = (compare, now) }
        } catch {
            log("HA: cannot write \(path): \(error)")
        }
    }

    // MARK: the round

    func tick() {
        let now = Date().timeIntervalSince1970
        if let fired = watchdog.takeFired() { log("HA: the watchdog fired and killed this node's HA guests:\n\(fired)") }
        let resources = (try? tree.read(Self.resourcesFile)) ?? []
        let status = HAStatusFile.decode(try? tree.read(Self.managerStatusFile)).status
        guard !resources.isEmpty || !status.services.isEmpty else {
            // HA is not used: nothing to hold, nothing to guard
            if watchdog.isArmed { watchdog.disarm() }
            return
        }
        guard quorate() else { return }  // no renewals: the watchdog runs out if guests are at stake
        if renew(Self.managerLock, now: now) { manage(now: now) }
        let active = renew(Self.agentLock(node), now: now)
        saveRenewals()
        if active { localRound(now: now) }
    }

    /// The LRM: runs this node's share, reports, and arms the watchdog while HA guests run here
    /// (or are being started), disarms it when none do.
    func localRound(now: Double) {
        let status = HAStatusFile.decode(try? tree.read(Self.managerStatusFile)).status
        var current = report.withLock { $0 }
        current.mode = shutdownMode.withLock { $0 } ?? (status.maintenance.contains(node) ? "maintenance" : "active")
        var runtime = self.runtime
        runtime.sweep(roundStarted: lastRound.withLock { $0 })
        lastRound.withLock { $0 = now }
        HALRM.step(node: node, status: status, report: &current, runtime: &runtime)
        report.withLock { $0 = current }
        let mine = status.services.filter { $0.value.node == node && !["stopped", "error"].contains($0.value.state) }.keys.sorted()
        let guarded = Set(mine).union(current.running).union(runtime.busy).sorted()
        if guarded.isEmpty {
            if watchdog.isArmed { watchdog.disarm() }
        } else {
            let commands = guarded.compactMap { sid in HAGuestRuntime.parse(sid).map { runtime.fenceCommand($0.type, $0.vmid) } }
            do { try watchdog.arm(seconds: timing.watchdog, pids: runtime.pids(guarded), commands: commands) } catch {
                log("HA: cannot arm the watchdog: \(error)")
            }
        }
        let stable = HAStatusFile.encode(current, state: "active", now: 0)
        publish(Self.lrmStatusFile(node), HAStatusFile.encode(current, state: "active", now: now), now: now, compare: stable)
    }
}

import API
import Blocking
import ClusterFS
import Dispatch
import Foundation
import Schema
import Storage
import Synchronization
import Tasks

/// Puts the cluster's changes on the node's event journal, so consoles and clients stop polling:
/// a `resource` event carries a row of `/cluster/resources` whenever something other than its
/// moving figures changed (a guest's status or config, a node going offline, a storage becoming
/// unavailable), `resource-removed` a row that went away, and the other nodes' tasks arrive as
/// `task-started`/`task-finished` as this node's do. The list is compared again when a local task
/// ends, a configuration changes, another node publishes its rows, and every second regardless.
public final class ResourceEvents: Sendable {
    /// Figures that move all the time: a change of these alone is no event (graphs poll them).
    static let moving: Set<String> = ["cpu", "mem", "disk", "netin", "netout", "diskread", "diskwrite", "uptime"]

    let state: ClusterState
    let journal: EventJournal
    private let job = CoalescedJob()
    private let rows = Mutex<[String: [String: JSON]]?>(nil)
    private let peerTasks = Mutex<[String: Bool]?>(nil)
    private let timer = Mutex<RepeatingTimer?>(nil)
    private let queue = DispatchQueue(label: "corral.resource-events")
    private let started = Atomic<Bool>(false)
    /// When the last comparison began: a burst of changes (thousands of writes a second) compares at
    /// most every `gap` seconds, so three nodes on two cores keep their CPU for the writes themselves.
    private let lastCompare = Mutex<Double>(0)
    static let gap = 0.025
    /// How many comparisons ran (the benchmark's and the tests' view of it).
    public let comparisons = Atomic<Int>(0)

    public init(state: ClusterState, journal: EventJournal) {
        self.state = state
        self.journal = journal
    }

    /// Starts watching (once; the daemon only: a CLI never does).
    public func start(interval: Double = 1) {
        guard job.claim() else { return }
        started.store(true, ordering: .releasing)
        if let fs = state.storage.fs as? ClusterFS {
            _ = fs.addObserver { [weak self] _ in self?.trigger() }
        }
        state.channel?.addObserver { [weak self] in self?.trigger() }
        timer.withLock { $0 = RepeatingTimer(queue: queue, after: 0, every: interval) { [weak self] in self?.trigger() } }
    }

    public func stop() {
        started.store(false, ordering: .releasing)
        timer.withLock { timer in
            timer?.cancel()
            timer = nil
        }
    }

    /// Compares the list again soon (coalesced: a burst of triggers is one or two comparisons). Not
    /// before `start`: a CLI's task ending must not set off a comparison while the process exits.
    public func trigger() {
        guard started.load(ordering: .acquiring) else { return }
        job.schedule { [weak self] in self?.compare() }
    }

    func compare() {
        let now = Date().timeIntervalSince1970
        let wait = lastCompare.withLock { last in Self.gap - (now - last) }
        if wait > 0 { usleep(UInt32(wait * 1_000_000)) }
        lastCompare.withLock { $0 = Date().timeIntervalSince1970 }
        comparisons.add(1, ordering: .relaxed)
        var current: [String: [String: JSON]] = [:]
        // moving figures do not count here, and what changes the rest mostly marks them stale (a container that
        // stops by itself does not): rows up to 5 s old do
        for row in state.rows(type: nil, guestAge: 5) {
            if let id = row["id"]?.stringValue { current[id] = row }
        }
        let previous = rows.withLock { rows in
            defer { rows = current }
            return rows
        }
        // the first look is the baseline: a client asks the list once and follows the events
        if let previous {
            // a thousand guests are compared every second: sort only what changed
            let changed = current.compactMap { id, row in previous[id].map { Self.differ($0, row) } ?? true ? id : nil }
            for id in changed.sorted() {
                let row = current[id]!
                journal.append("resource", .object(row), scope: Self.scope(row))
            }
            for id in previous.keys.filter({ current[$0] == nil }).sorted() {
                let row = previous[id]!
                var gone: [String: JSON] = ["id": .string(id)]
                for key in ["type", "node", "vmid", "storage", "sdn"] { gone[key] = row[key] }
                journal.append("resource-removed", .object(gone), scope: Self.scope(row))
            }
        }
        comparePeerTasks()
    }

    /// The other nodes' tasks, from what they publish: new ones start, ended ones finish.
    func comparePeerTasks() {
        var current: [String: Bool] = [:]
        var items: [String: [String: JSON]] = [:]
        for item in state.peerTasks() {
            guard let upid = item["upid"]?.stringValue else { continue }
            current[upid] = item["endtime"] != nil || item["status"] != nil
            items[upid] = item
        }
        let previous = peerTasks.withLock { known in
            defer { known = current }
            return known
        }
        guard let previous else { return }
        for (upid, ended) in current.sorted(by: { $0.key < $1.key }) {
            let item = items[upid] ?? [:]
            let scope = EventJournal.Scope.task(user: item["user"]?.stringValue ?? "", node: item["node"]?.stringValue ?? "")
            let before = previous[upid]
            if before == nil && !ended { journal.append("task-started", .object(item), scope: scope) }
            if ended && before != true { journal.append("task-finished", .object(item), scope: scope) }
        }
    }

    static func differ(_ a: [String: JSON], _ b: [String: JSON]) -> Bool {
        for (key, value) in a where !moving.contains(key) && b[key] != value { return true }
        for key in b.keys where a[key] == nil && !moving.contains(key) { return true }
        return false
    }

    /// Who may see a row: what `/cluster/resources` asks of its caller.
    public static func scope(_ row: [String: JSON]) -> EventJournal.Scope {
        switch row["type"]?.stringValue {
        case "node": return .privileges(path: "/nodes/\(row["node"]?.stringValue ?? "")", ["Sys.Audit"], any: false)
        case "storage":
            return .privileges(path: "/storage/\(row["storage"]?.stringValue ?? "")", ["Datastore.Audit", "Datastore.AllocateSpace"], any: true)
        case "sdn": return .privileges(path: "/sdn/zones/\(row["sdn"]?.stringValue ?? "")", ["SDN.Audit"], any: false)
        default: return .privileges(path: "/vms/\(row["vmid"]?.intValue ?? 0)", ["VM.Audit"], any: false)
        }
    }
}

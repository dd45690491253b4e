import Corosync
import Dispatch
import Glibc
import Synchronization

/// Keeps this node's tree equal to every other member's, over a group with one total order of
/// messages and memberships (corosync CPG, or a fake bus in unit tests).
///
/// - A change is multicast; every member applies it at its place in the order. The writer's call
///   returns once its own message was applied here, with the result every member got.
/// - A change is applied only while the group's members are a majority of the configured nodes.
///   Every member sees the same memberships at the same places in the order, so they all decide the
///   same way: a change is applied by all members of a configuration or by none.
/// - After each membership change every member multicasts its state (version, checksum, index); the
///   most recent tree wins (highest version, ties to the lowest member), and its holder multicasts
///   what the others lack. Changes delivered meanwhile wait and are applied once the trees agree.
/// - From time to time the lowest member asks everyone for its checksum at one place in the order;
///   any difference starts a new synchronisation.
final class Replicator: @unchecked Sendable {
    enum Mode: Equatable { case disconnected, syncing, awaitingUpdate(from: CPGMember), normal }

    private final class Waiter: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var result: Result<Void, ClusterFSError> = .success(())
    }

    private struct State {
        var mode = Mode.disconnected
        var local: CPGMember?
        var members: [CPGMember] = []
        var nodes: [ClusterNode] = []
        var clusterName = ""
        var corosyncQuorate = false
        var states: [CPGMember: SyncState] = [:]
        var names: [UInt32: String] = [:]
        var queue: [(from: CPGMember, id: UInt64, operation: ClusterFSOperation)] = []
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0
        var verify: (nonce: UInt64, values: [CPGMember: UInt64])?
        var syncs = 0
        var resyncs = 0
        var lastSyncTransfer = 0

        /// A quorum device (qnetd) breaks ties: half of the nodes may write while corosync, with the
        /// witness's vote, says they are quorate.
        var witness = false

        var membershipQuorate: Bool {
            let online = Set(members.map(\.nodeID)).count
            // without a node list (cmap unreadable) only corosync's own view is left
            if nodes.isEmpty { return corosyncQuorate }
            return online * 2 > nodes.count || (witness && corosyncQuorate && online * 2 == nodes.count)
        }
    }

    private let fs: ClusterFS
    private var transmitter: @Sendable ([UInt8]) throws -> Void
    private let state = Mutex(State())
    private let log: @Sendable (String) -> Void
    var submitTimeout: Double = 30

    init(fs: ClusterFS, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.fs = fs
        self.transmitter = { _ in throw ClusterFSError(EACCES, "not connected to the cluster") }
        self.log = log
    }

    /// How to multicast to the group (the sender included); set once, before any traffic.
    func setTransmit(_ send: @escaping @Sendable ([UInt8]) throws -> Void) { transmitter = send }

    private func transmit(_ bytes: [UInt8]) throws { try transmitter(bytes) }

    // MARK: what writers and readers see

    /// Connected, synchronised or about to be, corosync quorate and a majority of nodes in the group.
    var canWrite: Bool {
        state.withLock { $0.local != nil && $0.mode != .disconnected && $0.corosyncQuorate && $0.membershipQuorate }
    }

    var mode: Mode { state.withLock { $0.mode } }

    struct Status: Sendable {
        var mode: Mode
        var local: CPGMember?
        var members: [CPGMember]
        var nodes: [ClusterNode]
        var names: [UInt32: String]
        var clusterName: String
        var quorate: Bool
        var syncs: Int
        var resyncs: Int
        var lastSyncTransfer: Int
    }

    var status: Status {
        state.withLock {
            Status(
                mode: $0.mode, local: $0.local, members: $0.members, nodes: $0.nodes, names: $0.names, clusterName: $0.clusterName,
                quorate: $0.corosyncQuorate && $0.membershipQuorate, syncs: $0.syncs, resyncs: $0.resyncs,
                lastSyncTransfer: $0.lastSyncTransfer)
        }
    }

    /// The replication fields of `.clusterfs-status`.
    var statusFields: String {
        let s = status
        let mode =
            switch s.mode {
            case .disconnected: "disconnected"
            case .syncing: "syncing"
            case .awaitingUpdate: "syncing"
            case .normal: "synced"
            }
        let members = s.members.map { "\"\($0)\"" }.joined(separator: ", ")
        return
            "\"mode\": \"\(mode)\",\n\"quorate\": \(s.quorate ? 1 : 0),\n\"members\": [\(members)],\n\"syncs\": \(s.syncs),\n\"resyncs\": \(s.resyncs),\n\"last_sync_entries\": \(s.lastSyncTransfer)"
    }

    /// Multicasts `operation` and waits until it was applied here, in its place in the cluster's order.
    func submit(_ operation: ClusterFSOperation) throws {
        let waiter = Waiter()
        let id: UInt64 = try state.withLock { s throws(ClusterFSError) in
            guard s.local != nil, s.mode != .disconnected, s.corosyncQuorate, s.membershipQuorate else { throw ClusterFSError.noQuorum }
            s.nextID += 1
            s.waiters[s.nextID] = waiter
            return s.nextID
        }
        do {
            try transmit(ReplicationMessage.operation(id: id, operation).encoded())
        } catch {
            state.withLock { _ = $0.waiters.removeValue(forKey: id) }
            throw ClusterFSError(EACCES, "cannot send the change to the cluster: \(error)")
        }
        if waiter.done.wait(timeout: .now() + submitTimeout) == .timedOut {
            let stillWaiting = state.withLock { $0.waiters.removeValue(forKey: id) != nil }
            if stillWaiting { throw ClusterFSError(ETIMEDOUT, "the cluster did not confirm the change within \(Int(submitTimeout)) s") }
            waiter.done.wait()
        }
        try waiter.result.get()
    }

    // MARK: events, in delivery order (the group's dispatch thread)

    /// Effects gathered under the lock and carried out after it: sends, observer calls, waking writers.
    private struct Effects {
        var outbox: [ReplicationMessage] = []
        var changes: [ClusterFSChange] = []
        var completions: [(Waiter, Result<Void, ClusterFSError>)] = []
        var layoutCheck = false
    }

    private func handle(_ body: (inout State, inout Effects) -> Void) {
        var effects = Effects()
        state.withLock { body(&$0, &effects) }
        if !effects.changes.isEmpty { fs.notify(effects.changes) }
        for (waiter, result) in effects.completions {
            waiter.result = result
            waiter.done.signal()
        }
        for message in effects.outbox {
            do { try transmit(message.encoded()) } catch { log("clusterfs: send failed: \(error)") }
        }
        if effects.layoutCheck { ensureLayoutSoon() }
    }

    func connected(local: CPGMember, nodes: [ClusterNode], clusterName: String, witness: Bool) {
        handle { s, _ in
            s.local = local
            s.nodes = nodes
            s.witness = witness
            s.clusterName = clusterName
            s.members = []
            s.mode = .syncing  // until the first membership arrives
            for node in nodes { s.names[node.nodeID] = node.name }
            s.names[local.nodeID] = fs.nodeName
        }
        log("clusterfs: connected as \(local), \(nodes.count) configured nodes")
    }

    /// corosync reloaded a configuration with other nodes (a node was added or removed).
    func nodesChanged(_ nodes: [ClusterNode], clusterName: String, witness: Bool) {
        handle { s, _ in
            s.nodes = nodes
            s.witness = witness
            s.clusterName = clusterName
            for node in nodes { s.names[node.nodeID] = node.name }
        }
        log("clusterfs: \(nodes.count) configured nodes")
    }

    func disconnected() {
        handle { s, e in
            s.mode = .disconnected
            s.local = nil
            s.members = []
            s.states = [:]
            s.queue = []
            s.verify = nil
            let lost = ClusterFSError(EIO, "lost the connection to corosync before the change was confirmed; the other nodes may still apply it")
            e.completions = s.waiters.values.map { ($0, .failure(lost)) }
            s.waiters = [:]
        }
        log("clusterfs: disconnected from corosync")
    }

    func quorumChanged(_ quorate: Bool) {
        handle { s, e in
            s.corosyncQuorate = quorate
            e.layoutCheck = quorate && s.mode == .normal
        }
    }

    func membershipChanged(_ members: [CPGMember]) {
        handle { s, e in
            guard s.local != nil else { return }
            s.members = members.sorted()
            startSync(&s, &e)
        }
        log("clusterfs: members \(members.sorted().map(\.description).joined(separator: " "))")
    }

    private func startSync(_ s: inout State, _ e: inout Effects) {
        s.mode = .syncing
        s.states = [:]
        s.verify = nil
        e.outbox.append(.state(round: s.members, nodeName: fs.nodeName, fs.syncState()))
    }

    func delivered(from sender: CPGMember, _ bytes: [UInt8]) {
        let message: ReplicationMessage
        do { message = try ReplicationMessage(decoding: bytes) } catch {
            log("clusterfs: dropped a malformed message of \(bytes.count) bytes from \(sender)")
            return
        }
        handle { s, e in
            switch message {
            case .operation(let id, let operation):
                switch s.mode {
                case .disconnected: return
                case .syncing, .awaitingUpdate: s.queue.append((sender, id, operation))
                case .normal: apply(operation, id: id, from: sender, &s, &e)
                }

            case .state(let round, let nodeName, let peer):
                guard s.mode == .syncing, round == s.members, s.members.contains(sender) else { return }
                s.states[sender] = peer
                s.names[sender.nodeID] = nodeName
                if s.states.count == s.members.count { decide(&s, &e) }

            case .update(let round, let version, let checksum, let inodes, let entries):
                guard s.mode == .awaitingUpdate(from: sender), round == s.members else { return }
                if fs.checksumValue != checksum {
                    do {
                        e.changes += try fs.applySync(leaderInodes: inodes, entries: entries, version: version)
                        s.lastSyncTransfer = entries.count
                    } catch {
                        log("clusterfs: applying the synchronisation failed: \(error)")
                    }
                }
                finishSync(&s, &e)

            case .verify(let nonce):
                guard s.mode == .normal, s.members.contains(sender) else { return }
                s.verify = (nonce, [:])
                e.outbox.append(.checksum(nonce: nonce, value: fs.checksumValue))

            case .checksum(let nonce, let value):
                guard s.mode == .normal, s.verify?.nonce == nonce, s.members.contains(sender) else { return }
                s.verify!.values[sender] = value
                guard s.verify!.values.count == s.members.count else { return }
                let diverged = Set(s.verify!.values.values).count > 1
                s.verify = nil
                if diverged {
                    s.resyncs += 1
                    log("clusterfs: checksums differ between members; synchronising again")
                    startSync(&s, &e)
                }
            }
        }
    }

    /// Every member's state is in: the same decision is taken on every node.
    private func decide(_ s: inout State, _ e: inout Effects) {
        let ranked = s.states.sorted { a, b in a.value.version != b.value.version ? a.value.version > b.value.version : a.key < b.key }
        let (leader, best) = ranked[0]
        let behind = s.states.filter { $0.value.checksum != best.checksum || $0.value.version != best.version }
        if behind.isEmpty {
            finishSync(&s, &e)
            return
        }
        s.mode = .awaitingUpdate(from: leader)
        guard leader == s.local else { return }
        let mine = fs.syncState()
        var wanted = Set<UInt64>()
        for (_, peer) in behind {
            for (inode, digest) in mine.index where peer.index[inode] != digest { wanted.insert(inode) }
        }
        e.outbox.append(
            .update(
                round: s.members, version: mine.version, checksum: mine.checksum, inodes: Array(mine.index.keys),
                entries: fs.entries(Array(wanted))))
        log("clusterfs: leading synchronisation: \(wanted.count) entries to \(behind.count) member(s)")
    }

    private func finishSync(_ s: inout State, _ e: inout Effects) {
        s.mode = .normal
        s.states = [:]
        s.syncs += 1
        let queued = s.queue
        s.queue = []
        for item in queued { apply(item.operation, id: item.id, from: item.from, &s, &e) }
        e.layoutCheck = s.corosyncQuorate
    }

    private func apply(_ operation: ClusterFSOperation, id: UInt64, from sender: CPGMember, _ s: inout State, _ e: inout Effects) {
        let result: Result<Void, ClusterFSError>
        if !s.membershipQuorate {
            result = .failure(.noQuorum)
        } else {
            do {
                e.changes.append(try fs.apply(operation, writer: sender.nodeID))
                result = .success(())
            } catch let error as ClusterFSError {
                result = .failure(error)
            } catch {
                result = .failure(ClusterFSError(EIO, "\(error)"))
            }
        }
        if sender == s.local, let waiter = s.waiters.removeValue(forKey: id) { e.completions.append((waiter, result)) }
    }

    // MARK: periodic work

    /// Asks the group to compare checksums, if this node is the lowest member and all is settled.
    func verifyIfLeader() {
        let leads = state.withLock { $0.mode == .normal && $0.local != nil && $0.members.first == $0.local }
        guard leads else { return }
        do { try transmit(ReplicationMessage.verify(nonce: UInt64.random(in: 1...UInt64.max)).encoded()) } catch {}
    }

    private let layoutPending = Atomic<Bool>(false)

    /// The node's own directories are made through replication, so never on the dispatch thread
    /// (that thread must stay free to deliver the very changes being waited for).
    private func ensureLayoutSoon() {
        guard !layoutPending.exchange(true, ordering: .acquiringAndReleasing) else { return }
        DispatchQueue.global().async { [self] in
            defer { layoutPending.store(false, ordering: .releasing) }
            if canWrite { try? fs.ensureBaseLayout() }
        }
    }
}

internal import CCPG
internal import CCmap
internal import CQuorum
import Glibc
import Synchronization

/// One connection to the local corosync: libquorum for the quorum state, libcpg for the process
/// groups, cmap for the node list. A dedicated thread connects, joins the groups, dispatches their
/// callbacks to the listener in delivery order, and when corosync goes away (CS_ERR_LIBRARY)
/// finalizes everything and reconnects with backoff (0.1 s doubling to 5 s).
public final class CorosyncConnection: @unchecked Sendable {
    public let groups: [String]
    private weak var listener: (any CorosyncListener)?
    private struct Handles {
        var cpg: [String: cpg_handle_t] = [:]
        var quorum: quorum_handle_t = 0
    }
    private let handles = Mutex(Handles())
    /// One message's fragments must not interleave with another's from this process.
    private let sendLock = Mutex(())
    private let stopping = Atomic<Bool>(false)
    private var fragmenters: [String: MessageFragmenter] = [:]  // dispatch thread only
    private var knownNodes: [ClusterNode] = []  // dispatch thread only
    private var thread: pthread_t?
    /// A pipe that wakes the connection thread for `stop`.
    private let wakeFD: Int32
    private let wakeWriteFD: Int32

    public init(groups: [String], listener: any CorosyncListener) {
        self.groups = groups
        self.listener = listener
        var fds: [Int32] = [-1, -1]
        _ = pipe(&fds)
        wakeFD = fds[0]
        wakeWriteFD = fds[1]
    }

    deinit {
        close(wakeFD)
        close(wakeWriteFD)
    }

    /// Starts the connection thread; it keeps reconnecting until `stop`.
    public func start() {
        let box = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        pthread_create(
            &tid, nil,
            { arg in
                let connection = Unmanaged<CorosyncConnection>.fromOpaque(arg!).takeRetainedValue()
                connection.run()
                return nil
            }, box)
        thread = tid
    }

    /// Leaves the groups, finalizes and joins the thread.
    public func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        var one: UInt8 = 1
        _ = write(wakeWriteFD, &one, 1)
        if let thread { pthread_join(thread, nil) }
        thread = nil
    }

    /// Multicasts `message` to `group` in agreed (total) order; it is delivered to every member,
    /// this one included. Stands for `cpg_mcast_joined` (CPG_TYPE_AGREED), retried while corosync
    /// applies flow control.
    public func send(group: String, _ message: [UInt8]) throws(CorosyncError) {
        guard let handle = handles.withLock({ $0.cpg[group] }) else {
            throw CorosyncError(code: CS_ERR_LIBRARY.rawValue, function: "cpg_mcast_joined")
        }
        let result: CorosyncError? = sendLock.withLock { _ in
            for fragment in MessageFragmenter.fragments(message) {
                var attempts = 0
                while true {
                    let rc = fragment.withUnsafeBytes { bytes -> cs_error_t in
                        var iov = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
                        return cpg_mcast_joined(handle, CPG_TYPE_AGREED, &iov, 1)
                    }
                    if rc == CS_OK { break }
                    attempts += 1
                    guard rc == CS_ERR_TRY_AGAIN, attempts < 10_000 else {
                        return CorosyncError(code: rc.rawValue, function: "cpg_mcast_joined")
                    }
                    usleep(attempts < 100 ? 100 : 1000)
                }
            }
            return nil
        }
        if let result { throw result }
    }

    // MARK: the connection thread

    private func run() {
        var backoff = 0.1
        while !stopping.load(ordering: .sequentiallyConsistent) {
            var connected = false
            do {
                let (nodeID, pid, quorate) = try connect()
                connected = true
                backoff = 0.1
                let (nodes, name) = Self.readNodeList()
                knownNodes = nodes
                listener?.corosyncConnected(localNodeID: nodeID, localPID: pid, nodes: nodes, clusterName: name)
                listener?.corosyncQuorumChanged(quorate)
                try pollLoop()
            } catch {}
            disconnect()
            if connected { listener?.corosyncDisconnected() }
            if stopping.load(ordering: .sequentiallyConsistent) { break }
            var pfd = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, Int32(backoff * 1000))
            backoff = min(backoff * 2, 5)
        }
    }

    private func connect() throws(CorosyncError) -> (UInt32, UInt32, Bool) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        var quorum: quorum_handle_t = 0
        var model = quorum_model_v0_data_t(model: QUORUM_MODEL_V0, quorum_notify_fn: corralQuorumNotify)
        var type: UInt32 = 0
        var rc = withUnsafeMutablePointer(to: &model) {
            $0.withMemoryRebound(to: quorum_model_data_t.self, capacity: 1) { quorum_model_initialize(&quorum, QUORUM_MODEL_V0, $0, &type, context) }
        }
        guard rc == CS_OK else { throw CorosyncError(code: rc.rawValue, function: "quorum_model_initialize") }
        handles.withLock { $0.quorum = quorum }
        rc = quorum_trackstart(quorum, UInt32(CS_TRACK_CHANGES))
        guard rc == CS_OK else { throw CorosyncError(code: rc.rawValue, function: "quorum_trackstart") }
        var quorate: Int32 = 0
        rc = quorum_getquorate(quorum, &quorate)
        guard rc == CS_OK else { throw CorosyncError(code: rc.rawValue, function: "quorum_getquorate") }

        var nodeID: UInt32 = 0
        for group in groups {
            var handle: cpg_handle_t = 0
            var cpgModel = cpg_model_v1_data_t(
                model: CPG_MODEL_V1, cpg_deliver_fn: corralCPGDeliver, cpg_confchg_fn: corralCPGConfchg,
                cpg_totem_confchg_fn: nil, flags: 0)
            rc = withUnsafeMutablePointer(to: &cpgModel) {
                $0.withMemoryRebound(to: cpg_model_data_t.self, capacity: 1) { cpg_model_initialize(&handle, CPG_MODEL_V1, $0, context) }
            }
            guard rc == CS_OK else { throw CorosyncError(code: rc.rawValue, function: "cpg_model_initialize") }
            handles.withLock { $0.cpg[group] = handle }
            var name = Self.cpgName(group)
            for attempt in 0... {
                rc = cpg_join(handle, &name)
                if rc != CS_ERR_TRY_AGAIN || attempt > 100 { break }
                usleep(50_000)
            }
            guard rc == CS_OK else { throw CorosyncError(code: rc.rawValue, function: "cpg_join") }
            rc = cpg_local_get(handle, &nodeID)
            guard rc == CS_OK else { throw CorosyncError(code: rc.rawValue, function: "cpg_local_get") }
            fragmenters[group] = MessageFragmenter()
        }
        return (nodeID, UInt32(getpid()), quorate != 0)
    }

    private func pollLoop() throws(CorosyncError) {
        let (cpg, quorum) = handles.withLock { ($0.cpg, $0.quorum) }
        var fds: [(fd: Int32, dispatch: () -> cs_error_t, name: String)] = []
        for (_, handle) in cpg {
            var fd: Int32 = -1
            let rc = cpg_fd_get(handle, &fd)
            guard rc == CS_OK else { throw CorosyncError(code: rc.rawValue, function: "cpg_fd_get") }
            fds.append((fd, { cpg_dispatch(handle, CS_DISPATCH_ALL) }, "cpg_dispatch"))
        }
        var qfd: Int32 = -1
        let rc = quorum_fd_get(quorum, &qfd)
        guard rc == CS_OK else { throw CorosyncError(code: rc.rawValue, function: "quorum_fd_get") }
        fds.append((qfd, { quorum_dispatch(quorum, CS_DISPATCH_ALL) }, "quorum_dispatch"))
        var pfds = fds.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) } + [pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
        while !stopping.load(ordering: .sequentiallyConsistent) {
            let n = poll(&pfds, nfds_t(pfds.count), 1000)
            if n < 0 && errno != EINTR { throw CorosyncError(code: CS_ERR_LIBRARY.rawValue, function: "poll") }
            for i in fds.indices where pfds[i].revents != 0 {
                let rc = fds[i].dispatch()
                if rc != CS_OK && rc != CS_ERR_TRY_AGAIN { throw CorosyncError(code: rc.rawValue, function: fds[i].name) }
            }
            if pfds.last!.revents != 0 { return }
        }
    }

    private func disconnect() {
        let old = handles.withLock { state -> Handles in
            let old = state
            state = Handles()
            return old
        }
        for (group, handle) in old.cpg {
            var name = Self.cpgName(group)
            _ = cpg_leave(handle, &name)
            _ = cpg_finalize(handle)
        }
        if old.quorum != 0 { _ = quorum_finalize(old.quorum) }
        fragmenters = [:]
    }

    // MARK: from the callbacks (dispatch thread)

    static func from(cpg handle: cpg_handle_t) -> CorosyncConnection? {
        var context: UnsafeMutableRawPointer?
        guard cpg_context_get(handle, &context) == CS_OK, let context else { return nil }
        return Unmanaged<CorosyncConnection>.fromOpaque(context).takeUnretainedValue()
    }

    static func from(quorum handle: quorum_handle_t) -> CorosyncConnection? {
        var context: UnsafeRawPointer?
        guard quorum_context_get(handle, &context) == CS_OK, let context else { return nil }
        return Unmanaged<CorosyncConnection>.fromOpaque(context).takeUnretainedValue()
    }

    static func groupName(_ name: UnsafePointer<cpg_name>) -> String {
        let length = min(Int(name.pointee.length), Int(CPG_MAX_NAME_LENGTH))
        return withUnsafeBytes(of: name.pointee.value) { String(decoding: $0.prefix(length), as: UTF8.self) }
    }

    static func cpgName(_ group: String) -> cpg_name {
        var name = cpg_name()
        let bytes = Array(group.utf8.prefix(Int(CPG_MAX_NAME_LENGTH)))
        name.length = UInt32(bytes.count)
        withUnsafeMutableBytes(of: &name.value) { $0.copyBytes(from: bytes) }
        return name
    }

    func delivered(group: String, from: CPGMember, fragment: UnsafeRawBufferPointer) {
        guard let message = fragmenters[group]?.receive(fragment, from: from) else { return }
        listener?.corosyncDelivered(group: group, from: from, message: message)
    }

    func membershipChanged(group: String, members: [CPGMember], left: [CPGMember], joined: [CPGMember]) {
        refreshNodeList()
        for member in left { fragmenters[group]?.forget(member) }
        listener?.corosyncMembershipChanged(group: group, members: members.sorted(), left: left, joined: joined)
    }

    func quorumChanged(_ quorate: Bool) {
        refreshNodeList()
        listener?.corosyncQuorumChanged(quorate)
    }

    /// A reloaded configuration adds or removes nodes: membership and quorum changes are when that
    /// shows, so the nodelist is read again then (on the dispatch thread, in order with the events).
    private func refreshNodeList() {
        let (nodes, name) = Self.readNodeList()
        guard !nodes.isEmpty, nodes != knownNodes else { return }
        knownNodes = nodes
        listener?.corosyncNodesChanged(nodes, clusterName: name)
    }

    // MARK: cmap

    /// Whether corosync's configuration names a quorum device (`quorum.device.model`).
    public static func hasQuorumDevice() -> Bool {
        var handle: cmap_handle_t = 0
        guard cmap_initialize(&handle) == CS_OK else { return false }
        defer { cmap_finalize(handle) }
        var value: UnsafeMutablePointer<CChar>?
        guard cmap_get_string(handle, "quorum.device.model", &value) == CS_OK, let value else { return false }
        free(value)
        return true
    }

    /// The configured nodes and the cluster name, from cmap (`nodelist.node.N.*`, `totem.cluster_name`).
    static func readNodeList() -> ([ClusterNode], String) {
        var handle: cmap_handle_t = 0
        guard cmap_initialize(&handle) == CS_OK else { return ([], "") }
        defer { cmap_finalize(handle) }
        func string(_ key: String) -> String? {
            var value: UnsafeMutablePointer<CChar>?
            guard cmap_get_string(handle, key, &value) == CS_OK, let value else { return nil }
            defer { free(value) }
            return String(cString: value)
        }
        var nodes: [ClusterNode] = []
        for index in 0..<1024 {
            var id: UInt32 = 0
            guard cmap_get_uint32(handle, "nodelist.node.\(index).nodeid", &id) == CS_OK else { break }
            nodes.append(
                ClusterNode(
                    nodeID: id, name: string("nodelist.node.\(index).name") ?? "node\(id)",
                    address: string("nodelist.node.\(index).ring0_addr") ?? ""))
        }
        return (nodes, string("totem.cluster_name") ?? "")
    }
}

import API
import Access
import ClusterFS
import Errors
import Foundation
import Glibc
import Guests
import Peers
import Schema
import Synchronization

/// Forming, joining and leaving a cluster, and keeping this node's corosync configuration equal to
/// ClusterFS's `corosync.conf`. The cluster's file lives in ClusterFS (every change bumps
/// `config_version`); each node installs its own copy (ClusterMembership's watcher) and tells its
/// corosync to reload. A node with a corosync configuration of its own starts in cluster mode.
public final class ClusterMembership: Sendable {
    public let nodeName: String
    public let tree: any ConfigTree
    /// Where the tree is mounted (removing a node's directory goes through the mount).
    public let mountpoint: String
    public let corosync: CorosyncService
    public let guests: GuestBackends
    /// Join tokens live with the other credentials.
    public let access: AccessControl?
    let peers: PeerClient?
    /// Whether this process runs in cluster mode (it watches `corosync.conf` then).
    public let clusterMode: Bool
    private let watcher = Mutex<WatchTimer?>(nil)
    /// Changes of corosync.conf this node makes itself are in progress (the watcher waits).
    private let busy = Mutex(0)
    /// When the watcher last made sure corosync-qdevice runs.
    let qdeviceChecked = Mutex<Double>(0)
    let log: @Sendable (String) -> Void

    public init(
        nodeName: String, tree: any ConfigTree, mountpoint: String, corosync: CorosyncService, guests: GuestBackends, access: AccessControl?,
        clusterMode: Bool, log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.access = access
        self.nodeName = nodeName
        self.tree = tree
        self.mountpoint = mountpoint
        self.corosync = corosync
        self.guests = guests
        self.clusterMode = clusterMode
        self.peers = try? PeerClient()
        self.log = log
    }

    /// The cluster's `corosync.conf`, or nil on a standalone node.
    public func clusterConfig() throws -> CorosyncConfig? {
        guard let text = try? tree.readString("corosync.conf") else { return nil }
        do { return try CorosyncConfig.parse(text) } catch { throw ClusterError("the cluster's corosync.conf cannot be read: \(error)") }
    }

    // MARK: create

    /// Makes this node a cluster of one: the key, `corosync.conf` in ClusterFS and the node's copy,
    /// corosync started. corrald restarts into cluster mode afterwards (`restartIntoCluster`).
    public func create(name: String, address: String?, nodeID: Int?, votes: Int?, log: (String) -> Void) throws {
        guard !corosync.setup.forcedLocal else {
            throw ClusterError("this node's settings force standalone mode ('local'): remove that setting to form a cluster")
        }
        guard try clusterConfig() == nil, !corosync.isConfigured else {
            throw ClusterError("this node is already part of a cluster (a corosync configuration exists)")
        }
        let address = try address ?? LocalAddress.primary()
        let config = CorosyncConfig.newCluster(name: name, node: nodeName, nodeID: nodeID ?? 1, votes: votes ?? 1, address: address)
        log("writing the corosync key to \(corosync.setup.authkeyPath)")
        try corosync.installKey(try CorosyncService.newKey())
        let text = config.serialized()
        log("writing corosync.conf (cluster '\(name)', node \(nodeName) as \(nodeID ?? 1) on \(address))")
        do {
            try corosync.install(text)
            try tree.write("corosync.conf", Array(text.utf8))
        } catch {
            corosync.removeConfiguration()
            throw error
        }
        log("starting corosync")
        try corosync.start()
    }

    // MARK: a member adds a node

    /// Adds `node` to the nodelist (PVE's addnode): what the joining node needs comes back.
    public func addNode(_ node: String, address: String, nodeID wanted: Int?, votes: Int, force: Bool) throws -> (key: [UInt8], config: String) {
        guard Checks.node(node) == nil else { throw APIError.parameters(["node": "invalid node name"]) }
        // the cluster lock is released before corosync reloads: adding a node can cost quorum until
        // it joins, and a lock cannot be released without quorum
        let added = try changing {
            try tree.withLock("corosync-conf", timeout: 10) { () throws -> (key: [UInt8], config: String) in
                guard var config = try clusterConfig() else { throw ClusterError("this node is not part of a cluster: create one first") }
                if let existing = config.nodes.first(where: { $0.name == node }) {
                    guard force else { throw APIError.parameters(["node": "a node named '\(node)' is already in the cluster"]) }
                    _ = config.removeNode(name: existing.name)
                }
                if let other = config.nodes.first(where: { $0.links.values.contains(address) }) {
                    throw APIError.parameters(["link0": "address \(address) is already used by node '\(other.name)'"])
                }
                let nodeID = wanted ?? config.freeNodeID
                if let other = config.nodes.first(where: { $0.nodeID == nodeID }) {
                    throw APIError.parameters(["nodeid": "node id \(nodeID) is already used by node '\(other.name)'"])
                }
                config.addNode(name: node, nodeID: nodeID, votes: votes, address: address)
                config.bumpVersion()
                let text = config.serialized()
                let key = try corosync.readKey()
                try tree.write("corosync.conf", Array(text.utf8))
                return (key, text)
            }
        }
        installAndReload(added.config)
        return added
    }

    /// Runs a change of `corosync.conf` while the watcher stands still (this node installs it itself).
    private func changing<T>(_ body: () throws -> T) throws -> T {
        busy.withLock { $0 += 1 }
        defer { busy.withLock { $0 -= 1 } }
        return try body()
    }

    /// Edits the cluster's `corosync.conf` under the cluster lock with a version bump; answers the new text.
    func changingConfig(_ edit: (inout CorosyncConfig) throws -> Void) throws -> String {
        try changing {
            try tree.withLock("corosync-conf", timeout: 10) { () throws -> String in
                guard var config = try clusterConfig() else { throw ClusterError("this node is not part of a cluster") }
                try edit(&config)
                config.bumpVersion()
                let text = config.serialized()
                try tree.write("corosync.conf", Array(text.utf8))
                return text
            }
        }
    }

    // MARK: removing a node

    public func removeNode(_ node: String) throws {
        guard node != nodeName else { throw ClusterError("cannot remove the node this call runs on: call another member") }
        let text = try changing {
            try tree.withLock("corosync-conf", timeout: 10) { () throws -> String in
                guard var config = try clusterConfig() else { throw ClusterError("this node is not part of a cluster") }
                guard config.removeNode(name: node) else { throw ClusterError("node '\(node)' is not in the cluster", code: .notFound) }
                let guestFiles = ["qemu-server", "lxc"].flatMap { kind in
                    ((try? FileManager.default.contentsOfDirectory(atPath: "\(mountpoint)/nodes/\(node)/\(kind)")) ?? []).filter {
                        $0.hasSuffix(".conf")
                    }
                }
                guard guestFiles.isEmpty else {
                    throw ClusterError("node '\(node)' still has guests (\(guestFiles.sorted().joined(separator: ", "))): move or remove them first")
                }
                config.bumpVersion()
                let text = config.serialized()
                try tree.write("corosync.conf", Array(text.utf8))
                return text
            }
        }
        installAndReload(text)
        // its directory goes too, so the same host can join again under its name
        try? FileManager.default.removeItem(atPath: "\(mountpoint)/nodes/\(node)")
    }

    // MARK: joining

    public struct JoinRequest: Sendable {
        public var host: String
        public var fingerprint: String
        public var password: String
        public var address: String?
        public var nodeID: Int?
        public var votes: Int?
        public var force = false
        public init(host: String, fingerprint: String, password: String) {
            self.host = host
            self.fingerprint = fingerprint
            self.password = password
        }
    }

    /// Checks what would stop a join before anything changes.
    public func checkJoin(_ request: JoinRequest) throws {
        guard !corosync.setup.forcedLocal else {
            throw ClusterError("this node's settings force standalone mode ('local'): remove that setting to join a cluster")
        }
        if (corosync.isConfigured || (try? clusterConfig()) != nil) && !request.force {
            throw ClusterError("this node is already part of a cluster: use 'force' to leave it and join another")
        }
        let vmids = guests.all.flatMap { $0.vmids() }
        guard vmids.isEmpty else {
            throw ClusterError("this node has guests (\(vmids.sorted().map(String.init).joined(separator: ", "))): a joining node must have none")
        }
    }

    /// Joins through the member at `request.host`: authenticates there (a join token, or root's
    /// password), is added to its nodelist, installs the key and configuration it answers with,
    /// and sets its own tree aside for the cluster's. corrald restarts afterwards.
    public func join(_ request: JoinRequest, log: (String) -> Void) throws {
        try checkJoin(request)
        guard let peers else { throw ClusterError("cannot make TLS connections") }
        let member = PeerAddress(host: request.host, port: 8006, fingerprint: request.fingerprint)
        log("connecting to \(member.authority), expecting certificate \(request.fingerprint.uppercased())")
        var parameters: [(String, String)] = [("apiversion", "\(Self.apiVersion)")]
        if let address = request.address { parameters.append(("link0", address)) }
        if let nodeID = request.nodeID { parameters.append(("nodeid", "\(nodeID)")) }
        if let votes = request.votes { parameters.append(("votes", "\(votes)")) }
        if request.force { parameters.append(("force", "1")) }
        var headers: [(String, String)] = [("Content-Type", "application/x-www-form-urlencoded")]
        if AccessControl.isJoinToken(request.password) {
            headers.append(("Authorization", "\(AccessControl.joinTokenScheme) \(request.password)"))
        } else {
            log("logging in as root@pam")
            let login = try call(
                peers, member, "POST", "/api2/json/access/ticket", [("username", "root@pam"), ("password", request.password)], headers: headers)
            guard let ticket = login["ticket"]?.stringValue, let csrf = login["CSRFPreventionToken"]?.stringValue else {
                throw ClusterError("the member's login answered without a ticket")
            }
            headers += [("Cookie", "PVEAuthCookie=\(ticket)"), ("CSRFPreventionToken", csrf)]
        }
        log("asking \(request.host) to add node '\(nodeName)'")
        let answer = try call(peers, member, "POST", "/api2/json/cluster/config/nodes/\(nodeName)", parameters, headers: headers)
        guard let keyText = answer["corosync_authkey"]?.stringValue, let key = Data(base64Encoded: keyText),
            let text = answer["corosync_conf"]?.stringValue
        else { throw ClusterError("the member's answer lacks the corosync key or configuration") }
        if request.force { corosync.stop() }
        log("writing the cluster's key and corosync.conf (config_version \((try? CorosyncConfig.parse(text))?.configVersion ?? 0))")
        try corosync.installKey(Array(key))
        try corosync.install(text)
        // the node's own tree is set aside at its next start (kept, not destroyed) for the cluster's
        try Data().write(to: URL(fileURLWithPath: corosync.setup.freshTreeMarker))
        log("joined: corrald restarts into cluster mode and takes the cluster's configuration")
    }

    /// One call to a member; its error comes back with the member's message.
    private func call(
        _ peers: PeerClient, _ member: PeerAddress, _ method: String, _ path: String, _ parameters: [(String, String)],
        headers: [(String, String)]
    ) throws -> [String: JSON] {
        let body = parameters.map { "\(ClusterForwarder.encodeSegment($0.0))=\(ClusterForwarder.encodeSegment($0.1))" }.joined(separator: "&")
        let response = try peers.send(
            PeerClient.Request(method: method, path: path, headers: headers, body: Array(body.utf8)), to: member, timeout: 30)
        let envelope = (try? JSONParser.parse(response.body))?.objectValue ?? [:]
        guard response.status == 200 else {
            var message = envelope["message"]?.stringValue ?? response.reason
            if message.hasSuffix("\n") { message.removeLast() }
            let errors = envelope["errors"]?.objectValue?.map { "\($0.key): \($0.value.plainText)" }.sorted() ?? []
            throw ClusterError("\(member.host) refused: \(message)" + (errors.isEmpty ? "" : " (\(errors.joined(separator: "; ")))"))
        }
        return envelope["data"]?.objectValue ?? [:]
    }

    /// What this node's API version is (a joining node and the member compare them).
    public static let apiVersion = 1

    // MARK: restarting

    /// corrald restarts (a moment later, so the task that asked can finish and be recorded).
    public func restartDaemon() { corosync.requestDaemonRestart(after: 1) }

    // MARK: watching corosync.conf

    /// Cluster mode: installs every newer `corosync.conf` as the node's copy and reloads corosync;
    /// a node no longer in the nodelist leaves (standalone at its next start, its tree set aside).
    public func startWatching(interval: Double = 1) {
        guard clusterMode else { return }
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in self?.checkConfig() }
        timer.resume()
        let box = WatchTimer(timer)
        watcher.withLock { $0 = box }
    }

    public func stopWatching() {
        let box = watcher.withLock { current -> WatchTimer? in
            defer { current = nil }
            return current
        }
        box?.timer.cancel()
    }

    func checkConfig() {
        guard busy.withLock({ $0 }) == 0 else { return }
        guard let text = try? tree.readString("corosync.conf"), let cluster = try? CorosyncConfig.parse(text) else { return }
        let installed = corosync.installedText.flatMap { try? CorosyncConfig.parse($0) }
        guard cluster.configVersion > (installed?.configVersion ?? 0) else { return reconcileQDevice(cluster) }
        if !cluster.nodes.contains(where: { $0.name == nodeName }), installed?.nodes.contains(where: { $0.name == nodeName }) == true {
            log("this node was removed from the cluster: leaving (its tree is kept aside; it starts standalone)")
            qdevice.stop()
            qdevice.removeFiles()
            corosync.stop()
            corosync.removeConfiguration()
            try? Data().write(to: URL(fileURLWithPath: corosync.setup.freshTreeMarker))
            corosync.requestDaemonRestart()
            return
        }
        log("corosync.conf changed (config_version \(cluster.configVersion)): installing and reloading")
        installAndReload(text)
        reconcileQDevice(cluster, now: true)
    }

    func installAndReload(_ text: String) {
        do {
            try corosync.install(text)
            try corosync.reload()
        } catch {
            log("cannot install or reload corosync.conf: \(error)")
        }
    }
}

/// A dispatch timer handed between threads (cancel is thread-safe).
final class WatchTimer: @unchecked Sendable {
    let timer: any DispatchSourceTimer
    init(_ timer: any DispatchSourceTimer) { self.timer = timer }
}

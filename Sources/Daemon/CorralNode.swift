import API
import Access
import AccessAPI
import Cluster
import ClusterFS
import Composition
import Containers
import FUSE
import Foundation
import Glibc
import Guests
import HTTPServer
import Nodes
import QEMU
import Schema
import Storage
import TLS
import Tasks

/// A whole node: its settings, services, API registry and HTTPS server. corrald runs one; tests run
/// several side by side, each under its own data directory.
public final class CorralNode: Sendable {
    public let settings: Settings
    public let services: Services
    public let dispatcher: Dispatcher
    public let certificates: NodeCertificates
    public let clusterFS: ClusterFS
    /// Cluster mode only: the corosync connection that replicates the tree.
    public let clusterLink: ClusterLink?
    /// Users, realms, tickets and ACLs (in the cluster filesystem).
    public let access: AccessControl
    /// This node's virtual machines.
    public let vms: VMManager
    /// This node's containers.
    public let cts: ContainerManager
    /// What the node's domains are built from.
    public let nodeServices: NodeServices
    private let fuseMount: FUSEMount
    private let server: HTTPServer

    public init(settings: Settings, log: @escaping @Sendable (String) -> Void) throws {
        guard Checks.node(settings.nodeName) == nil else { throw SettingsError("invalid node name '\(settings.nodeName)'") }
        self.settings = settings
        let fm = FileManager.default
        Self.clearStaleMount(settings.effectiveMountpoint, log: log)
        for directory in [settings.dataDirectory, settings.tasksDirectory, settings.effectiveMountpoint] {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let clusterMode = settings.clusterMode
        let corosync = CorosyncService(setup: settings.corosyncSetup)
        try Self.setTreeAsideIfAsked(settings, corosync: corosync, log: log)
        clusterFS = try ClusterFS(databasePath: settings.dataDirectory + "/config.db", nodeName: settings.nodeName, local: !clusterMode)
        if !clusterMode {
            clusterLink = nil
        } else {
            if corosync.isConfigured && corosync.runningPID == nil && corosync.setup.start != .none {
                log("starting corosync (\(corosync.setup.start.rawValue))")
                do { try corosync.start() } catch { log("cannot start corosync: \(error)") }
            }
            let link = ClusterLink(fs: clusterFS, verifyInterval: Double(settings.verifyInterval), log: log)
            clusterLink = link
            log("joining the cluster of the local corosync")
            // a node that has been part of the cluster starts with its copy of the tree (it catches up
            // once a quorate group forms); only a node's very first start must wait to store its certificate
            let known = (try? clusterFS.stat("nodes/\(settings.nodeName)/pve-ssl.pem")) != nil
            if !link.waitUntilWritable(timeout: known ? 5 : Double(settings.joinTimeout)) {
                log("not yet part of a quorate cluster; the configuration is read-only until quorum returns")
            }
        }
        fuseMount = try Self.mount(clusterFS, at: settings.effectiveMountpoint, log: log)
        certificates = NodeCertificates(mountpoint: settings.effectiveMountpoint, nodeName: settings.nodeName)
        access = AccessControl(fs: clusterFS)
        clusterFS.clusterLog("starting corrald \(BuildInfo.version) on node \(settings.nodeName)", tag: "corrald")
        let fingerprint: String
        do {
            fingerprint = try certificates.ensure(in: clusterFS, log: log)
            try access.ensureKeys()
        } catch {
            // nothing half-started is left behind: no mount, no group membership
            fuseMount.unmount()
            clusterLink?.stop()
            if let error = error as? ClusterFSError, error.errno == EACCES {
                throw SettingsError(
                    "this node has no certificate yet and the cluster has no quorum to store one: start the other nodes (or corosync) and try again")
            }
            throw error
        }

        let tasks = try TaskManager(directory: settings.tasksDirectory, node: settings.nodeName)
        let recovered = tasks.recoverOrphans()
        if recovered > 0 { log("marked \(recovered) interrupted task(s) as stopped") }
        let vms = NodeComposition.makeVMManager(settings: settings, tree: clusterFS, events: true)
        do { try vms.storage.ensureInitial(path: settings.effectiveStorageDirectory) } catch {
            log("cannot write the initial storage.cfg: \(error)")
        }
        self.vms = vms
        let cts = NodeComposition.makeContainerManager(settings: settings, tree: clusterFS, vms: vms)
        self.cts = cts
        nodeServices = NodeServices(
            settings: settings, tasks: tasks, access: access, vms: vms, cts: cts, fingerprint: fingerprint, clusterMode: clusterMode, log: log)
        dispatcher = try NodeComposition.makeDispatcher(nodeServices, rootCaller: false)
        services = dispatcher.services
        let registry = dispatcher.registry

        var configuration = HTTPServerConfiguration(
            listenAddresses: settings.listen,
            tls: try TLSContext(certificateChainFile: certificates.certificatePath, privateKeyFile: certificates.keyPath))
        configuration.limits = HTTPParserLimits(maxHeaderBytes: 64 * 1024, maxBodyBytes: settings.maxBody)
        // uploads (ISO images, templates) stream to disk, never into memory
        configuration.limits.spoolPaths = ["/api2/json/nodes/", "/api2/extjs/nodes/"]
        configuration.keepAliveTimeout = settings.keepAliveTimeout
        configuration.requestTimeout = settings.requestTimeout
        configuration.workers = settings.workers
        configuration.accessLogPath = settings.effectiveAccessLog
        configuration.serverName = "corrald/\(BuildInfo.version)"
        let www = fm.fileExists(atPath: settings.wwwDirectory) ? StaticFiles(root: settings.wwwDirectory) : nil
        if www == nil { log("no web console at \(settings.wwwDirectory); serving the API only") }
        let openAPI = OnDemandDocument { OpenAPIDocument.generate(registry, version: BuildInfo.version).serialized() }
        var responder = APIResponder(dispatcher: dispatcher, staticFiles: www, openAPI: openAPI)
        responder.apiDoc = OnDemandDocument { APIDoc.script(registry) }
        for (prefix, root) in [("/novnc/", "/usr/share/novnc"), ("/qrcode-generator/", "/usr/share/javascript/qrcode-generator")]
        where fm.fileExists(atPath: root) {
            responder.libraries.append((prefix, StaticFiles(root: root)))
        }
        server = try HTTPServer(configuration: configuration, responder: responder)
    }

    /// After a join (or its removal from a cluster) the node starts with an empty tree: the cluster's
    /// arrives by synchronisation. Its own database is kept beside, renamed, never destroyed.
    private static func setTreeAsideIfAsked(_ settings: Settings, corosync: CorosyncService, log: (String) -> Void) throws {
        let marker = corosync.setup.freshTreeMarker
        guard FileManager.default.fileExists(atPath: marker) else { return }
        let database = settings.dataDirectory + "/config.db"
        let aside = database + ".set-aside-\(Int(time(nil)))"
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: database + suffix) {
            try FileManager.default.moveItem(atPath: database + suffix, toPath: aside + suffix)
        }
        try FileManager.default.removeItem(atPath: marker)
        log("set this node's configuration database aside as \(aside); starting with the cluster's")
    }

    /// A daemon killed while mounted leaves "Transport endpoint is not connected" behind; detach it.
    /// Several can be stacked on one mount point, and each detach removes only the top one.
    private static func clearStaleMount(_ mountpoint: String, log: (String) -> Void) {
        for _ in 0..<16 {
            guard Glibc.access(mountpoint, F_OK) != 0 && errno == ENOTCONN else { return }
            log("clearing a stale mount at \(mountpoint)")
            umount2(mountpoint, Int32(MNT_DETACH))
        }
    }

    /// Mounts the cluster filesystem.
    private static func mount(_ fs: ClusterFS, at mountpoint: String, log: (String) -> Void) throws -> FUSEMount {
        for attempt in 0... {
            do {
                return try fs.mount(at: mountpoint, options: ["allow_other", "default_permissions", "fsname=corral", "subtype=clusterfs"])
            } catch let error as FUSEErrno where error.code == ENOTCONN && attempt < 20 {
                // a dead mount of a killed daemon can surface again while its lazy detach completes
                // (stacked mounts): detach what is there and try again
                clearStaleMount(mountpoint, log: log)
                usleep(100_000)
            } catch let error as FUSEErrno {
                throw SettingsError(
                    "cannot mount the cluster filesystem at \(mountpoint): \(String(cString: strerror(error.code))) (needs /dev/fuse and root)")
            }
        }
        fatalError("unreachable")
    }

    /// Serves, then starts the domains' background services.
    public func start() throws {
        try server.start()
        // `pvecm` signals the daemon through it (SIGHUP: restart into or out of cluster mode)
        try? "\(getpid())\n".write(toFile: settings.dataDirectory + "/corrald.pid", atomically: true, encoding: .utf8)
        for domain in nodeServices.domains { try domain.start() }
    }

    public var boundPorts: [UInt16] { server.boundPorts }

    public func shutdown(grace: Double = 10) async {
        await server.shutdown(grace: grace)
        for domain in nodeServices.domains.reversed() { await domain.stop() }
        fuseMount.unmount()
        clusterLink?.stop()
    }
}

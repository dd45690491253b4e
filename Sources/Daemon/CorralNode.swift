import API
import Access
import AccessAPI
import ClusterFS
import FUSE
import Foundation
import Glibc
import Guests
import HTTPServer
import Nodes
import Containers
import QEMU
import Storage
import Schema
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
    private let fuseMount: FUSEMount
    private let server: HTTPServer

    /// Every endpoint this build serves. The CLIs build the same list, so they and the API never differ.
    public static func endpoints(
        sampler: CPUSampler, fingerprint: String?, access: AccessControl? = nil, vms: VMManager? = nil, cts: ContainerManager? = nil
    ) -> [Endpoint] {
        var all = CoreEndpoints.all() + NodeEndpoints.all(sampler: sampler, fingerprint: fingerprint) + TaskEndpoints.all()
            + (access.map { AccessEndpoints.all(access: $0) } ?? [])
        if let vms {
            all += QemuEndpoints.all(manager: vms, access: access) + StorageEndpoints.all(storage: vms.storage)
                + ClusterEndpoints.all(vms: vms, guests: GuestBackends([vms] + (cts.map { [$0] } ?? [])), storage: vms.storage, sampler: sampler)
        }
        if let cts { all += LxcEndpoints.all(manager: cts, access: access) + TemplateEndpoints.all(manager: cts) }
        return all
    }

    /// The VM manager of a node: configs through `tree`, guests through libvirt.
    public static func makeVMManager(settings: Settings, tree: any ConfigTree, events: Bool) -> VMManager {
        VMManager(
            fs: tree, node: settings.nodeName, hypervisor: Hypervisor(uri: settings.libvirtURI, events: events),
            runDirectory: settings.runDirectory, logDirectory: settings.guestLogDirectory, domainPrefix: settings.domainPrefix)
    }

    /// The container manager of a node: configs through `tree`, containers through liblxc.
    public static func makeContainerManager(settings: Settings, tree: any ConfigTree, vms: VMManager) -> ContainerManager {
        ContainerManager(
            fs: tree, node: settings.nodeName, lxcpath: settings.effectiveLXCPath, runDirectory: settings.runDirectory,
            logDirectory: settings.guestLogDirectory, consoles: vms.consoles)
    }

    /// Builds the services and the dispatcher for a node without a server (the CLIs use this).
    public static func makeDispatcher(settings: Settings, echoTaskLog: (@Sendable (String) -> Void)? = nil) throws -> Dispatcher {
        let tasks = try TaskManager(directory: settings.tasksDirectory, node: settings.nodeName, echo: echoTaskLog)
        let certificate = NodeCertificates(mountpoint: settings.effectiveMountpoint, nodeName: settings.nodeName).certificatePath
        let fingerprint = try? CertificateAuthority.fingerprint(pemCertificate: String(contentsOfFile: certificate, encoding: .utf8))
        // access control works on the mounted tree, as PVE's tools write /etc/pve; the CLIs stay root@pam
        let mount = settings.effectiveMountpoint
        let mounted = FileManager.default.fileExists(atPath: mount + "/.version")
        let access = mounted ? AccessControl(fs: MountedTree(root: mount)) : nil
        let vms = mounted ? makeVMManager(settings: settings, tree: MountedTree(root: mount), events: false) : nil
        let cts = vms.map { makeContainerManager(settings: settings, tree: MountedTree(root: mount), vms: $0) }
        return try makeDispatcher(settings: settings, tasks: tasks, fingerprint: fingerprint, access: access, vms: vms, cts: cts, rootCaller: true)
    }

    /// With `access` (the daemon): every caller authenticates (ticket or API token; only login and
    /// the realm list are open) and every endpoint's check runs on the ACLs. Without it (the CLIs,
    /// which run as root on the node, like PVE's pvesh): root@pam.
    static func makeDispatcher(
        settings: Settings, tasks: TaskManager, fingerprint: String?, access: AccessControl? = nil, vms: VMManager? = nil,
        cts: ContainerManager? = nil, rootCaller: Bool = false
    ) throws -> Dispatcher {
        let services = Services(nodeName: settings.nodeName, tasks: tasks, productVersion: BuildInfo.version, repoID: BuildInfo.repoID)
        let registry = try Registry(endpoints(sampler: CPUSampler(), fingerprint: fingerprint, access: access, vms: vms, cts: cts))
        services.registryBox.withLock { $0 = registry }
        guard let access, !rootCaller else {
            return Dispatcher(registry: registry, services: services, authenticator: LocalRootAuthenticator(), authorizer: RootOnlyAuthorizer())
        }
        return Dispatcher(
            registry: registry, services: services, authenticator: AccessAuthenticator(access: access),
            authorizer: AccessAuthorizer(access: access))
    }

    public init(settings: Settings, log: @escaping @Sendable (String) -> Void) throws {
        guard Checks.node(settings.nodeName) == nil else { throw SettingsError("invalid node name '\(settings.nodeName)'") }
        self.settings = settings
        let fm = FileManager.default
        Self.clearStaleMount(settings.effectiveMountpoint, log: log)
        for directory in [settings.dataDirectory, settings.tasksDirectory, settings.effectiveMountpoint] {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        clusterFS = try ClusterFS(databasePath: settings.dataDirectory + "/config.db", nodeName: settings.nodeName, local: settings.local)
        if settings.local {
            clusterLink = nil
        } else {
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
                throw SettingsError("this node has no certificate yet and the cluster has no quorum to store one: start the other nodes (or corosync) and try again")
            }
            throw error
        }

        let tasks = try TaskManager(directory: settings.tasksDirectory, node: settings.nodeName)
        let recovered = tasks.recoverOrphans()
        if recovered > 0 { log("marked \(recovered) interrupted task(s) as stopped") }
        let vms = Self.makeVMManager(settings: settings, tree: clusterFS, events: true)
        do { try vms.storage.ensureInitial(path: settings.effectiveStorageDirectory) } catch {
            log("cannot write the initial storage.cfg: \(error)")
        }
        self.vms = vms
        let cts = Self.makeContainerManager(settings: settings, tree: clusterFS, vms: vms)
        self.cts = cts
        dispatcher = try Self.makeDispatcher(settings: settings, tasks: tasks, fingerprint: fingerprint, access: access, vms: vms, cts: cts)
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
        let openAPI = OpenAPIDocument.generate(registry, version: BuildInfo.version).serialized()
        var responder = APIResponder(dispatcher: dispatcher, staticFiles: www, openAPI: openAPI)
        for (prefix, root) in [("/novnc/", "/usr/share/novnc")] where fm.fileExists(atPath: root) {
            responder.libraries.append((prefix, StaticFiles(root: root)))
        }
        server = try HTTPServer(configuration: configuration, responder: responder)
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
                throw SettingsError("cannot mount the cluster filesystem at \(mountpoint): \(String(cString: strerror(error.code))) (needs /dev/fuse and root)")
            }
        }
        fatalError("unreachable")
    }

    public func start() throws { try server.start() }

    public var boundPorts: [UInt16] { server.boundPorts }

    public func shutdown(grace: Double = 10) async {
        await server.shutdown(grace: grace)
        fuseMount.unmount()
        clusterLink?.stop()
    }
}

import API
import Access
import AccessAPI
import ClusterFS
import Containers
import Foundation
import Nodes
import Peers
import QEMU
import Storage
import Synchronization
import TLS
import Tasks

/// How a node is put together from its parts; corrald and the CLIs both build through here, so the
/// API a CLI drives is the daemon's, endpoint for endpoint.
public enum NodeComposition {
    /// Every endpoint of a node made of these services.
    public static func endpoints(_ services: NodeServices) -> [Endpoint] { services.domains.flatMap(\.endpoints) }

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

    /// The services and dispatcher of a CLI on the node: the mounted tree, root@pam (as PVE's pvesh).
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
        let services = NodeServices(settings: settings, tasks: tasks, access: access, vms: vms, cts: cts, fingerprint: fingerprint)
        return try makeDispatcher(services, rootCaller: true)
    }

    /// With access control and not `rootCaller` (the daemon): every caller authenticates (ticket or
    /// API token; only login and the realm list are open) and every endpoint's check runs on the
    /// ACLs. Otherwise (the CLIs, which run as root on the node, like PVE's pvesh): root@pam.
    public static func makeDispatcher(_ node: NodeServices, rootCaller: Bool) throws -> Dispatcher {
        let services = Services(
            nodeName: node.settings.nodeName, tasks: node.tasks, productVersion: BuildInfo.version, repoID: BuildInfo.repoID)
        let registry = try Registry(endpoints(node))
        services.registryBox.withLock { $0 = registry }
        if let access = node.access, let client = try? PeerClient() {
            services.forwarderBox.withLock {
                $0 = ClusterForwarder(tree: access.fs, client: client, port: node.settings.peerPort) { user, method, line in
                    try access.proxyProof(user: user, method: method, path: line)
                }
            }
        }
        guard let access = node.access, !rootCaller else {
            return Dispatcher(registry: registry, services: services, authenticator: LocalRootAuthenticator(), authorizer: RootOnlyAuthorizer())
        }
        return Dispatcher(
            registry: registry, services: services, authenticator: AccessAuthenticator(access: access), authorizer: AccessAuthorizer(access: access))
    }
}

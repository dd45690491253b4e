import API
import Access
import AccessAPI
import Backup
import Cluster
import ClusterFS
import Containers
import Firewall
import Foundation
import Guests
import HAService
import Metrics
import Nodes
import QEMU
import SDN
import Schema
import Storage
import Tasks

/// Everything a node's domains are built from, made once per process: the daemon makes it over the
/// in-process cluster filesystem, the CLIs over its mount.
public struct NodeServices: Sendable {
    public let settings: Settings
    public let tasks: TaskManager
    /// Access control (the daemon, or a CLI on a node whose cluster filesystem is mounted).
    public let access: AccessControl?
    /// The guest managers, when the cluster filesystem is there to hold their configs.
    public let vms: VMManager?
    public let cts: ContainerManager?
    public let sampler: CPUSampler
    /// The SHA-256 fingerprint of this node's certificate.
    public let fingerprint: String?
    /// Forming, joining and leaving the cluster (made once: its watcher runs while the node does).
    public let membership: ClusterMembership?
    /// Every node's rows for `/cluster/resources` and `/nodes` (made once: it publishes this node's).
    public let clusterState: ClusterState?
    /// The node's firewall (made once: it watches the configuration while the node runs).
    public let firewall: FirewallService?
    /// The node's SDN networks (made once: it watches the applied configuration).
    public let sdn: SDNService?
    /// The node's HA managers (made once: they run every 2 s while the node does).
    public let ha: HAService?
    /// The node's figures every 10 s into RRD files (made once: its timer runs while the node does).
    public let metrics: MetricsService
    /// The node's recent events for `/events` (made once: clients resume from it).
    public let events: EventJournal
    /// The cluster's resource changes onto `events` (started with the cluster domain, in corrald only).
    public let resourceEvents: ResourceEvents?

    public init(
        settings: Settings, tasks: TaskManager, access: AccessControl?, vms: VMManager?, cts: ContainerManager?, sampler: CPUSampler = CPUSampler(),
        fingerprint: String?, clusterMode: Bool = false, log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.settings = settings
        self.tasks = tasks
        self.access = access
        self.vms = vms
        self.cts = cts
        self.sampler = sampler
        self.fingerprint = fingerprint
        var all: [any GuestBackend] = []
        if let vms { all.append(vms) }
        if let cts { all.append(cts) }
        membership = vms.map { vms in
            ClusterMembership(
                nodeName: settings.nodeName, tree: vms.storage.fs, mountpoint: settings.effectiveMountpoint,
                corosync: CorosyncService(setup: settings.corosyncSetup), guests: GuestBackends(all), access: access,
                clusterMode: clusterMode, log: log)
        }
        clusterState = vms.map { vms in
            ClusterState(
                nodeName: settings.nodeName, guests: GuestBackends(all), storage: vms.storage, sampler: sampler,
                localTasks: { TaskEndpoints.recentItems(tasks) })
        }
        clusterState?.watch(tasks: tasks)
        let events = EventJournal()
        self.events = events
        CoreEndpoints.journal(tasks: tasks, into: events)
        resourceEvents = clusterState.map { ResourceEvents(state: $0, journal: events) }
        if let resourceEvents {
            // a guest that started or stopped is in the list at once, not at the next second
            _ = tasks.addObserver { event in if case .finished = event { resourceEvents.trigger() } }
            // and one that stopped by itself (shut down inside, crashed) at libvirt's word, not at the next second;
            // libvirt's word can also come just after a task ended, which the rows cached then did not see
            if let state = clusterState {
                vms?.hypervisor.addListener { _ in
                    state.invalidateGuests()
                    resourceEvents.trigger()
                }
            }
        }
        // the ports that stay open unless a rule closes them: the API's, the peers', SSH
        let ports = settings.listen.compactMap { $0.split(separator: ":").last.flatMap { Int($0) } }.filter { $0 > 0 }
        firewall = vms.map { vms in
            FirewallService(tree: vms.storage.fs, node: settings.nodeName, managementTCP: Array(Set(ports + [Int(settings.peerPort), 22])).sorted())
        }
        sdn = vms.map { vms in
            SDNService(
                tree: vms.storage.fs, node: settings.nodeName, etc: (settings.effectiveResolvConf as NSString).deletingLastPathComponent,
                run: settings.runDirectory)
        }
        let guests = GuestBackends(all)
        let metrics = MetricsService(
            directory: settings.dataDirectory + "/rrd", node: settings.nodeName, guests: guests, storage: vms?.storage, cpu: sampler, log: log)
        self.metrics = metrics
        _ = tasks.addObserver { event in
            guard case .finished(let record) = event, ["qmdestroy", "vzdestroy"].contains(record.upid.type), let vmid = Int(record.upid.id),
                guests.owner(of: vmid) == nil
            else { return }
            metrics.forget(vmid: vmid)
        }
        ha = vms.map { vms in
            // what the watchdog runs to kill a guest without its manager (also one started after the last renewal)
            let lxcpath = settings.effectiveLXCPath, uri = settings.libvirtURI, prefix = settings.domainPrefix
            return HAService(
                tree: vms.storage.fs, node: settings.nodeName, guests: guests, tasks: tasks, runDirectory: settings.runDirectory,
                fenceCommand: { type, vmid in
                    type == "lxc" ? ["lxc-stop", "-k", "-n", "\(vmid)", "-P", lxcpath] : ["virsh", "-c", uri, "destroy", "\(prefix)\(vmid)"]
                }, log: log)
        }
    }

    /// Every guest type of the node, for code that works on any guest.
    public var guests: GuestBackends {
        var all: [any GuestBackend] = []
        if let vms { all.append(vms) }
        if let cts { all.append(cts) }
        return GuestBackends(all)
    }
    public var storage: Storage? { vms?.storage }

    /// Every cluster node's row, for `/nodes`.
    var nodeRows: (@Sendable () -> [[String: JSON]])? {
        guard let clusterState else { return nil }
        return { clusterState.rows(type: "node") }
    }

    /// The node's domains: the one list a new domain (backup, network, HA, metrics) joins.
    public var domains: [any Domain] {
        var all: [any Domain] = [
            CoreDomain(events: events),
            NodesDomain(
                sampler: sampler, fingerprint: fingerprint, clusterNodes: nodeRows,
                peerTasks: clusterState.map { state in { @Sendable in state.peerTasks() } },
                files: NodeSystemFiles(
                    resolvConf: settings.effectiveResolvConf, hosts: settings.effectiveHostsFile, timezone: settings.effectiveTimezoneFile,
                    localtime: settings.effectiveLocaltime, ownsMachine: settings.dataDirectory == "/var/lib/corral"), tree: access?.fs),
        ]
        if let access { all.append(AccessDomain(access: access)) }
        if let vms { all += [QEMUDomain(manager: vms, access: access), StorageDomain(storage: vms.storage)] }
        if let cts { all.append(ContainersDomain(manager: cts, access: access)) }
        if let vms {
            let defaults = settings.dataDirectory == "/var/lib/corral" ? "/etc/vzdump.conf" : settings.dataDirectory + "/vzdump.conf"
            all.append(
                BackupDomain(
                    vzdump: VZDump(vms: vms, cts: cts, node: settings.nodeName, defaultsFile: defaults), tasks: tasks,
                    jobStateFile: settings.dataDirectory + "/backup-jobs.json"))
        }
        if let access, vms != nil { all.append(RealmSyncDomain(access: access, tasks: tasks, node: settings.nodeName)) }
        if let firewall { all.append(FirewallDomain(service: firewall)) }
        if let sdn { all.append(SDNDomain(service: sdn)) }
        if let ha { all.append(HADomain(service: ha)) }
        all.append(MetricsDomain(service: metrics))
        if vms != nil || cts != nil { all.append(GuestBulkDomain(guests: guests, tasks: tasks, runDirectory: settings.runDirectory)) }
        if let storage, let clusterState {
            let access = access
            all.append(
                ClusterDomain(
                    guests: guests, storage: storage, sampler: sampler, state: clusterState, membership: membership, events: resourceEvents,
                    pools: {
                        var byVM: [Int: String] = [:]
                        for pool in (access?.userConfig.pools.values).map(Array.init) ?? [] { for vmid in pool.vms { byVM[vmid] = pool.id } }
                        return byVM
                    }))
        }
        return all
    }
}

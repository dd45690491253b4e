import ClusterFS
import Foundation
import Guests
import Libvirt
import Schema
import Storage

/// Everything done to the VMs of this node: configs in the cluster filesystem (the truth), disks on
/// storages, and transient libvirt domains generated from the config at each start.
public final class VMManager: Sendable {
    public let fs: any ConfigTree
    public let node: String
    public let storage: Storage
    public let locks: GuestLock
    public let store: GuestStore
    public let hypervisor: Hypervisor
    public let runDirectory: String
    public let logDirectory: String
    /// Prepended to the VMID to name domains (lets several test nodes share one libvirtd).
    public let domainPrefix: String
    /// Console tickets and tunnels of this node.
    public let consoles = ConsoleSessions()

    public init(
        fs: any ConfigTree, node: String, hypervisor: Hypervisor, runDirectory: String, logDirectory: String,
        domainPrefix: String = ""
    ) {
        self.fs = fs
        self.node = node
        self.storage = Storage(fs: fs, node: node)
        self.locks = GuestLock(directory: runDirectory + "/lock")
        self.store = GuestStore(fs: fs, node: node, type: "qemu")
        self.hypervisor = hypervisor
        self.runDirectory = runDirectory
        self.logDirectory = logDirectory
        self.domainPrefix = domainPrefix
    }

    public func configPath(_ vmid: Int) -> String { store.configPath(vmid) }
    public func domainName(_ vmid: Int) -> String { "\(domainPrefix)\(vmid)" }

    /// The unix socket of this node's libvirtd: the `socket` of the libvirt URI, else the system one.
    var libvirtSocket: String {
        let query = hypervisor.uri.split(separator: "?", maxSplits: 1).dropFirst().first ?? ""
        for pair in query.split(separator: "&") where pair.hasPrefix("socket=") {
            return String(pair.dropFirst("socket=".count)).removingPercentEncoding ?? String(pair.dropFirst("socket=".count))
        }
        return "/run/libvirt/libvirt-sock"
    }

    // MARK: config (the shared guest store)

    public func load(_ vmid: Int) throws -> (config: GuestConfig, digest: String) { try store.load(vmid) }
    public func save(_ vmid: Int, _ config: GuestConfig) throws { try store.save(vmid, config) }
    @discardableResult
    public func modify(_ vmid: Int, _ change: (inout GuestConfig) throws -> Void) throws -> GuestConfig { try store.modify(vmid, change) }
    public func vmids() -> [Int] { store.vmids() }
    public func owner(of vmid: Int) -> (node: String, type: String)? { store.owner(of: vmid) }
    func checkLock(_ config: GuestConfig, _ vmid: Int, skiplock: Bool = false) throws { try store.checkLock(config, vmid, skiplock: skiplock) }

    // MARK: runtime

    public enum RunState: String, Sendable { case running, stopped }

    /// The domain if it is defined (running or paused).
    public func domain(_ vmid: Int) throws -> LibvirtDomain? {
        try hypervisor.with { try $0.domain(named: domainName(vmid)) }
    }

    public func isRunning(_ vmid: Int) -> Bool {
        guard let domain = try? domain(vmid), let state = try? domain.state().state else { return false }
        return state != .shutoff && state != .crashed
    }

    /// The context the domain XML is generated in: sockets and logs of this node, volume paths from storage.
    func domainContext(_ vmid: Int) -> DomainContext {
        let storage = storage
        return DomainContext(
            domainName: domainName(vmid), vmid: vmid, node: node, runDirectory: runDirectory, logDirectory: logDirectory,
            resolve: { volid in
                let path = try storage.path(volid)
                var st = stat()
                let block = stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFBLK
                return (path, block)
            })
    }

    /// The domain XML of the current config (what `qm showcmd` prints).
    public func domainXML(_ vmid: Int) throws -> String {
        let (config, _) = try load(vmid)
        return try DomainXML.generate(VMConfig(config.current), context: domainContext(vmid))
    }
}

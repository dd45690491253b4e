import Access
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
        self.hypervisor = hypervisor
        self.runDirectory = runDirectory
        self.logDirectory = logDirectory
        self.domainPrefix = domainPrefix
    }

    public func configPath(_ vmid: Int) -> String { "nodes/\(node)/qemu-server/\(vmid).conf" }
    public func domainName(_ vmid: Int) -> String { "\(domainPrefix)\(vmid)" }

    // MARK: config

    /// The config and its digest; 500 as PVE when the file does not exist on this node.
    public func load(_ vmid: Int) throws -> (config: GuestConfig, digest: String) {
        guard let data = try? fs.read(configPath(vmid)) else {
            throw QEMUError(500, "Configuration file '\(configPath(vmid))' does not exist")
        }
        do {
            return (try GuestConfig.parse(String(decoding: data, as: UTF8.self)), GuestConfig.digest(of: data))
        } catch { throw QEMUError(500, "cannot parse \(configPath(vmid)): \(error)") }
    }

    public func save(_ vmid: Int, _ config: GuestConfig) throws {
        try fs.write(configPath(vmid), Array(config.serialized().utf8), mtime: nil)
    }

    /// Loads, changes and writes back a config in one step (callers hold the guest's lock).
    @discardableResult
    public func modify(_ vmid: Int, _ change: (inout GuestConfig) throws -> Void) throws -> GuestConfig {
        var (config, _) = try load(vmid)
        try change(&config)
        try save(vmid, config)
        return config
    }

    /// VMIDs of this node's VMs.
    public func vmids() -> [Int] {
        guard let data = try? fs.read(".vmlist"), let ids = (try? JSONParser.parse(data))?["ids"]?.objectValue else { return [] }
        return ids.compactMap { id, entry in
            entry["node"]?.stringValue == node && entry["type"]?.stringValue == "qemu" ? Int(id) : nil
        }.sorted()
    }

    /// Where a VMID is in use in the cluster, if anywhere.
    public func owner(of vmid: Int) -> (node: String, type: String)? {
        guard let data = try? fs.read(".vmlist"), let entry = (try? JSONParser.parse(data))?["ids"]?["\(vmid)"],
            let node = entry["node"]?.stringValue, let type = entry["type"]?.stringValue
        else { return nil }
        return (node, type)
    }

    /// Fails when the config carries a `lock:` (unless `skiplock`).
    func checkLock(_ config: GuestConfig, _ vmid: Int, skiplock: Bool = false) throws {
        if let lock = config.current["lock"], !skiplock { throw QEMUError(500, "VM \(vmid) is locked (\(lock))") }
    }

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

import ClusterFS
import Foundation
import Schema

/// The configs of one guest type on one node, in the cluster filesystem: `nodes/<node>/qemu-server/`
/// or `nodes/<node>/lxc/`. The VMID registry is the filesystem's `.vmlist`, shared by both types.
public struct GuestStore: Sendable {
    public let fs: any ConfigTree
    public let node: String
    /// `qemu` or `lxc`, as `.vmlist` and `/cluster/resources` name the type.
    public let type: String
    let directory: String
    /// What the messages call one guest: "VM" or "CT".
    public let noun: String

    public init(fs: any ConfigTree, node: String, type: String) {
        self.fs = fs
        self.node = node
        self.type = type
        self.directory = type == "qemu" ? "qemu-server" : type
        self.noun = type == "qemu" ? "VM" : "CT"
    }

    public func configPath(_ vmid: Int) -> String { "nodes/\(node)/\(directory)/\(vmid).conf" }

    /// The config and its digest; 500 as PVE when the file does not exist on this node.
    public func load(_ vmid: Int) throws -> (config: GuestConfig, digest: String) {
        let path = configPath(vmid)
        // the cluster filesystem's versions are exact: a config parsed at a version is that version's
        // (asked before the read, so a change in between only makes the cached entry miss)
        let exact = fs is ClusterFS
        let version = exact ? (try? fs.stamp(path))?.version : nil
        if let version, let hit = GuestStoreCache.config(fs, path, version) { return hit }
        guard let data = try? fs.read(path) else {
            throw GuestError(500, "Configuration file '\(path)' does not exist")
        }
        do {
            let loaded = (config: try GuestConfig.parse(String(decoding: data, as: UTF8.self)), digest: GuestConfig.digest(of: data))
            if let version { GuestStoreCache.keep(fs, path, version, loaded) }
            return loaded
        } catch { throw GuestError(wrapping: error, "cannot parse \(path)") }
    }

    public func save(_ vmid: Int, _ config: GuestConfig) throws {
        try fs.write(configPath(vmid), Array(config.serialized().utf8), mtime: nil)
    }

    /// Reserves a VMID by creating its config exclusively; fails naming the parameter when taken.
    public func reserve(_ vmid: Int, lock: String, parameter: String = "vmid") throws {
        var config = GuestConfig()
        config.current["lock"] = lock
        do { try fs.create(configPath(vmid), Array(config.serialized().utf8)) } catch {
            throw GuestError.parameter(parameter, "\(noun) \(vmid) already exists")
        }
    }

    /// Loads, changes and writes back a config in one step (callers hold the guest's lock).
    @discardableResult
    public func modify(_ vmid: Int, _ change: (inout GuestConfig) throws -> Void) throws -> GuestConfig {
        var (config, _) = try load(vmid)
        try change(&config)
        try save(vmid, config)
        return config
    }

    /// VMIDs of this node's guests of this type.
    public func vmids() -> [Int] {
        guard let data = try? fs.read(".vmlist"), let ids = GuestStoreCache.vmlist(data) else { return [] }
        return ids.compactMap { id, entry in
            entry.node == node && entry.type == type ? id : nil
        }.sorted()
    }

    /// Where a VMID is in use in the cluster, if anywhere.
    public func owner(of vmid: Int) -> (node: String, type: String)? {
        guard let data = try? fs.read(".vmlist"), let entry = (try? JSONParser.parse(data))?["ids"]?["\(vmid)"],
            let node = entry["node"]?.stringValue, let type = entry["type"]?.stringValue
        else { return nil }
        return (node, type)
    }

    /// The guest must live on this node and be of this type (proxyto sends calls to the owner; a call
    /// that arrives here for another node's guest gets the owner named).
    public func checkLocal(_ vmid: Int) throws {
        if let owner = owner(of: vmid), owner.node != node || owner.type != type {
            throw GuestError(
                500,
                owner.type == type
                    ? "\(noun) \(vmid) is on node '\(owner.node)'"
                    : "\(vmid) is a \(owner.type == "qemu" ? "VM" : "container"), not a \(type == "qemu" ? "VM" : "container")")
        }
        guard (try? fs.read(configPath(vmid))) != nil else {
            throw GuestError(500, "Configuration file '\(configPath(vmid))' does not exist")
        }
    }

    /// Fails when the config carries a `lock:` (unless `skiplock`).
    public func checkLock(_ config: GuestConfig, _ vmid: Int, skiplock: Bool = false) throws {
        if let lock = config.current["lock"], !skiplock { throw GuestError(500, "\(noun) is locked (\(lock))") }
    }
}

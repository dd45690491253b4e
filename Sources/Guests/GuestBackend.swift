import API
import Schema
import Storage

/// One volume of a guest that snapshots, clones, templates and backups cover (CD-ROMs and bind
/// mounts are not among them), with the storage that holds it.
public struct GuestVolume: Sendable {
    /// The config key (`scsi0`, `rootfs`, `mp1`).
    public let key: String
    public let volid: String
    public let plugin: any StoragePlugin
    /// The volume's name on its storage (the part of `volid` after the colon).
    public var name: String { VolumeID(volid)!.name }

    public init(key: String, volid: String, plugin: any StoragePlugin) {
        self.key = key
        self.volid = volid
        self.plugin = plugin
    }
}

/// What every guest type implements: VMs through libvirt, containers through liblxc. Snapshots,
/// clones, templates, VMID reservation, locks and the `/cluster/resources` rows are written once on
/// top of it (the `GuestBackend+…` files), and so are backup, migration and HA: code that works
/// "for any guest" takes an `any GuestBackend` and never asks which kind it has.
public protocol GuestBackend: AnyObject, Sendable {
    /// Configs, VMID reservation and `.vmlist` of this type on this node.
    var store: GuestStore { get }
    /// The node-local per-guest lock every operation takes.
    var locks: GuestLock { get }
    var storage: Storage { get }

    // MARK: config

    /// The volumes of a config section (current or a snapshot) that snapshots and copies cover.
    /// Copies a volume of the running guest to `destination` and switches the guest to the copy
    /// (VMs: a block mirror); the copy's volume name. Guest types that cannot say so.
    func copyRunning(
        _ vmid: Int, key: String, volume: GuestVolume, to destination: any StoragePlugin, format: String?, log: @escaping @Sendable (String) -> Void
    ) throws -> String
    func volumes(_ section: GuestConfig.Section) throws -> [GuestVolume]
    /// The config value of `key` with its volume replaced by `volid` (other options kept).
    func replacingVolume(in section: GuestConfig.Section, key: String, with volid: String) throws -> String
    func isTemplate(_ section: GuestConfig.Section) -> Bool
    /// A clone's config from its source's: new MACs and generated identities, the given name.
    func clonedSection(_ section: GuestConfig.Section, newid: Int, name: String?, description: String?) -> GuestConfig.Section

    // MARK: runtime

    func isRunning(_ vmid: Int) -> Bool
    /// `status/current` of one guest (PVE's fields for its type).
    func status(_ vmid: Int, config: GuestConfig?) throws -> [String: JSON]
    /// Many guests' status at once (the sampler, `/cluster/resources`): a type that can ask its
    /// hypervisor once for all of them does; guests whose status fails are left out.
    func statuses(_ vmids: [Int]) -> [Int: [String: JSON]]
    /// Keys of `status` that `/cluster/resources` leaves out for this type.
    var resourceOmittedKeys: [String] { get }

    /// Starts, stops and shuts down; each takes the guest's lock.
    func start(_ vmid: Int, skiplock: Bool, log: @escaping @Sendable (String) -> Void) async throws
    func stop(_ vmid: Int, skiplock: Bool, log: @escaping @Sendable (String) -> Void) async throws
    func shutdown(_ vmid: Int, timeout: Int?, forceStop: Bool, log: @escaping @Sendable (String) -> Void) async throws
    /// The same, for callers that already hold the lock.
    func startLocked(_ vmid: Int, log: @escaping @Sendable (String) -> Void) throws
    func stopLocked(_ vmid: Int) async throws
    /// Pauses the guest's writes (a VM's vCPUs, a container's processes) so that volume snapshots
    /// taken meanwhile agree; `thaw` lets it go on.
    func freeze(_ vmid: Int) throws
    func thaw(_ vmid: Int) throws
    /// Moves the guest to `target` while it keeps running (VMs: live migration), copying `copies`
    /// on the way; `tunnel` opens a WebSocket on the target. Types that cannot say so (the default).
    func migrateRunning(
        _ vmid: Int, target: String, copies: [VolumeCopy], bwlimit: Int?, call: @escaping @Sendable (APICall) async throws -> JSON,
        tunnel: @escaping @Sendable (APICall) throws -> any ByteTunnel, log: @escaping @Sendable (String) -> Void
    ) async throws

    // MARK: snapshot hooks (defaults in GuestBackend+Snapshots: storage snapshots of every volume)

    /// Takes the snapshot of a guest's volumes; returns whether it holds the guest's memory state too.
    func takeSnapshot(_ vmid: Int, name: String, volumes: [GuestVolume], vmstate: Bool, log: @escaping @Sendable (String) -> Void) throws -> Bool
    /// After the volumes were rolled back and the config restored: brings the guest to where the
    /// snapshot left it (a VM with memory state resumes; otherwise it starts when asked).
    func resumeAfterRollback(_ vmid: Int, name: String, snapshot: GuestConfig.Section, start: Bool, log: @escaping @Sendable (String) -> Void) throws
    /// Deletes the snapshot from the volumes (a running VM's qcow2 images through QEMU).
    func deleteSnapshot(_ vmid: Int, name: String, volumes: [GuestVolume], force: Bool, log: @escaping @Sendable (String) -> Void) throws
}

extension GuestBackend {
    public var type: String { store.type }
    public var noun: String { store.noun }
    public func load(_ vmid: Int) throws -> (config: GuestConfig, digest: String) { try store.load(vmid) }
    public func vmids() -> [Int] { store.vmids() }
}

/// The guest types of a node, for code that works on any guest: find the one owning a VMID.
public struct GuestBackends: Sendable {
    public let all: [any GuestBackend]

    public init(_ all: [any GuestBackend]) { self.all = all }

    public subscript(type: String) -> (any GuestBackend)? { all.first { $0.type == type } }

    /// Where a VMID is in use in the cluster (any type), if anywhere.
    public func owner(of vmid: Int) -> (node: String, type: String)? { all.first?.store.owner(of: vmid) }

    /// The backend of a guest on this node, by `.vmlist`.
    public func backend(for vmid: Int) -> (any GuestBackend)? {
        guard let first = all.first, let owner = first.store.owner(of: vmid), owner.node == first.store.node else { return nil }
        return self[owner.type]
    }
}

import ClusterFS
import Foundation
import Schema
import Storage
import TestSupport
import Testing

@testable import Guests

/// A guest type of the tests' own: disks `diskN: <volid>` on the in-memory storage, a power state
/// in memory. What it does not implement is what the shared guest code must do by itself.
final class PaperGuests: GuestBackend, @unchecked Sendable {
    let store: GuestStore
    let locks: GuestLock
    let storage: Storage
    private let state = NSLock()
    private var running: Set<Int> = []
    private(set) var events: [String] = []

    init(fs: ClusterFS, dir: String) {
        store = GuestStore(fs: fs, node: "n1", type: "qemu")
        locks = GuestLock(directory: dir + "/lock")
        storage = Storage(fs: fs, node: "n1", drivers: StorageDrivers.standard.adding(MemoryStorage.driver))
    }

    func record(_ event: String) { state.withLock { events.append(event) } }

    func volumes(_ section: GuestConfig.Section) throws -> [GuestVolume] {
        try section.values.keys.filter { $0.hasPrefix("disk") }.sorted().map { key in
            GuestVolume(key: key, volid: section[key]!, plugin: try storage.plugin(VolumeID(section[key]!)!.storage))
        }
    }

    func replacingVolume(in section: GuestConfig.Section, key: String, with volid: String) throws -> String { volid }
    func isTemplate(_ section: GuestConfig.Section) -> Bool { section["template"] == "1" }

    func clonedSection(_ section: GuestConfig.Section, newid: Int, name: String?, description: String?) -> GuestConfig.Section {
        var section = section
        section["name"] = name ?? "copy-\(newid)"
        return section
    }

    func isRunning(_ vmid: Int) -> Bool { state.withLock { running.contains(vmid) } }

    func status(_ vmid: Int, config: GuestConfig?) throws -> [String: JSON] {
        let name = try config?.current["name"] ?? load(vmid).config.current["name"] ?? ""
        return ["vmid": JSON(vmid), "name": .string(name), "status": isRunning(vmid) ? "running" : "stopped", "cpus": 2, "secret": "x"]
    }

    var resourceOmittedKeys: [String] { ["secret"] }

    func start(_ vmid: Int, skiplock: Bool, log: @escaping @Sendable (String) -> Void) async throws { try startLocked(vmid, log: log) }
    func stop(_ vmid: Int, skiplock: Bool, log: @escaping @Sendable (String) -> Void) async throws { try await stopLocked(vmid) }
    func shutdown(_ vmid: Int, timeout: Int?, forceStop: Bool, log: @escaping @Sendable (String) -> Void) async throws {
        try await stopLocked(vmid)
    }
    func startLocked(_ vmid: Int, log: @escaping @Sendable (String) -> Void) throws {
        state.withLock { _ = running.insert(vmid) }
        record("start \(vmid)")
    }
    func stopLocked(_ vmid: Int) async throws {
        state.withLock { _ = running.remove(vmid) }
        record("stop \(vmid)")
    }
    func freeze(_ vmid: Int) throws { record("freeze \(vmid)") }
    func thaw(_ vmid: Int) throws { record("thaw \(vmid)") }
}

/// The guest code written once (snapshots, templates, clones, resource rows) on a guest type that
/// exists only here, over the in-memory storage driver: no libvirt, no liblxc, no disks.
@Suite(.serialized) struct GuestBackendTests {
    static func make() throws -> (PaperGuests, ClusterFS) {
        MemoryStorage.reset("gmem", "gother", "gtiny")
        let dir = temporaryDirectory("corral-guests")
        let fs = try ClusterFS(databasePath: dir + "/config.db", nodeName: "n1")
        try fs.write("storage.cfg", Array("memory: gmem\n\tcontent images,rootdir\n\nmemory: gother\n\tcontent images\n".utf8))
        let guests = PaperGuests(fs: fs, dir: dir)
        let disk = try guests.storage.plugin("gmem").allocate(vmid: 100, format: "raw", size: 1024, name: nil)
        var config = GuestConfig()
        config.current["name"] = "paper"
        config.current["disk0"] = "gmem:\(disk)"
        try guests.store.reserve(100, lock: "create")
        try guests.store.save(100, config)
        return (guests, fs)
    }

    @Test func snapshotsOfARunningGuestFreezeItAndFollowTheTree() async throws {
        let (guests, _) = try Self.make()
        try guests.startLocked(100) { _ in }
        try await guests.snapshot(100, name: "one", description: "first") { _ in }
        #expect(guests.events.suffix(2) == ["freeze 100", "thaw 100"])
        let (config, _) = try guests.load(100)
        #expect(config.snapshots["one"] != nil && config.current["parent"] == "one" && config.current["lock"] == nil)
        await #expect(throws: (any Error).self) { try await guests.snapshot(100, name: "one", description: nil) { _ in } }
        try await guests.rollback(100, name: "one", start: true) { _ in }
        #expect(guests.events.suffix(2) == ["stop 100", "start 100"])
        #expect(try guests.snapshotList(100).count == 2)
        #expect(try guests.hasFeature(100, feature: "snapshot", snapname: nil))
        try await guests.deleteSnapshot(100, name: "one", force: false) { _ in }
        #expect(try guests.load(100).config.snapshots.isEmpty)
    }

    @Test func templatesCloneLinkedByDefaultAndFullOnRequest() async throws {
        let (guests, _) = try Self.make()
        try await guests.template(100) { _ in }
        let template = try guests.load(100).config.current
        #expect(template["template"] == "1" && template["disk0"] == "gmem:100/base-100-disk-0.raw")
        try await guests.clone(100, newid: 101, name: nil, description: nil, full: nil, target: nil, format: nil) { _ in }
        let linked = try guests.load(101).config.current
        #expect(linked["disk0"] == "gmem:101/vm-101-disk-0.raw" && linked["name"] == "copy-101" && linked["template"] == nil)
        #expect(try guests.storage.plugin("gmem").list(content: "images", vmid: 101).first?.parent == "100/base-100-disk-0.raw")
        try await guests.clone(100, newid: 102, name: "full", description: nil, full: true, target: "gother", format: nil) { _ in }
        #expect(try guests.load(102).config.current["disk0"] == "gother:102/vm-102-disk-0.raw")
        #expect(Set(guests.vmids()) == [100, 101, 102])
    }

    @Test func aFailedCloneLeavesNothingBehind() async throws {
        let (guests, _) = try Self.make()
        // the target storage is too small for the copy
        try guests.storage.fs.write("storage.cfg", Array("memory: gmem\n\tcontent images\n\nmemory: gtiny\n\tcapacity 10\n".utf8))
        await #expect(throws: (any Error).self) {
            try await guests.clone(100, newid: 103, name: nil, description: nil, full: true, target: "gtiny", format: nil) { _ in }
        }
        #expect(!guests.store.fs.exists(guests.store.configPath(103)))
        #expect(try guests.storage.plugin("gmem").list(content: nil, vmid: 103).isEmpty)
        // a taken VMID is refused by name, before anything is copied
        await #expect(throws: GuestError.self) {
            try await guests.clone(100, newid: 100, name: nil, description: nil, full: true, target: nil, format: nil) { _ in }
        }
    }

    @Test func resourceRowsAreWrittenOnce() throws {
        let (guests, _) = try Self.make()
        let backends = GuestBackends([guests])
        #expect(backends.backend(for: 100) === guests)
        #expect(backends.owner(of: 100)?.type == "qemu")
        let row = try #require(guests.resourceRow(100))
        #expect(row["id"] == "qemu/100" && row["type"] == "qemu" && row["node"] == "n1" && row["maxcpu"] == 2)
        #expect(row["secret"] == nil && row["cpus"] == nil && row["template"] == 0)
    }
}

import Foundation
import Glibc
import Schema
import Synchronization

/// A storage whose volumes live in memory: for unit tests of code above the drivers (guests, backup,
/// migration) without disks, qemu-img or root. Register it with `StorageDrivers.standard.adding(MemoryStorage.driver)`;
/// sections of type `memory` then share one store per storage id for the life of the process.
/// Its "paths" are `memory://<storage>/<name>` and open nothing.
public struct MemoryStorage: StoragePlugin {
    public static let driver = StorageDriver(
        type: "memory", content: ["images", "rootdir", "iso", "vztmpl", "backup", "snippets"], defaultContent: ["images", "rootdir"],
        formats: ["raw", "qcow2"], defaultFormat: "raw", capabilities: [.snapshots, .linkedClones, .fileContent],
        options: ["capacity": Schema.integer(minimum: 1).optional()]
    ) { entry throws(StorageError) in MemoryStorage(entry: entry) }

    struct Volume {
        var bytes: [UInt8]
        var size: Int64
        var snapshots: [String: [UInt8]] = [:]
        var parent: String?
        var ctime: Int64
    }

    static let stores = Mutex<[String: [String: Volume]]>([:])

    public let entry: StorageConfig.Entry
    public var capabilities: StorageCapabilities { Self.driver.capabilities }
    public var defaultFormat: String { entry["format"] ?? "raw" }
    public var formats: Set<String> { Self.driver.formats }
    var capacity: Int64 { Int64(entry["capacity"] ?? "") ?? 1 << 40 }

    public init(entry: StorageConfig.Entry) { self.entry = entry }

    /// Forgets every volume of the named memory storages (between tests; suites running side by side
    /// use storage ids of their own).
    public static func reset(_ ids: String...) { stores.withLock { for id in ids { $0[id] = nil } } }

    func withStore<T>(_ body: (inout [String: Volume]) throws(StorageError) -> T) throws(StorageError) -> T {
        let id = entry.id
        return try Self.stores.withLock { (stores) throws(StorageError) -> T in try body(&stores[id, default: [:]]) }
    }

    func existing(_ name: String, in store: [String: Volume]) throws(StorageError) -> Volume {
        guard let volume = store[name] else { throw StorageError(500, "volume '\(entry.id):\(name)' does not exist") }
        return volume
    }

    public func path(_ name: String) throws(StorageError) -> String {
        _ = try withStore { (store) throws(StorageError) in try existing(name, in: store) }
        return "memory://\(entry.id)/\(name)"
    }

    public func allocate(vmid: Int, format: String, size: Int64, name: String?) throws(StorageError) -> String {
        guard formats.contains(format) else { throw StorageError(400, "storage '\(entry.id)' does not support format '\(format)'") }
        return try withStore { (store) throws(StorageError) -> String in
            let used = store.values.reduce(0) { $0 + $1.size }
            guard used + size <= capacity else { throw StorageError(500, "storage '\(entry.id)' is full") }
            let existing = Set(store.keys.map { String($0.split(separator: "/").last!.split(separator: ".").first!) })
            let file = name ?? nextDiskName(vmid: vmid, existing: existing, suffix: ".\(format)")
            let volume = "\(vmid)/\(file)"
            guard store[volume] == nil else { throw StorageError(400, "volume '\(entry.id):\(volume)' already exists") }
            store[volume] = Volume(bytes: [], size: size, ctime: Int64(time(nil)))
            return volume
        }
    }

    public func free(_ name: String) throws(StorageError) {
        try withStore { (store) throws(StorageError) in
            _ = try existing(name, in: store)
            if store.values.contains(where: { $0.parent == name }) { throw StorageError(400, "base volume '\(name)' is still used by linked clones") }
            store[name] = nil
        }
    }

    public func list(content: String?, vmid: Int?) throws(StorageError) -> [VolumeInfo] {
        guard content == nil || content == "images" || content == "rootdir" else { return [] }
        return try withStore { store in
            store.keys.sorted().compactMap { name -> VolumeInfo? in
                let id = VolumeID(storage: entry.id, name: name)
                guard vmid == nil || id.ownerVMID == vmid, let volume = store[name] else { return nil }
                return VolumeInfo(
                    volid: id.description, content: "images", format: name.hasSuffix(".qcow2") ? "qcow2" : "raw", size: volume.size,
                    used: Int64(volume.bytes.count), vmid: id.ownerVMID, ctime: volume.ctime, parent: volume.parent)
            }
        }
    }

    public func status() throws(StorageError) -> (total: Int64, used: Int64, available: Int64) {
        let used = try withStore { store in store.values.reduce(Int64(0)) { $0 + $1.size } }
        return (capacity, used, capacity - used)
    }

    public func size(_ name: String) throws(StorageError) -> Int64 {
        try withStore { (store) throws(StorageError) in try existing(name, in: store).size }
    }

    public func resize(_ name: String, to bytes: Int64) throws(StorageError) {
        try withStore { (store) throws(StorageError) in
            let volume = try existing(name, in: store)
            guard bytes >= volume.size else { throw StorageError(400, "shrinking disks is not supported") }
            store[name]!.size = bytes
        }
    }

    public func canSnapshot(_ name: String) -> Bool { true }

    public func snapshot(_ name: String, snapshot: String) throws(StorageError) {
        try withStore { (store) throws(StorageError) in
            let volume = try existing(name, in: store)
            guard volume.snapshots[snapshot] == nil else { throw StorageError(400, "snapshot '\(snapshot)' already exists") }
            store[name]!.snapshots[snapshot] = volume.bytes
        }
    }

    public func rollback(_ name: String, snapshot: String) throws(StorageError) {
        try withStore { (store) throws(StorageError) in
            guard let bytes = try existing(name, in: store).snapshots[snapshot] else {
                throw StorageError(500, "snapshot '\(snapshot)' does not exist")
            }
            store[name]!.bytes = bytes
        }
    }

    public func deleteSnapshot(_ name: String, snapshot: String) throws(StorageError) {
        try withStore { (store) throws(StorageError) in
            guard try existing(name, in: store).snapshots[snapshot] != nil else {
                throw StorageError(500, "snapshot '\(snapshot)' does not exist")
            }
            store[name]!.snapshots[snapshot] = nil
        }
    }

    public func makeBase(_ name: String) throws(StorageError) -> String {
        try withStore { (store) throws(StorageError) -> String in
            let volume = try existing(name, in: store)
            let base = name.replacingFirst("vm-", with: "base-")
            store[name] = nil
            store[base] = volume
            return base
        }
    }

    public func canLinkClone(_ name: String) -> Bool { VolumeID(storage: entry.id, name: name).isBase }

    public func linkedClone(_ base: String, vmid: Int, name: String?) throws(StorageError) -> String {
        let size = try size(base)
        let volume = try allocate(vmid: vmid, format: base.hasSuffix(".qcow2") ? "qcow2" : "raw", size: size, name: name)
        try withStore { (store) throws(StorageError) in
            store[volume]!.bytes = try existing(base, in: store).bytes
            store[volume]!.parent = base
        }
        return volume
    }

    public func export(_ name: String, format: String, to sink: any VolumeSink) throws(StorageError) {
        guard exportFormats(name).contains(format) else { throw StorageError(400, "volume '\(name)' cannot be exported as '\(format)'") }
        let volume = try withStore { (store) throws(StorageError) in try existing(name, in: store) }
        var payload = volume.bytes
        if payload.count < volume.size && !name.hasSuffix(".qcow2") { payload += [UInt8](repeating: 0, count: Int(volume.size) - payload.count) }
        var header = UInt64(payload.count).littleEndian
        try withUnsafeBytes(of: &header) { (raw) throws(StorageError) in try sink.write(raw) }
        try rethrowingStorageError { try payload.withUnsafeBytes { raw in try sink.write(raw) } }
    }

    public func importVolume(vmid: Int, format: String, name: String?, from source: any VolumeSource) throws(StorageError) -> String {
        guard format == "raw+size" || format == "qcow2+size" else { throw StorageError(400, "storage '\(entry.id)' cannot import '\(format)'") }
        let size = try VolumeStream.readSize(source)
        var bytes = [UInt8](repeating: 0, count: Int(size))
        var got = 0
        while got < bytes.count {
            let n = try rethrowingStorageError {
                try bytes.withUnsafeMutableBytes { raw in try source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[got...])) }
            }
            guard n > 0 else { throw StorageError(400, "the volume stream ended \(bytes.count - got) bytes early") }
            got += n
        }
        let volume = try allocate(vmid: vmid, format: format == "qcow2+size" ? "qcow2" : "raw", size: size, name: name)
        try withStore { store in store[volume]!.bytes = bytes }
        return volume
    }
}

extension String {
    fileprivate func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        var copy = self
        copy.replaceSubrange(range, with: replacement)
        return copy
    }
}

import Foundation

/// Writes one backup into a chunk store: streams of chunks, each stored unless the store has it,
/// several at once (hashing and compressing are the work), then the manifest. Hold the store's
/// shared lock (`ChunkStore.shared`) from the first chunk to `finish`.
public final class ChunkedBackupWriter {
    /// Disks are cut at fixed 4 MiB offsets: a changed block changes one chunk.
    public static let diskChunkSize = 4 << 20

    public let store: ChunkStore
    public var manifest: BackupManifest
    /// Streams begun without a size (a tar read from a pipe): their size is what they got.
    var openEnded: Set<Int> = []
    public private(set) var zeroBytes: UInt64 = 0
    public private(set) var reusedChunks = 0
    let width = max(1, ProcessInfo.processInfo.activeProcessorCount)

    public init(store: ChunkStore, manifest: BackupManifest) {
        self.store = store
        self.manifest = manifest
        self.manifest.streams = []
    }

    /// How many chunks `add` takes at once to use every core.
    public var batch: Int { width }

    public func begin(stream name: String, size: UInt64?) {
        if size == nil { openEnded.insert(manifest.streams.count) }
        manifest.streams.append(BackupManifest.Stream(name: name, size: size ?? 0))
    }

    /// The next chunks of the current stream, in order.
    public func add(_ chunks: [[UInt8]]) throws {
        guard !chunks.isEmpty else { return }
        guard !manifest.streams.isEmpty else { throw VMAError("no stream begun") }
        let slots = ResultSlots<(digest: String, stored: Int)>(count: chunks.count)
        let store = store
        DispatchQueue.concurrentPerform(iterations: chunks.count) { i in
            slots.set(i, Result { try chunks[i].withUnsafeBytes { try store.insert($0) } })
        }
        for (chunk, result) in zip(chunks, slots.results) {
            let (digest, stored) = try result.get()
            if digest.isEmpty {
                zeroBytes += UInt64(chunk.count)
            } else if stored > 0 {
                manifest.newChunks += 1
                manifest.newBytes += UInt64(stored)
            } else {
                reusedChunks += 1
            }
            manifest.streams[manifest.streams.count - 1].chunks.append(BackupManifest.Chunk(digest: digest, size: chunk.count))
        }
    }

    /// A chunk taken as it is from an earlier backup (its content did not change); it must be in the store.
    public func reuse(_ chunk: BackupManifest.Chunk) {
        if chunk.digest.isEmpty { zeroBytes += UInt64(chunk.size) } else { reusedChunks += 1 }
        manifest.streams[manifest.streams.count - 1].chunks.append(chunk)
    }

    /// Saves the manifest: the backup exists from here on.
    public func finish(as snapshot: String) throws -> BackupManifest {
        for index in openEnded { manifest.streams[index].size = manifest.streams[index].chunks.reduce(0) { $0 + UInt64($1.size) } }
        for stream in manifest.streams {
            let total = stream.chunks.reduce(UInt64(0)) { $0 + UInt64($1.size) }
            guard total == stream.size else { throw VMAError("stream \(stream.name) got \(total) of \(stream.size) bytes") }
        }
        try store.save(manifest, as: snapshot)
        return manifest
    }
}

/// Results of work done side by side, one slot each.
public final class ResultSlots<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Result<T, any Error>]
    public init(count: Int) { items = Array(repeating: .failure(VMAError("not done")), count: count) }
    public func set(_ i: Int, _ result: Result<T, any Error>) { lock.withLock { items[i] = result } }
    public var results: [Result<T, any Error>] { lock.withLock { items } }

    /// Runs `work(i)` for every slot on a thread of its own (blocking I/O side by side, not CPU
    /// work: that goes to `DispatchQueue.concurrentPerform`) and returns the results in order.
    public static func run(_ count: Int, _ work: @escaping @Sendable (Int) throws -> T) -> [Result<T, any Error>] {
        start(count, work).wait()
    }

    /// The same, started now and waited for later, so the caller can work meanwhile.
    public static func start(_ count: Int, _ work: @escaping @Sendable (Int) throws -> T) -> Pending {
        let slots = ResultSlots(count: count)
        let done = DispatchSemaphore(value: 0)
        for i in 0..<count {
            Thread {
                slots.set(i, Result { try work(i) })
                done.signal()
            }.start()
        }
        return Pending(slots: slots, done: done, count: count)
    }

    public struct Pending {
        let slots: ResultSlots
        let done: DispatchSemaphore
        let count: Int

        public func wait() -> [Result<T, any Error>] {
            for _ in 0..<count { done.wait() }
            return slots.results
        }
    }
}

/// What a VM restore reads: the config files, the devices, and the stored blocks by device and
/// offset. Both a VMA stream and a chunk-store backup are read this way.
public protocol DiskArchiveReader {
    var devices: [VMAReader.Device] { get }
    func config(_ name: String) -> [UInt8]?
    /// Every non-zero piece (device id, byte offset, bytes); zeros are left out, the target starts zeroed.
    func extract(_ block: (Int, UInt64, ArraySlice<UInt8>) throws -> Void) throws
}

extension VMAReader: DiskArchiveReader {}

/// A chunk-store backup read as a VM archive (devices numbered from 1 in manifest order).
public struct ChunkedBackupReader: DiskArchiveReader, Sendable {
    public let store: ChunkStore
    public let manifest: BackupManifest

    public init(store: ChunkStore, snapshot: String) throws {
        self.store = store
        manifest = try store.manifest(snapshot)
    }

    /// The store's root and backup name of a backup directory (`<root>/<vm|ct>/<vmid>/<time>`), if it is one.
    public static func locate(_ path: String) -> (store: ChunkStore, snapshot: String)? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count > 3, FileManager.default.fileExists(atPath: path + "/index.json") else { return nil }
        let snapshot = parts.suffix(3).joined(separator: "/")
        guard ChunkStore.parse(snapshot) != nil else { return nil }
        return (ChunkStore(root: parts.dropLast(3).joined(separator: "/")), snapshot)
    }

    public var devices: [VMAReader.Device] {
        manifest.streams.enumerated().map { VMAReader.Device(id: $0.offset + 1, name: $0.element.name, size: $0.element.size) }
    }

    public func config(_ name: String) -> [UInt8]? { manifest.configs[name].map { Array($0.utf8) } }

    public func extract(_ block: (Int, UInt64, ArraySlice<UInt8>) throws -> Void) throws {
        try store.shared {
            for (index, stream) in manifest.streams.enumerated() {
                var offset: UInt64 = 0
                // stored chunks are read, decompressed and checked on every core, a batch at a time
                let width = max(2, ProcessInfo.processInfo.activeProcessorCount)
                for start in stride(from: 0, to: stream.chunks.count, by: width) {
                    let batch = Array(stream.chunks[start..<min(stream.chunks.count, start + width)])
                    let slots = ResultSlots<[UInt8]>(count: batch.count)
                    let store = store
                    DispatchQueue.concurrentPerform(iterations: batch.count) { i in
                        slots.set(i, Result { batch[i].digest.isEmpty ? [] : try store.read(batch[i]) })
                    }
                    for (chunk, result) in zip(batch, slots.results) {
                        let bytes = try result.get()
                        if !chunk.digest.isEmpty { try block(index + 1, offset, bytes[...]) }
                        offset += UInt64(chunk.size)
                    }
                }
            }
        }
    }

    /// One stream's bytes in order, zeros included (a container's tar).
    public func read(stream name: String, _ body: ([UInt8]) throws -> Void) throws {
        guard let stream = manifest.streams.first(where: { $0.name == name }) else { throw VMAError("the backup has no stream '\(name)'") }
        try store.shared {
            for chunk in stream.chunks { try body(try store.read(chunk)) }
        }
    }
}

extension ChunkedBackupReader {
    /// The backup as a VMA stream (a VM's) or its tar (a container's), for PVE or any other reader.
    public func export(_ sink: @escaping ([UInt8]) throws -> Void) throws {
        if manifest.type == "lxc" {
            try read(stream: "root.tar", sink)
            return
        }
        let configs = manifest.configs.sorted { ($0.key == "qemu-server.conf" ? 0 : 1, $0.key) < ($1.key == "qemu-server.conf" ? 0 : 1, $1.key) }
            .map { (name: $0.key, data: Array($0.value.utf8)) }
        var writer = try VMAWriter(configs: configs, devices: manifest.streams.map { ($0.name, $0.size) }, ctime: manifest.time, sink: sink)
        try store.shared {
            for (index, stream) in manifest.streams.enumerated() {
                var offset: UInt64 = 0
                for chunk in stream.chunks {
                    let bytes = try store.read(chunk)
                    var at = 0
                    while at < bytes.count {
                        let end = min(at + VMAWriter.clusterSize, bytes.count)
                        try writer.add(
                            device: index + 1, cluster: UInt32((offset + UInt64(at)) / UInt64(VMAWriter.clusterSize)), bytes: Array(bytes[at..<end]))
                        at = end
                    }
                    offset += UInt64(bytes.count)
                }
            }
        }
        try writer.finish()
    }
}

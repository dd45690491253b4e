import Foundation
import Glibc
import Testing
import Zstd

@testable import Archive

/// The deduplicating store: chunks stored once across backups, content-defined cuts that survive an
/// insertion, collection of unused chunks only, verification that finds a damaged chunk, and a VMA
/// export the VMA reader accepts.
@Suite struct ChunkStoreTests {
    static func temporaryStore() throws -> ChunkStore {
        let root = NSTemporaryDirectory() + "corral-chunks-\(UUID().uuidString)"
        let store = ChunkStore(root: root)
        try store.prepare()
        return store
    }

    /// Deterministic pseudo-random bytes (xorshift), so chunks differ and do not compress away.
    static func noise(_ count: Int, seed: UInt64) -> [UInt8] {
        var x = seed | 1
        var out = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            out[i] = UInt8(truncatingIfNeeded: x)
        }
        return out
    }

    static func backup(_ store: ChunkStore, _ disk: [UInt8], time: Int64) throws -> BackupManifest {
        try store.shared {
            let writer = ChunkedBackupWriter(
                store: store, manifest: BackupManifest(type: "qemu", vmid: 100, time: time, configs: ["qemu-server.conf": "memory: 512\n"]))
            writer.begin(stream: "drive-scsi0", size: UInt64(disk.count))
            var chunks: [[UInt8]] = []
            for start in stride(from: 0, to: disk.count, by: ChunkedBackupWriter.diskChunkSize) {
                chunks.append(Array(disk[start..<min(disk.count, start + ChunkedBackupWriter.diskChunkSize)]))
            }
            try writer.add(chunks)
            return try writer.finish(as: ChunkStore.snapshotName(type: "qemu", vmid: 100, time: time))
        }
    }

    static func restore(_ store: ChunkStore, _ snapshot: String, size: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        try ChunkedBackupReader(store: store, snapshot: snapshot).extract { _, offset, bytes in
            out.replaceSubrange(Int(offset)..<(Int(offset) + bytes.count), with: bytes)
        }
        return out
    }

    @Test func unchangedChunksAreStoredOnceAndEveryBackupRestoresOnItsOwn() throws {
        let store = try Self.temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: store.root) }
        // 40 MiB: random data, then zeros; the second backup changes one 4 MiB chunk
        var disk = Self.noise(24 << 20, seed: 7) + [UInt8](repeating: 0, count: 16 << 20)
        let first = try Self.backup(store, disk, time: 1_790_000_000)
        #expect(first.newChunks == 6, "six random chunks stored, four zero chunks not: \(first.newChunks)")
        #expect(first.streams[0].chunks.filter { $0.digest.isEmpty }.count == 4)
        let original = disk
        disk.replaceSubrange(5 << 20..<(5 << 20) + 4096, with: Self.noise(4096, seed: 99))
        let second = try Self.backup(store, disk, time: 1_790_000_060)
        #expect(second.newChunks == 1, "only the changed chunk is new: \(second.newChunks)")
        #expect(second.newBytes > 4 << 20 - 65536 && second.newBytes < 5 << 20, "\(second.newBytes)")
        let names = store.snapshots()
        #expect(names == ["vm/100/2026-09-21T14:13:20Z", "vm/100/2026-09-21T14:14:20Z"], "\(names)")
        #expect(try Self.restore(store, names[0], size: disk.count) == original)
        #expect(try Self.restore(store, names[1], size: disk.count) == disk)

        // removing the first backup frees exactly the chunk only it used
        try store.remove(names[0])
        let collected = try #require(try store.collectGarbage())
        #expect(collected.removedChunks == 1 && collected.keptChunks == 6, "\(collected)")
        #expect(try Self.restore(store, names[1], size: disk.count) == disk)
        // a collection waits for no one: a backup holding the store makes it step aside
        let busy = try store.shared { try store.collectGarbage() }
        #expect(busy == nil)
    }

    @Test func verifyFindsADamagedChunkAndRestoreRefusesIt() throws {
        let store = try Self.temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: store.root) }
        let disk = Self.noise(12 << 20, seed: 3)
        let manifest = try Self.backup(store, disk, time: 1_790_000_000)
        #expect(try store.verify().isEmpty)
        let victim = manifest.streams[0].chunks[1].digest
        let frame = try Zstd.compress(Self.noise(4 << 20, seed: 5))
        let path = store.chunkPath(victim)
        unlink(path)
        try Data(frame).write(to: URL(fileURLWithPath: path))
        let problems = try store.verify()
        #expect(problems.count == 1 && problems[0].contains(victim) && problems[0].contains("does not match"), "\(problems)")
        #expect(throws: VMAError.self) { try Self.restore(store, store.snapshots()[0], size: disk.count) }
        // set aside by verify: the next backup of the same bytes stores the chunk again, whole
        #expect(!FileManager.default.fileExists(atPath: path) && FileManager.default.fileExists(atPath: path + ".bad"))
        #expect(try store.verify().first?.contains("missing") == true)
        let again = try Self.backup(store, disk, time: 1_790_000_100)
        #expect(again.newChunks == 1)
        #expect(try Self.restore(store, store.snapshots()[1], size: disk.count) == disk)
    }

    @Test func contentDefinedCutsSurviveAnInsertion() {
        let data = Self.noise(12 << 20, seed: 11)
        func chunks(_ bytes: [UInt8]) -> [[UInt8]] {
            var chunker = ContentDefinedChunker()
            var out: [[UInt8]] = []
            for start in stride(from: 0, to: bytes.count, by: 1 << 20) {
                out += chunker.push(Array(bytes[start..<min(bytes.count, start + (1 << 20))]))
            }
            return out + chunker.finish()
        }
        let before = chunks(data)
        #expect(before.reduce(0) { $0 + $1.count } == data.count)
        #expect(before.allSatisfy { $0.count <= ContentDefinedChunker.maximum })
        #expect(before.dropLast().allSatisfy { $0.count >= ContentDefinedChunker.minimum })
        #expect(before.count >= 5 && before.count <= 40, "about 1 MiB on average: \(before.count) chunks")
        // 100 bytes inserted near the start: all but the first chunk or two come out the same
        var shifted = data
        shifted.insert(contentsOf: [UInt8](repeating: 0x41, count: 100), at: 300_000)
        let after = chunks(shifted)
        let same = Set(after).intersection(Set(before)).count
        #expect(same >= before.count - 2, "\(same) of \(before.count) chunks unchanged")
    }

    @Test func aChunkBackupExportsAsAVMAThatReadsBack() throws {
        let store = try Self.temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: store.root) }
        let disk = Self.noise(6 << 20, seed: 21) + [UInt8](repeating: 0, count: 2 << 20) + Self.noise(70_000, seed: 4)
        var older = disk
        older.replaceSubrange(1 << 20..<(1 << 20) + 65536, with: [UInt8](repeating: 0x77, count: 65536))
        _ = try Self.backup(store, older, time: 1_789_999_000)
        _ = try Self.backup(store, disk, time: 1_790_000_000)
        var vma: [UInt8] = []
        try ChunkedBackupReader(store: store, snapshot: store.snapshots()[1]).export { vma += $0 }
        var at = 0
        let reader = try VMAReader { n in
            let end = min(vma.count, at + n)
            defer { at = end }
            return Array(vma[at..<end])
        }
        #expect(reader.config("qemu-server.conf") == Array("memory: 512\n".utf8))
        #expect(reader.devices.map(\.size) == [UInt64(disk.count)] && reader.ctime == 1_790_000_000)
        var out = [UInt8](repeating: 0, count: disk.count)
        try reader.extract { _, offset, bytes in out.replaceSubrange(Int(offset)..<(Int(offset) + bytes.count), with: bytes) }
        #expect(out == disk)
    }

    @Test func snapshotNamesRoundTripAndStrangersAreRefused() {
        #expect(ChunkStore.snapshotName(type: "lxc", vmid: 170, time: 1_790_000_000) == "ct/170/2026-09-21T14:13:20Z")
        #expect(ChunkStore.parse("ct/170/2026-09-21T14:13:20Z")?.vmid == 170)
        for bad in ["vm/x/2026-09-21T14:13:20Z", "vm/100/yesterday", "../etc/passwd", "vm/100/2026-09-21T14:13:20Z/.."] {
            #expect(ChunkStore.parse(bad) == nil, "\(bad)")
        }
    }
}

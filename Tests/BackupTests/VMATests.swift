import Testing

@testable import Archive

/// The VMA writer and reader: PVE's worked layout (blob pointers, sizes, the mask of a cluster), a round
/// trip of sparse data, and the reader's refusals (checksums, missing clusters).
@Suite struct VMATests {
    static func archive(_ device: [UInt8], size: UInt64, skip: Set<UInt32> = []) throws -> [UInt8] {
        var out: [UInt8] = []
        var writer = try VMAWriter(
            configs: [("qemu-server.conf", Array("memory: 512\n".utf8))], devices: [("drive-scsi0", size)], ctime: 1_700_000_000
        ) { out += $0 }
        let clusters = (size + 65535) / 65536
        for c in 0..<UInt32(clusters) where !skip.contains(c) {
            let start = Int(c) * 65536
            try writer.add(device: 1, cluster: c, bytes: Array(device[start..<min(device.count, start + 65536)]))
        }
        try writer.finish()
        return out
    }

    static func reader(_ bytes: [UInt8]) throws -> VMAReader {
        var position = 0
        return try VMAReader { n in
            let end = min(bytes.count, position + n)
            defer { position = end }
            return Array(bytes[position..<end])
        }
    }

    @Test func theWorkedExampleHasPVEsLayout() throws {
        var disk = [UInt8](repeating: 0, count: 1 << 20)
        for i in 0..<4096 { disk[i] = UInt8(i % 251) | 1 }
        let bytes = try Self.archive(disk, size: 1 << 20)
        // blob buffer: dummy byte, then name (17+2), data (12+2), device name (12+2) = 48 bytes used
        #expect(VMAReader.read32(bytes, 52) == 48 && VMAReader.read32(bytes, 56) == 12800)
        #expect(VMAReader.read32(bytes, 2044) == 1 && VMAReader.read32(bytes, 3068) == 20 && VMAReader.read32(bytes, 4096 + 32) == 34)
        #expect(bytes[12288 + 1] == 17 && bytes[12288 + 2] == 0, "blob lengths are little-endian")
        // one extent: 16 clusters, only block 0 of cluster 0 stored
        #expect(bytes.count == 12800 + 512 + 4096)
        #expect(Array(bytes[12800 + 40..<12800 + 48]) == [0, 1, 0, 1, 0, 0, 0, 0])
        #expect(Array(bytes[12800 + 48..<12800 + 56]) == [0, 0, 0, 1, 0, 0, 0, 1])
        let r = try Self.reader(bytes)
        #expect(r.ctime == 1_700_000_000 && r.devices.map(\.name) == ["drive-scsi0"] && r.config("qemu-server.conf") == Array("memory: 512\n".utf8))
    }

    @Test func sparseDataSurvivesARoundTrip() throws {
        let size: UInt64 = 5 * 65536 + 1000  // the last cluster is partial
        var disk = [UInt8](repeating: 0, count: Int(size))
        for i in stride(from: 0, to: disk.count, by: 7919) { disk[i] = UInt8(truncatingIfNeeded: i) | 0x80 }
        disk[disk.count - 1] = 0xAA
        let bytes = try Self.archive(disk, size: size)
        var restored = [UInt8](repeating: 0, count: Int(size))
        try Self.reader(bytes).extract { _, offset, block in
            restored.replaceSubrange(Int(offset)..<(Int(offset) + block.count), with: block)
        }
        #expect(restored == disk)
    }

    @Test func damageAndGapsAreRefused() throws {
        let disk = [UInt8](repeating: 1, count: 3 * 65536)
        var bytes = try Self.archive(disk, size: UInt64(disk.count))
        bytes[100] ^= 1
        #expect(throws: VMAError.self) { try Self.reader(bytes) }
        let gap = try Self.archive(disk, size: UInt64(disk.count), skip: [1])
        #expect(throws: VMAError.self) { try Self.reader(gap).extract { _, _, _ in } }
        var extent = try Self.archive(disk, size: UInt64(disk.count))
        extent[12800 + 50] ^= 1
        #expect(throws: VMAError.self) { try Self.reader(extent).extract { _, _, _ in } }
    }
}

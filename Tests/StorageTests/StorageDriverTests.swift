import Foundation
import Glibc
import Schema
import Testing

@testable import Storage

/// A sink and source in memory, for stream round trips.
final class MemoryStream: VolumeSink, VolumeSource, @unchecked Sendable {
    var bytes: [UInt8] = []
    var offset = 0
    func write(_ raw: UnsafeRawBufferPointer) throws(StorageError) { bytes += raw }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int {
        let n = min(buffer.count, bytes.count - offset)
        for i in 0..<n { buffer[i] = bytes[offset + i] }
        offset += n
        return n
    }
}

@Suite(.serialized) struct StorageDriverTests {
    static func entry(_ type: String, _ id: String, _ options: [(String, String)]) -> StorageConfig.Entry {
        StorageConfig.Entry(type: type, id: id, options: options.map { .init($0.0, $0.1) })
    }

    @Test func theRegistryDescribesEachTypeWithoutAnInstance() throws {
        let drivers = StorageDrivers.standard
        #expect(drivers["dir"]?.capabilities.contains([.files, .fileContent, .snapshots]) == true)
        #expect(drivers["lvmthin"]?.capabilities.contains(.needsActivation) == true)
        #expect(drivers["lvmthin"]?.capabilities.contains(.files) == false)
        #expect(drivers["dir"]?.defaultFormat == "raw")
        #expect(drivers["memory"] == nil, "the in-memory driver is for tests only")
        let schema = drivers.adding(MemoryStorage.driver).sectionSchema
        #expect(schema.check(Self.entry("dir", "local", [("path", "/var/lib/vz"), ("content", "images,iso")]), idKey: "storage").isEmpty)
        let bad = schema.check(Self.entry("dir", "local", [("path", "relative"), ("vgname", "pve"), ("content", "pictures")]), idKey: "storage")
        #expect(bad["path"] != nil && bad["vgname"] == "not an option of type 'dir'" && bad["content"] != nil)
        #expect(schema.check(Self.entry("lvmthin", "thin", [("vgname", "pve")]), idKey: "storage")["thinpool"] != nil)
    }

    @Test func aSharedDirSaysSo() throws {
        let plain = try DirStorage(entry: Self.entry("dir", "a", [("path", "/tmp")]))
        let shared = try DirStorage(entry: Self.entry("dir", "b", [("path", "/tmp"), ("shared", "1")]))
        #expect(!plain.capabilities.contains(.shared) && shared.capabilities.contains(.shared))
    }

    @Test func theMemoryDriverDoesWhatGuestsNeed() throws {
        MemoryStorage.reset("mem")
        let m = MemoryStorage(entry: Self.entry("memory", "mem", [("capacity", "8192")]))
        let disk = try m.allocate(vmid: 100, format: "raw", size: 1024, name: nil)
        #expect(disk == "100/vm-100-disk-0.raw")
        #expect(try m.allocate(vmid: 100, format: "raw", size: 1024, name: nil) == "100/vm-100-disk-1.raw")
        #expect(throws: StorageError.self) { try m.allocate(vmid: 100, format: "raw", size: 8192, name: nil) }
        #expect(throws: StorageError.self) { try m.allocate(vmid: 100, format: "vmdk", size: 1, name: nil) }
        try m.snapshot(disk, snapshot: "s1")
        try m.resize(disk, to: 2048)
        #expect(try m.size(disk) == 2048)
        #expect(throws: StorageError.self) { try m.resize(disk, to: 10) }
        try m.rollback(disk, snapshot: "s1")
        try m.deleteSnapshot(disk, snapshot: "s1")
        #expect(throws: StorageError.self) { try m.deleteSnapshot(disk, snapshot: "s1") }
        let base = try m.makeBase(disk)
        #expect(base == "100/base-100-disk-0.raw" && m.canLinkClone(base))
        let clone = try m.linkedClone(base, vmid: 101, name: nil)
        #expect(try m.list(content: "images", vmid: 101).first?.parent == base)
        #expect(throws: StorageError.self) { try m.free(base) }
        try m.free(clone)
        try m.free(base)
        #expect(try m.list(content: nil, vmid: 100).map(\.volid) == ["mem:100/vm-100-disk-1.raw"])
    }

    @Test func memoryVolumesExportAndImportAsRawPlusSize() throws {
        MemoryStorage.reset("a", "b")
        let a = MemoryStorage(entry: Self.entry("memory", "a", [])), b = MemoryStorage(entry: Self.entry("memory", "b", []))
        let disk = try a.allocate(vmid: 100, format: "raw", size: 16, name: nil)
        let stream = MemoryStream()
        try a.export(disk, format: "raw+size", to: stream)
        #expect(stream.bytes.count == 8 + 16 && stream.bytes[0] == 16)
        #expect(throws: StorageError.self) { try a.export(disk, format: "zfs", to: MemoryStream()) }
        let copy = try b.importVolume(vmid: 200, format: "raw+size", name: nil, from: stream)
        #expect(try b.size(copy) == 16)
    }

    /// A real directory storage: a raw and a qcow2 image exported as streams and imported into another
    /// storage arrive byte for byte; a stream cut short leaves no volume behind.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-img"), "needs qemu-img"))
    func dirVolumesTravelAsStreams() throws {
        let root = NSTemporaryDirectory() + "corral-storage-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let from = try DirStorage(entry: Self.entry("dir", "from", [("path", root + "/from")]))
        let to = try DirStorage(entry: Self.entry("dir", "to", [("path", root + "/to")]))
        for format in ["raw", "qcow2"] {
            let disk = try from.allocate(vmid: 100, format: format, size: 4 << 20, name: nil)
            if format == "raw" {
                let fd = open(try from.path(disk), O_WRONLY)
                var pattern = [UInt8](repeating: 0, count: 65536)
                for i in pattern.indices { pattern[i] = UInt8(truncatingIfNeeded: i * 7) }
                _ = pwrite(fd, pattern, pattern.count, 1 << 20)
                close(fd)
            }
            let stream = MemoryStream()
            try from.export(disk, format: from.exportFormats(disk)[0], to: stream)
            let copy = try to.importVolume(vmid: 200, format: from.exportFormats(disk)[0], name: nil, from: stream)
            #expect(copy.hasSuffix(".\(format)"))
            let original = FileManager.default.contents(atPath: try from.path(disk))
            let copied = FileManager.default.contents(atPath: try to.path(copy))
            #expect(original != nil && copied == original)
            #expect(try to.size(copy) == 4 << 20)
        }
        let short = MemoryStream()
        short.bytes = [0, 0, 0x10, 0, 0, 0, 0, 0] + [UInt8](repeating: 1, count: 100)
        #expect(throws: StorageError.self) { try to.importVolume(vmid: 300, format: "raw+size", name: nil, from: short) }
        #expect(try to.list(content: "images", vmid: 300).isEmpty)
    }
}

import Foundation
import Schema
import Testing

@testable import Storage

/// zfspool through a recorder (these machines have no ZFS): zvols and file systems, snapshots,
/// templates and clones, and how it reads `zfs list` and `zfs get`.
@Suite struct ZFSPoolStorageTests {
    static func storage(_ recorder: CommandRecorder, _ extra: [(String, String)] = []) throws -> ZFSPoolStorage {
        var section = SectionConfig.Section(type: "zfspool", id: "tank")
        section.options = [.init("pool", "rpool/data")] + extra.map { .init($0.0, $0.1) }
        return try ZFSPoolStorage(entry: section, runner: recorder.runner)
    }

    static let listing = [
        "rpool/data\tfilesystem\t-\t0\t-", "rpool/data/vm-100-disk-0\tvolume\t8589934592\t-\t-",
        "rpool/data/subvol-101-disk-0\tfilesystem\t-\t4294967296\t-", "rpool/data/base-102-disk-0\tvolume\t2147483648\t-\t-",
        "rpool/data/vm-103-disk-0\tvolume\t2147483648\t-\trpool/data/base-102-disk-0@__base__",
    ].joined(separator: "\n")

    @Test func volumesAreZvolsAndFileSystems() throws {
        let recorder = CommandRecorder(["zfs list": Self.listing])
        let zfs = try Self.storage(recorder, [("sparse", "1"), ("blocksize", "16k")])
        #expect(try zfs.allocate(vmid: 100, format: "raw", size: 1 << 30, name: nil) == "vm-100-disk-1")
        #expect(recorder.log.last == ["zfs", "create", "-s", "-b", "16k", "-V", "1048576k", "rpool/data/vm-100-disk-1"])
        #expect(try zfs.allocate(vmid: 101, format: "subvol", size: 2 << 30, name: nil) == "subvol-101-disk-1")
        #expect(
            recorder.log.last == [
                "zfs", "create", "-o", "acltype=posixacl", "-o", "xattr=sa", "-o", "refquota=2097152k", "rpool/data/subvol-101-disk-1",
            ])
        #expect(try zfs.path("vm-100-disk-0") == "/dev/zvol/rpool/data/vm-100-disk-0")
        #expect(try zfs.path("subvol-101-disk-0") == "/rpool/data/subvol-101-disk-0")
        let listed = try zfs.list(content: nil, vmid: nil)
        #expect(
            listed.map(\.volid) == ["tank:vm-100-disk-0", "tank:subvol-101-disk-0", "tank:base-102-disk-0", "tank:base-102-disk-0/vm-103-disk-0"])
        try #require(listed.count == 4)
        #expect(listed[1].format == "subvol" && listed[1].size == 4 << 30 && listed[3].parent == "tank:base-102-disk-0")
        #expect(throws: StorageError.self) { try zfs.path("../../etc") }
    }

    @Test func snapshotsTemplatesAndClonesAreZFSOperations() throws {
        let recorder = CommandRecorder(["zfs list": Self.listing])
        let zfs = try Self.storage(recorder)
        try zfs.snapshot("vm-100-disk-0", snapshot: "before")
        try zfs.rollback("vm-100-disk-0", snapshot: "before")
        try zfs.deleteSnapshot("vm-100-disk-0", snapshot: "before")
        #expect(try zfs.makeBase("vm-100-disk-0") == "base-100-disk-0")
        #expect(try zfs.linkedClone("base-100-disk-0", vmid: 104, name: nil) == "base-100-disk-0/vm-104-disk-0")
        try zfs.free("base-100-disk-0/vm-104-disk-0")
        #expect(
            recorder.log.filter { $0[1] != "list" } == [
                ["zfs", "snapshot", "rpool/data/vm-100-disk-0@before"], ["zfs", "rollback", "-r", "rpool/data/vm-100-disk-0@before"],
                ["zfs", "destroy", "rpool/data/vm-100-disk-0@before"], ["zfs", "rename", "rpool/data/vm-100-disk-0", "rpool/data/base-100-disk-0"],
                ["zfs", "snapshot", "rpool/data/base-100-disk-0@__base__"],
                ["zfs", "clone", "rpool/data/base-100-disk-0@__base__", "rpool/data/vm-104-disk-0"],
                ["zfs", "destroy", "-r", "rpool/data/vm-104-disk-0"],
            ])
    }

    @Test func statusAndActivationReadThePool() throws {
        let recorder = CommandRecorder(["zfs get -H -p -o value available,used rpool/data": "7000\n3000\n"])
        let zfs = try Self.storage(recorder)
        let status = try zfs.status()
        #expect(status.total == 10000 && status.used == 3000 && status.available == 7000)
        let missing = CommandRecorder([:], failing: ["zpool"])
        #expect {
            try Self.storage(missing).activate()
        } throws: { ($0 as? StorageError)?.message.contains("pool 'rpool' not found") == true }
    }
}

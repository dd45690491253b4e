import Foundation
import Schema
import Testing

@testable import Storage

/// Ceph RBD through a recorder (no Ceph on these machines): the `rbd` calls with pool, monitors,
/// user and key; images listed with their clone parents; paths for librbd and krbd.
@Suite struct RBDStorageTests {
    static func storage(_ recorder: CommandRecorder, krbd: Bool = false) throws -> RBDStorage {
        var section = SectionConfig.Section(type: "rbd", id: "ceph")
        section.options = [.init("pool", "vms"), .init("monhost", "10.0.0.1 10.0.0.2"), .init("username", "corral"), .init("keyring", "AQBsecret==")]
        if krbd { section.options.append(.init("krbd", "1")) }
        return try RBDStorage(entry: section, runner: recorder.runner)
    }

    static let listing = """
        [{"image":"vm-100-disk-0","size":8589934592,"format":2},{"image":"vm-100-disk-0","snapshot":"before","size":8589934592},
        {"image":"base-101-disk-0","size":2147483648},{"image":"vm-102-disk-0","size":2147483648,"parent":{"pool":"vms","image":"base-101-disk-0","snapshot":"__base__"}}]
        """

    @Test func imagesAreMadeAndListedWithTheirParents() throws {
        let recorder = CommandRecorder(["rbd": Self.listing])
        let rbd = try Self.storage(recorder)
        #expect(try rbd.allocate(vmid: 100, format: "raw", size: 1 << 30, name: nil) == "vm-100-disk-1")
        let prefix = ["rbd", "-p", "vms", "-m", "10.0.0.1,10.0.0.2", "--id", "corral", "--keyring", rbd.keyringPath]
        #expect(recorder.log.last == prefix + ["create", "--image-feature", "layering", "--size", "1024", "vm-100-disk-1"])
        let key = try String(contentsOfFile: rbd.keyringPath, encoding: .utf8)
        #expect(key == "[client.corral]\n\tkey = AQBsecret==\n")
        #expect(!recorder.log.joined().joined(separator: " ").contains("AQBsecret"))
        let listed = try rbd.list(content: nil, vmid: nil)
        #expect(listed.map(\.volid) == ["ceph:vm-100-disk-0", "ceph:base-101-disk-0", "ceph:base-101-disk-0/vm-102-disk-0"])
        #expect(listed.last?.parent == "ceph:base-101-disk-0")
        #expect(try rbd.path("vm-100-disk-0") == "rbd://corral@10.0.0.1,10.0.0.2/vms/vm-100-disk-0")
        #expect(try Self.storage(recorder, krbd: true).path("vm-100-disk-0") == "/dev/rbd/vms/vm-100-disk-0")
    }

    @Test func snapshotsTemplatesAndClonesAreRBDOperations() throws {
        let recorder = CommandRecorder(["rbd": Self.listing])
        let rbd = try Self.storage(recorder)
        try rbd.snapshot("vm-100-disk-0", snapshot: "s1")
        try rbd.rollback("vm-100-disk-0", snapshot: "s1")
        #expect(try rbd.makeBase("vm-100-disk-0") == "base-100-disk-0")
        #expect(try rbd.linkedClone("base-100-disk-0", vmid: 103, name: nil) == "base-100-disk-0/vm-103-disk-0")
        try rbd.free("base-100-disk-0/vm-103-disk-0")
        let calls = recorder.log.map { Array($0.dropFirst(9)) }.filter { $0.first != "ls" }
        #expect(
            calls == [
                ["snap", "create", "vm-100-disk-0@s1"], ["snap", "rollback", "vm-100-disk-0@s1"], ["rename", "vm-100-disk-0", "base-100-disk-0"],
                ["snap", "create", "base-100-disk-0@__base__"], ["snap", "protect", "base-100-disk-0@__base__"],
                ["clone", "vms/base-100-disk-0@__base__", "vms/vm-103-disk-0"], ["snap", "purge", "vm-103-disk-0"], ["rm", "vm-103-disk-0"],
            ])
    }

    @Test func statusComesFromTheClustersPoolFigures() throws {
        let recorder = CommandRecorder([
            "ceph": #"{"pools":[{"name":"other","stats":{"stored":1,"max_avail":2}},{"name":"vms","stats":{"stored":300,"max_avail":700}}]}"#
        ])
        let status = try Self.storage(recorder).status()
        #expect(status.total == 1000 && status.used == 300 && status.available == 700)
    }
}

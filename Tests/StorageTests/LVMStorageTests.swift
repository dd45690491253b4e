import Foundation
import Schema
import Synchronization
import Testing

@testable import Storage

/// LVM (thick) through a recorder: the commands it runs and how it reads their output (these
/// machines have no device-mapper, so no logical volume can be activated here).
@Suite struct LVMStorageTests {
    static func storage(_ recorder: CommandRecorder, saferemove: Bool = false) throws -> LVMStorage {
        var section = SectionConfig.Section(type: "lvm", id: "san")
        section.options = [.init("vgname", "pve"), .init("content", "images")] + (saferemove ? [.init("saferemove", "1")] : [])
        return try LVMStorage(entry: section, runner: recorder.runner)
    }

    @Test func volumesAreLogicalVolumesOfTheirFullSize() throws {
        let recorder = CommandRecorder([
            "lvs": "  vm-100-disk-0|1073741824|\n  vm-100-disk-1|2147483648|\n  other|4096|\n", "vgs": "  10737418240|7516192768\n",
        ])
        let lvm = try Self.storage(recorder)
        #expect(try lvm.allocate(vmid: 100, format: "raw", size: 4 << 30, name: nil) == "vm-100-disk-2")
        #expect(recorder.log.last == ["lvcreate", "-q", "-y", "-Wy", "--setactivationskip", "n", "-L", "4194304k", "-n", "vm-100-disk-2", "pve"])
        #expect(try lvm.path("vm-100-disk-2") == "/dev/pve/vm-100-disk-2")
        let listed = try lvm.list(content: nil, vmid: nil)
        #expect(listed.map(\.volid) == ["san:vm-100-disk-0", "san:vm-100-disk-1"] && listed[1].size == 2 << 30)
        let status = try lvm.status()
        #expect(status.total == 10 << 30 && status.available == 7 << 30 && status.used == 3 << 30)
        #expect(throws: StorageError.self) { try lvm.allocate(vmid: 100, format: "qcow2", size: 1, name: nil) }
        #expect(throws: StorageError.self) { try lvm.path("../etc") }
        #expect(!lvm.canSnapshot("vm-100-disk-0") && !lvm.canLinkClone("base-100-disk-0"))
    }

    @Test func saferemoveZeroesBeforeRemoving() throws {
        let recorder = CommandRecorder([:])
        try Self.storage(recorder, saferemove: true).free("vm-100-disk-0")
        #expect(
            recorder.log == [
                ["lvchange", "-q", "-ay", "pve/vm-100-disk-0"], ["blkdiscard", "--zeroout", "/dev/pve/vm-100-disk-0"],
                ["lvremove", "-q", "-f", "pve/vm-100-disk-0"],
            ])
        let plain = CommandRecorder([:])
        try Self.storage(plain).free("vm-100-disk-0")
        #expect(plain.log == [["lvremove", "-q", "-f", "pve/vm-100-disk-0"]])
    }
}

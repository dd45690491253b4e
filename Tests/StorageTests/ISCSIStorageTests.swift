import Foundation
import Schema
import Testing

@testable import Storage

/// The kernel initiator's storage (none on these machines) through a recorder and a fake udev tree,
/// and the parsing of libiscsi's and smbclient's listings.
@Suite struct ISCSIStorageUnitTests {
    static func entry(_ type: String) -> StorageConfig.Entry {
        var section = SectionConfig.Section(type: type, id: "san")
        section.options = [.init("portal", "10.0.0.9"), .init("target", "iqn.2026-12.org.example:disks")]
        return section
    }

    @Test func kernelLUNsAreNamedAfterTheirDevices() throws {
        let dev = NSTemporaryDirectory() + "corral-udev-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dev) }
        for sub in ["by-id", "by-path"] { try FileManager.default.createDirectory(atPath: "\(dev)/\(sub)", withIntermediateDirectories: true) }
        let fm = FileManager.default
        try fm.createSymbolicLink(
            atPath: "\(dev)/by-path/ip-10.0.0.9:3260-iscsi-iqn.2026-12.org.example:disks-lun-1", withDestinationPath: "../../sdc")
        try fm.createSymbolicLink(
            atPath: "\(dev)/by-path/ip-10.0.0.8:3260-iscsi-iqn.2026-12.org.example:other-lun-1", withDestinationPath: "../../sdd")
        try fm.createSymbolicLink(atPath: "\(dev)/by-id/wwn-0x6001405abc", withDestinationPath: "../../sdc")
        try fm.createSymbolicLink(atPath: "\(dev)/by-id/scsi-36001405abc", withDestinationPath: "../../sdc")
        let recorder = CommandRecorder(["iscsiadm -m session": ""])
        let iscsi = try ISCSIStorage(entry: Self.entry("iscsi"), runner: recorder.runner, devices: dev)
        #expect(try iscsi.list(content: nil, vmid: nil).map(\.volid) == ["san:0.0.1.scsi-36001405abc"])
        #expect(try iscsi.path("0.0.1.scsi-36001405abc") == "\(dev)/by-id/scsi-36001405abc")
        #expect(throws: StorageError.self) { try iscsi.path("0.0.1.../x") }
        try iscsi.activate()
        #expect(
            recorder.log.dropFirst() == [
                ["iscsiadm", "-m", "discovery", "-t", "sendtargets", "-p", "10.0.0.9:3260"],
                ["iscsiadm", "-m", "node", "-T", "iqn.2026-12.org.example:disks", "-p", "10.0.0.9:3260", "--login"],
            ])
        #expect(throws: StorageError.self) { try iscsi.allocate(vmid: 1, format: "raw", size: 1, name: nil) }
    }

    @Test func directLUNsComeFromTheirTargetsSectionOnly() throws {
        let listing = """
            Target:iqn.2026-12.org.example:other Portal:10.0.0.9:3260,1
            Lun:0    Type:STORAGE_ARRAY_CONTROLLER
            Lun:7    Type:DIRECT_ACCESS (Size:1G)
            Target:iqn.2026-12.org.example:disks Portal:10.0.0.9:3260,1
            Lun:0    Type:STORAGE_ARRAY_CONTROLLER
            Lun:1    Type:DIRECT_ACCESS (Size:63M)
            Lun:3    Type:DIRECT_ACCESS (Size:2G)
            """
        let recorder = CommandRecorder(["iscsi-ls": listing, "qemu-img": "{\"virtual-size\": 1048576}"])
        let direct = try ISCSIDirectStorage(entry: Self.entry("iscsidirect"), runner: recorder.runner)
        #expect(try direct.list(content: nil, vmid: nil).map(\.volid) == ["san:lun1", "san:lun3"])
        #expect(try direct.path("lun3") == "iscsi://10.0.0.9/iqn.2026-12.org.example:disks/3")
        try direct.activate()
        #expect(StorageScan.iscsiTargets(listing).map(\.target) == ["iqn.2026-12.org.example:other", "iqn.2026-12.org.example:disks"])
        #expect(StorageScan.iscsiTargets(listing).first?.portal == "10.0.0.9:3260")
        #expect(StorageScan.cifsShares("Disk|vms|VM images\nIPC|IPC$|IPC Service\nDisk|ADMIN$|admin\nDisk|iso|").map(\.share) == ["vms", "iso"])
    }
}

import Foundation
import Schema
import Testing

@testable import Nodes

/// The hardware readers over a fake sysfs tree and canned tool output, and the same readers over
/// this machine's real sysfs and QEMU.
@Suite struct NodeHardwareTests {
    static func file(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try (text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func pciAndUSBDevicesComeFromSysfs() throws {
        let root = NSTemporaryDirectory() + "corral-sysfs-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let pci = root + "/sys/bus/pci/devices"
        for (id, cls) in [("0000:00:00.0", "0x060000"), ("0000:01:00.0", "0x030000"), ("0000:02:00.0", "0x020000")] {
            try Self.file("\(pci)/\(id)/class", cls)
            try Self.file("\(pci)/\(id)/vendor", "0x10de")
            try Self.file("\(pci)/\(id)/device", "0x1eb8")
        }
        try Self.file(root + "/kernel/iommu_groups/7/x", "")
        try FileManager.default.createSymbolicLink(atPath: "\(pci)/0000:01:00.0/iommu_group", withDestinationPath: root + "/kernel/iommu_groups/7")
        let devices = NodeHardware.pciDevices(root: root)
        // the host bridge (class 06) is left out by PVE's default blacklist
        #expect(devices.map { $0["id"] as? String } == ["0000:01:00.0", "0000:02:00.0"])
        #expect(devices[0]["iommugroup"] as? Int == 7 && devices[1]["iommugroup"] as? Int == -1)
        #expect(NodeHardware.pciDevices(root: root, blacklist: []).count == 3)

        let usb = root + "/sys/bus/usb/devices"
        for (name, values) in [
            ("usb1", ["busnum": "1", "devnum": "1", "idVendor": "1d6b", "idProduct": "0002", "speed": "480", "bDeviceClass": "09"]),
            (
                "1-2.3",
                ["busnum": "1", "devnum": "5", "idVendor": "0781", "idProduct": "5567", "speed": "480", "bDeviceClass": "00", "product": "Cruzer"]
            ),
            ("1-2.3:1.0", ["bInterfaceClass": "08"]),
        ] {
            for (key, value) in values { try Self.file("\(usb)/\(name)/\(key)", value) }
        }
        let sticks = NodeHardware.usbDevices(root: root)
        #expect(sticks.count == 2)
        let stick = try #require(sticks.first { $0["devnum"] as? Int == 5 })
        #expect(
            stick["usbpath"] as? String == "2.3" && stick["port"] as? Int == 3 && stick["level"] as? Int == 2
                && stick["product"] as? String == "Cruzer")
        #expect(sticks.first { $0["devnum"] as? Int == 1 }?["class"] as? Int == 9)
    }

    @Test func qemuListsAndDisksAreRead() throws {
        let cpus = NodeHardware.cpuModels(
            "Available CPUs:\nx86 486   (alias)\nx86 EPYC-Rome  AMD EPYC-Rome Processor\nx86 host   KVM processor\nx86 Skylake-Server\n\nRecognized CPUID flags:\n  3dnow"
        )
        #expect(
            cpus.map { "\($0["name"]!):\($0["vendor"]!)" } == [
                "486:GenuineIntel", "EPYC-Rome:AuthenticAMD", "host:default", "Skylake-Server:GenuineIntel",
            ])
        let machines = NodeHardware.machineTypes(
            "Supported machines are:\npc    Standard PC (alias of pc-i440fx-7.2)\npc-i440fx-7.2   Standard PC (default)\npc-q35-7.1   Standard PC (Q35)\nq35   alias"
        )
        #expect(machines.map { "\($0["id"]!)=\($0["type"]!)/\($0["version"]!)" } == ["pc-i440fx-7.2=i440fx/7.2", "pc-q35-7.1=q35/7.1"])
        let lsblk = """
            {"blockdevices":[{"name":"sda","path":"/dev/sda","size":500107862016,"type":"disk","model":"Samsung SSD","serial":"S1","vendor":"ATA","wwn":null,"rota":false,"tran":"sata","mountpoint":null,"fstype":null,"pttype":"gpt",
              "children":[{"name":"sda1","path":"/dev/sda1","size":1000,"type":"part","mountpoint":"/boot","fstype":"ext4"},{"name":"sda2","path":"/dev/sda2","size":2000,"type":"part","fstype":"LVM2_member"}]},
             {"name":"nvme0n1","path":"/dev/nvme0n1","size":1000,"type":"disk","rota":false,"fstype":"zfs_member"},
             {"name":"loop0","path":"/dev/loop0","size":10,"type":"loop"}]}
            """
        let disks = NodeHardware.disks(lsblk: lsblk, includePartitions: true)
        #expect(
            disks.map { "\($0["devpath"]!) \($0["type"]!) \($0["used"] ?? "-")" } == [
                "/dev/sda ssd partitions", "/dev/sda1 partition ext4", "/dev/sda2 partition LVM", "/dev/nvme0n1 nvme ZFS",
            ])
        #expect(disks[0]["gpt"] as? Bool == true && disks[0]["model"] as? String == "Samsung SSD" && disks[1]["parent"] as? String == "/dev/sda")
        #expect(NodeHardware.disks(lsblk: lsblk, includePartitions: false).count == 2)
    }

    @Test func thisMachinesHardwareReads() throws {
        // every machine of this kind has PCI functions; the real QEMU lists its models and machines
        #expect(!NodeHardware.pciDevices(blacklist: []).isEmpty)
        let help = try String(decoding: Self.output(["/usr/bin/qemu-system-x86_64", "-machine", "help"]), as: UTF8.self)
        #expect(NodeHardware.machineTypes(help).contains { $0["type"] as? String == "q35" })
        let cpus = try String(decoding: Self.output(["/usr/bin/qemu-system-x86_64", "-cpu", "help"]), as: UTF8.self)
        #expect(NodeHardware.cpuModels(cpus).contains { $0["name"] as? String == "host" })
    }

    static func output(_ command: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return data
    }
}

@Suite struct NodeLogParsingTests {
    @Test func guestDevicesCountersAndPackageRows() {
        let dev = """
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
                lo:  100 1 0 0 0 0 0 0  100 1 0 0 0 0 0 0
            tap100i0: 5000 10 0 0 0 0 0 0 7000 12 0 0 0 0 0 0
            veth200i1: 11 1 0 0 0 0 0 0 22 2 0 0 0 0 0 0
            vmbr0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0
            """
        let rows = NodeLogEndpoints.netstat(dev)
        #expect(
            rows.map { "\($0["dev"]!.plainText) \($0["vmid"]!.plainText) \($0["in"]!.plainText) \($0["out"]!.plainText)" } == [
                "tap100i0 100 7000 5000", "veth200i1 200 22 11",
            ])
        let versions = NodeLogEndpoints.versions(
            "corosync\t3.1.7\tamd64\tii \tadmin\toptional\tcluster engine\nzfsutils-linux\t2.1\tamd64\tun \tadmin\toptional\tzfs\n")
        #expect(
            versions.count == 1 && versions[0]["Package"] == "corosync" && versions[0]["Version"] == "3.1.7"
                && versions[0]["Title"] == "cluster engine")
    }
}

import Foundation
import Glibc
import TestSupport
import Testing

let iscsiAvailable =
    getuid() == 0 && FileManager.default.fileExists(atPath: "/usr/sbin/tgtd") && FileManager.default.fileExists(atPath: "/usr/bin/iscsi-ls")
    && FileManager.default.fileExists(atPath: "/usr/bin/isohybrid")

/// An iSCSI target served by Debian's tgt on 127.0.0.1 as an `iscsidirect` storage: scanned, listed,
/// and the tiny guest boots from one of its LUNs through QEMU's own libiscsi.
@Suite(.serialized, .enabled(if: iscsiAvailable, "needs root, tgt, libiscsi-bin and syslinux-utils"))
struct ISCSIStorageTests {
    /// tgtd in the foreground on its own portal and control port, with one target.
    final class Target {
        let process = Process()
        let control = "\(17 + Int(getpid() % 50))"
        let port = 13260 + Int(getpid() % 500)
        let iqn = "iqn.2026-12.org.corral.test:t\(getpid())"

        init() throws {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/tgtd")
            process.arguments = ["-f", "-C", control, "--iscsi", "portal=127.0.0.1:\(port)"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            var ready = false
            for _ in 0..<50 where !ready {
                usleep(100_000)
                ready = (try? tgtadm(["--mode", "target", "--op", "show"]))?.status == 0
            }
            try #require(ready, "tgtd did not start")
            try #require(try tgtadm(["--mode", "target", "--op", "new", "--tid", "1", "-T", iqn]).status == 0)
            try #require(try tgtadm(["--mode", "target", "--op", "bind", "--tid", "1", "-I", "ALL"]).status == 0)
        }

        func tgtadm(_ arguments: [String]) throws -> CommandResult {
            try runCommand("/usr/sbin/tgtadm", ["-C", control, "--lld", "iscsi"] + arguments)
        }

        func addLUN(_ lun: Int, file: String) throws {
            let r = try tgtadm(["--mode", "logicalunit", "--op", "new", "--tid", "1", "--lun", "\(lun)", "-b", file])
            try #require(r.status == 0, "\(r.stdout)\(r.stderr)")
        }

        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    @Test func theTinyGuestBootsFromALUN() throws {
        let iso = try VMTests.prepare()
        VMTests.destroyTestDomains()
        let node = try NodeProcess(name: "isc", extraArguments: ["--local", "--set", "domain-prefix=\(VMTests.prefix)"])
        defer {
            VMTests.destroyTestDomains()
            _ = node.terminate()
        }
        let target = try Target()
        defer { target.stop() }
        // LUN 1: the tiny guest made bootable as a disk (isohybrid); LUN 2: an empty data disk
        let boot = node.dataDirectory + "/lun1.img", data = node.dataDirectory + "/lun2.img"
        try FileManager.default.copyItem(atPath: iso, toPath: boot)
        #expect(try runCommand("/usr/bin/isohybrid", [boot]).status == 0)
        // isohybrid pads the image to whole MiB: the LUN is that size
        let bootBytes = (try FileManager.default.attributesOfItem(atPath: boot)[.size] as? Int) ?? 0
        #expect(try runCommand("/usr/bin/truncate", ["-s", "32M", data]).status == 0)
        try target.addLUN(1, file: boot)
        try target.addLUN(2, file: data)
        let portal = "127.0.0.1:\(target.port)"

        // the portal offers the target; a wrong target is refused and not written
        let scanned = VMTests.json(try curl(node, "/api2/json/nodes/isc/scan/iscsi?portal=\(portal)").body)["data"] as? [[String: Any]] ?? []
        #expect(scanned.contains { $0["target"] as? String == target.iqn && ($0["portal"] as? String)?.hasPrefix("127.0.0.1") == true }, "\(scanned)")
        let wrong = try curl(
            node, "/api2/json/storage",
            ["-d", "storage=san", "-d", "type=iscsidirect", "-d", "portal=\(portal)", "-d", "target=iqn.2026-12.org.corral:none"])
        #expect(wrong.status == 500 && wrong.body.contains("does not answer"), "\(wrong.body)")
        let added = try curl(
            node, "/api2/json/storage", ["-d", "storage=san", "-d", "type=iscsidirect", "-d", "portal=\(portal)", "-d", "target=\(target.iqn)"])
        #expect(added.status == 200, "\(added.body)")
        let luns = VMTests.json(try curl(node, "/api2/json/nodes/isc/storage/san/content").body)["data"] as? [[String: Any]] ?? []
        #expect(luns.map { "\($0["volid"] ?? "")=\($0["size"] ?? "")" } == ["san:lun1=\(bootBytes)", "san:lun2=33554432"], "\(luns)")
        // its LUNs are the target's: nothing is allocated on it
        let alloc = try curl(node, "/api2/json/nodes/isc/storage/san/content", ["-d", "vmid=990", "-d", "filename=vm-990-disk-0", "-d", "size=1G"])
        #expect(alloc.status == 400 && alloc.body.contains("can't allocate"), "\(alloc.body)")

        // a VM whose disks are the LUNs: it boots from LUN 1 and sees both
        #expect(
            try VMTests.task(
                node, "POST", "/nodes/isc/qemu",
                [
                    "vmid=990", "memory=256", "kvm=0", "scsihw=virtio-scsi-pci", "scsi0=san:lun1", "scsi1=san:lun2", "boot=order=scsi0",
                    "serial0=socket",
                ]
            ) == "OK")
        let config = VMTests.json(try curl(node, "/api2/json/nodes/isc/qemu/990/config").body)["data"] as? [String: Any] ?? [:]
        #expect(config["scsi0"] as? String == "san:lun1,size=\(bootBytes >> 20)M", "\(config)")
        #expect(try VMTests.task(node, "POST", "/nodes/isc/qemu/990/status/start") == "OK")
        let xml = try runCommand("/usr/bin/virsh", ["-c", "qemu:///system", "dumpxml", "\(VMTests.prefix)990"]).stdout
        #expect(xml.contains("protocol='iscsi'") && xml.contains("\(target.iqn)/1"), "\(xml)")
        #expect(VMTests.waitForMarker(node, 990), "the guest never booted from the LUN")
        let serial = (try? String(contentsOfFile: node.dataDirectory + "/log/990.serial0.log", encoding: .isoLatin1)) ?? ""
        #expect(serial.contains("CORRAL-DISKS: sda sdb"), "\(serial.suffix(400))")
        #expect(try VMTests.task(node, "POST", "/nodes/isc/qemu/990/status/stop") == "OK")
        // destroying the VM leaves the target's LUNs alone
        #expect(try VMTests.task(node, "DELETE", "/nodes/isc/qemu/990", ["purge=1"]) == "OK")
        let after = VMTests.json(try curl(node, "/api2/json/nodes/isc/storage/san/content").body)["data"] as? [[String: Any]] ?? []
        #expect(after.count == 2)
    }
}

import Foundation
import TestSupport
import Testing

/// VMs on an LVM thin pool built on a loop device, and VMs that outlive restarts of corrald and of
/// libvirtd.
@Suite(.serialized) struct VMStorageTests {
    /// A volume group with a thin pool on a loop device; removed again by `teardown`.
    struct ThinPool {
        let image: String
        let device: String
        let vg: String

        /// Why thin pools cannot exist on this host, if they cannot (no device-mapper in the kernel).
        static var unavailable: String? {
            let probe = try? runCommand(
                "/bin/bash",
                [
                    "-c",
                    "dmsetup version >/tmp/corral-dm-probe 2>&1 </dev/null && dmsetup targets >>/tmp/corral-dm-probe 2>&1 </dev/null; s=$?; cat /tmp/corral-dm-probe; exit $s",
                ])
            guard let probe, probe.status == 0 else {
                return
                    "this kernel has no usable device-mapper (dmsetup: \(probe?.stdout.split(separator: "\n").first ?? "not run")), so LVM thin pools cannot exist here"
            }
            return probe.stdout.contains("thin-pool") ? nil : "the kernel's device-mapper has no thin-pool target"
        }

        static func make(in directory: String) throws -> ThinPool {
            let vg = "corraltest\(getpid())"
            let image = directory + "/thin.img"
            // LVM may leave helpers (dmeventd) holding inherited descriptors: output goes to files
            let script = """
                set -e
                truncate -s 2G '\(image)'
                losetup --find --show '\(image)' >'\(directory)/thin.dev'
                dev=$(cat '\(directory)/thin.dev')
                pvcreate -q -y "$dev"
                vgcreate -q '\(vg)' "$dev"
                lvcreate -q -y -L 1500M -T '\(vg)/data'
                """
            let r = try runCommand(
                "/bin/bash", ["-c", "(\(script)) >'\(directory)/thin.log' 2>&1 </dev/null; s=$?; cat '\(directory)/thin.log'; exit $s"])
            let device = ((try? String(contentsOfFile: directory + "/thin.dev", encoding: .utf8)) ?? "").trimmingCharacters(
                in: .whitespacesAndNewlines)
            guard r.status == 0 else {
                ThinPool(image: image, device: device, vg: vg).teardown()
                throw TestFailure("cannot build a thin pool on a loop device: \(r.stdout)")
            }
            return ThinPool(image: image, device: device, vg: vg)
        }

        func teardown() {
            _ = try? runCommand(
                "/bin/bash",
                [
                    "-c",
                    "(vgremove -q -f '\(vg)'; pvremove -q -f '\(device)'; [ -n '\(device)' ] && losetup -d '\(device)'; rm -f '\(image)') >/dev/null 2>&1 </dev/null",
                ])
        }
    }

    @Test(.enabled(if: ThinPool.unavailable == nil, "no device-mapper here: the lvmthin backend is covered where it exists"))
    func lvmThinDisksSnapshotsAndLinkedClones() throws {
        _ = try VMTests.prepare()
        let node = try VMTests.startNode()
        let pool = try ThinPool.make(in: node.dataDirectory)
        defer {
            VMTests.destroyTestDomains()
            _ = node.terminate()
            pool.teardown()
        }
        let cfg = node.mountpoint + "/storage.cfg"
        let storage = try String(contentsOfFile: cfg, encoding: .utf8)
        try (storage + "\nlvmthin: thin\n\tthinpool data\n\tvgname \(pool.vg)\n\tcontent images,rootdir\n").write(
            toFile: cfg, atomically: false, encoding: .utf8)
        let status = try curl(node, "/api2/json/nodes/vmt/storage/thin/status")
        #expect(status.status == 200 && status.body.contains("\"active\":1"), "\(status.body)")

        #expect(try VMTests.task(node, "POST", "/nodes/vmt/qemu", ["vmid=300", "memory=128", "scsi0=thin:1", "virtio1=thin:0.5"]) == "OK")
        let config = VMTests.json(try curl(node, "/api2/json/nodes/vmt/qemu/300/config").body)["data"] as? [String: Any] ?? [:]
        #expect(config["scsi0"] as? String == "thin:vm-300-disk-0,size=1G")
        #expect(config["virtio1"] as? String == "thin:vm-300-disk-1,size=512M")
        let lvs = try runCommand("/usr/sbin/lvs", ["--noheadings", "-o", "lv_name", pool.vg]).stdout
        #expect(lvs.contains("vm-300-disk-0") && lvs.contains("vm-300-disk-1"))

        // a stopped VM's snapshot is a thin snapshot of each disk; rollback and delete work
        #expect(try VMTests.task(node, "POST", "/nodes/vmt/qemu/300/snapshot", ["snapname=before"]) == "OK")
        #expect(try runCommand("/usr/sbin/lvs", ["--noheadings", "-o", "lv_name", pool.vg]).stdout.contains("snap_vm-300-disk-0_before"))
        #expect(try VMTests.task(node, "POST", "/nodes/vmt/qemu/300/snapshot/before/rollback") == "OK")
        #expect(try VMTests.task(node, "DELETE", "/nodes/vmt/qemu/300/snapshot/before") == "OK")
        let feature = try curl(node, "/api2/json/nodes/vmt/qemu/300/feature?feature=snapshot").body
        #expect(feature.contains("\"hasFeature\":true"))

        // template → base volumes; linked clone = thin snapshot of the base
        #expect(try VMTests.task(node, "POST", "/nodes/vmt/qemu/300/template") == "OK")
        #expect(try VMTests.task(node, "POST", "/nodes/vmt/qemu/300/clone", ["newid=301"]) == "OK")
        let clone = VMTests.json(try curl(node, "/api2/json/nodes/vmt/qemu/301/config").body)["data"] as? [String: Any] ?? [:]
        #expect(clone["scsi0"] as? String == "thin:base-300-disk-0/vm-301-disk-0,size=1G")
        #expect(try VMTests.task(node, "POST", "/nodes/vmt/qemu/300/clone", ["newid=302", "full=1", "storage=local"]) == "OK")
        let full = VMTests.json(try curl(node, "/api2/json/nodes/vmt/qemu/302/config").body)["data"] as? [String: Any] ?? [:]
        #expect((full["scsi0"] as? String)?.hasPrefix("local:302/vm-302-disk-0.raw") == true, "\(full)")

        for vmid in [302, 301, 300] { #expect(try VMTests.task(node, "DELETE", "/nodes/vmt/qemu/\(vmid)") == "OK") }
        let left = try runCommand("/usr/sbin/lvs", ["--noheadings", "-o", "lv_name", pool.vg]).stdout
            .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && $0 != "data" }
        #expect(left.isEmpty, "volumes left in the pool: \(left)")
    }

    @Test func runningVMsOutliveRestartsOfCorraldAndLibvirtd() throws {
        let iso = try VMTests.prepare()
        var node = try VMTests.startNode()
        defer { VMTests.destroyTestDomains() }
        let isoDir = node.dataDirectory + "/vz/template/iso"
        try FileManager.default.createDirectory(atPath: isoDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: iso, toPath: isoDir + "/tiny.iso")
        #expect(
            try VMTests.task(
                node, "POST", "/nodes/vmt/qemu",
                [
                    "vmid=310", "memory=256", "kvm=0", "ide2=local:iso/tiny.iso,media=cdrom", "boot=order=ide2", "serial0=socket", "start=1",
                ]) == "OK")
        #expect(VMTests.waitForMarker(node, 310))
        let pid = try VMTests.status(node, 310)["pid"] as? Int
        #expect(pid != nil)

        // corrald restarts: the VM keeps running and is found again
        let directory = node.dataDirectory
        _ = node.terminate()
        node = try NodeProcess(name: "vmt", dataDirectory: directory, extraArguments: ["--local", "--set", "domain-prefix=\(VMTests.prefix)"])
        try node.bootstrapAdmin()
        var status = try VMTests.status(node, 310)
        #expect(status["status"] as? String == "running")
        #expect(status["pid"] as? Int == pid, "the same QEMU process")

        // libvirtd dies and comes back: corrald reconnects, QEMU never noticed
        _ = try runCommand(
            "/bin/bash",
            [
                "-c",
                "pid=$(cat /run/libvirtd.pid); kill -9 $pid; while kill -0 $pid 2>/dev/null; do sleep 0.1; done; rm -f /run/libvirtd.pid; cd '\(NodeProcess.repository)' && bash Tests/Guest/libvirt-up.sh >/dev/null 2>&1",
            ])
        status = try VMTests.status(node, 310)
        #expect(status["status"] as? String == "running", "after libvirtd restarted: \(status)")
        #expect(status["pid"] as? Int == pid)
        #expect(try VMTests.task(node, "POST", "/nodes/vmt/qemu/310/status/stop") == "OK")
        #expect(try VMTests.task(node, "DELETE", "/nodes/vmt/qemu/310") == "OK")
        _ = node.terminate()
    }
}

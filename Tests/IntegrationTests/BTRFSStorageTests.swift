import Foundation
import Glibc
import TestSupport
import Testing

let btrfsAvailable =
    getuid() == 0 && FileManager.default.fileExists(atPath: "/usr/bin/btrfs") && FileManager.default.fileExists(atPath: "/sbin/mkfs.btrfs")

/// A btrfs storage on a loop device (real btrfs, real subvolumes): a VM and a container on it,
/// snapshots and rollbacks of both, a linked clone of a template, and a running VM's disk moved onto it.
@Suite(.serialized, .enabled(if: btrfsAvailable, "needs root, btrfs-progs and loop devices"))
struct BTRFSStorageTests {
    /// A btrfs file system in a file, mounted (loop) until `unmount`.
    final class LoopBTRFS {
        let image: String, mountpoint: String
        init(_ dir: String) throws {
            image = dir + "/btrfs.img"
            mountpoint = dir + "/btrfs"
            try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
            for (tool, arguments) in [
                ("/usr/bin/truncate", ["-s", "1536M", image]), ("/sbin/mkfs.btrfs", ["-q", image]),
                ("/bin/mount", ["-o", "loop", image, mountpoint]),
            ] {
                let r = try runCommand(tool, arguments)
                try #require(r.status == 0, "\(tool): \(r.stdout)\(r.stderr)")
            }
        }
        func unmount() {
            _ = try? runCommand("/bin/umount", ["-d", mountpoint])
            try? FileManager.default.removeItem(atPath: image)
        }
    }

    static func writeMarker(_ path: String, _ text: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.write(Data(text.utf8))
        try handle.close()
    }

    static func marker(_ path: String, _ count: Int) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        return String(decoding: handle.readData(ofLength: count), as: UTF8.self)
    }

    @Test func guestsLiveOnSubvolumesWithSnapshotsAndLinkedClones() throws {
        let node = try NodeProcess(name: "btr", extraArguments: ["--local", "--set", "domain-prefix=corral-test-btr-"])
        defer { _ = node.terminate() }
        let fs = try LoopBTRFS(node.dataDirectory)
        defer { fs.unmount() }
        let path = "/nodes/btr", api = "/api2/json" + path
        func config(_ kind: String, _ vmid: Int) -> [String: Any] {
            VMTests.json((try? curl(node, "\(api)/\(kind)/\(vmid)/config").body) ?? "")["data"] as? [String: Any] ?? [:]
        }

        // a btrfs storage must be on btrfs: refused elsewhere, and nothing is written
        let plain = try curl(node, "/api2/json/storage", ["-d", "storage=bad", "-d", "type=btrfs", "-d", "path=\(node.dataDirectory)/vz"])
        #expect(plain.status >= 400 && plain.body.contains("not on a btrfs file system"), "\(plain.status) \(plain.body)")
        let wrongOption = try curl(
            node, "/api2/json/storage", ["-d", "storage=bad", "-d", "type=btrfs", "-d", "path=\(fs.mountpoint)", "-d", "vgname=x"])
        #expect(wrongOption.status == 400 && wrongOption.body.contains("\"vgname\""), "\(wrongOption.body)")
        #expect(try curl(node, "/api2/json/storage/bad").status != 200)
        let added = try curl(
            node, "/api2/json/storage", ["-d", "storage=bt", "-d", "type=btrfs", "-d", "path=\(fs.mountpoint)", "-d", "content=images,rootdir"])
        #expect(added.status == 200, "\(added.body)")
        let status = VMTests.json(try curl(node, "\(api)/storage/bt/status").body)["data"] as? [String: Any] ?? [:]
        #expect((status["total"] as? Int ?? 0) > 1 << 30 && status["active"] as? Int == 1, "\(status)")

        // a VM's disk is disk.raw in its own subvolume
        #expect(try VMTests.task(node, "POST", "\(path)/qemu", ["vmid=940", "memory=64", "scsi0=bt:0.0625"]) == "OK")
        #expect((config("qemu", 940)["scsi0"] as? String)?.hasPrefix("bt:940/vm-940-disk-0.raw") == true, "\(config("qemu", 940))")
        // a storage that holds a guest's disk is not removed
        let inUse = try curl(node, "/api2/json/storage/bt", ["-X", "DELETE"])
        #expect(inUse.status == 400 && inUse.body.contains("\"storage\"") && inUse.body.contains("VM 940"), "\(inUse.body)")
        #expect(try curl(node, "/api2/json/storage/bt").status == 200)
        let subvolume = fs.mountpoint + "/images/940/vm-940-disk-0", disk = subvolume + "/disk.raw"
        #expect(try runCommand("/usr/bin/btrfs", ["subvolume", "show", subvolume]).status == 0)
        try Self.writeMarker(disk, "before-snapshot")
        #expect(try VMTests.task(node, "POST", "\(path)/qemu/940/snapshot", ["snapname=s1"]) == "OK")
        #expect(try runCommand("/usr/bin/btrfs", ["subvolume", "show", subvolume + "@s1"]).stdout.contains("readonly"))
        try Self.writeMarker(disk, "after--snapshot")
        #expect(try VMTests.task(node, "POST", "\(path)/qemu/940/snapshot/s1/rollback") == "OK")
        #expect(Self.marker(disk, 15) == "before-snapshot")
        #expect(try VMTests.task(node, "DELETE", "\(path)/qemu/940/snapshot/s1") == "OK")
        #expect(!FileManager.default.fileExists(atPath: subvolume + "@s1"))

        // a template's base subvolume, and a linked clone sharing it (a writable snapshot)
        #expect(try VMTests.task(node, "POST", "\(path)/qemu/940/template") == "OK")
        #expect((config("qemu", 940)["scsi0"] as? String)?.hasPrefix("bt:940/base-940-disk-0.raw") == true, "\(config("qemu", 940))")
        #expect(try VMTests.task(node, "POST", "\(path)/qemu/940/clone", ["newid=941", "full=0"]) == "OK")
        let cloned = config("qemu", 941)["scsi0"] as? String ?? ""
        #expect(cloned.hasPrefix("bt:940/base-940-disk-0.raw/941/vm-941-disk-0.raw"), "\(cloned)")
        let cloneDisk = fs.mountpoint + "/images/941/vm-941-disk-0/disk.raw"
        #expect(Self.marker(cloneDisk, 15) == "before-snapshot")
        try Self.writeMarker(cloneDisk, "the-clone-wrote")
        #expect(Self.marker(fs.mountpoint + "/images/940/base-940-disk-0/disk.raw", 15) == "before-snapshot")
        let listed = VMTests.json(try curl(node, "\(api)/storage/bt/content").body)["data"] as? [[String: Any]] ?? []
        #expect(Set(listed.compactMap { $0["volid"] as? String }) == ["bt:940/base-940-disk-0.raw", "bt:941/vm-941-disk-0.raw"], "\(listed)")
        #expect(try VMTests.task(node, "DELETE", "\(path)/qemu/941", ["purge=1"]) == "OK")
        #expect(try VMTests.task(node, "DELETE", "\(path)/qemu/940", ["purge=1"]) == "OK")
        #expect(!FileManager.default.fileExists(atPath: fs.mountpoint + "/images/940"))

        // a container's root file system is a subvolume (sized, as PVE makes it); snapshot and rollback
        let template = "busybox-1.35-corral_1.0-1_amd64.tar.gz"
        #expect(try VMTests.task(node, "POST", "\(path)/aplinfo", ["storage=local", "template=\(template)"]) == "OK")
        #expect(try VMTests.task(node, "POST", "\(path)/lxc", ["vmid=942", "ostemplate=local:vztmpl/\(template)", "rootfs=bt:1"]) == "OK")
        let rootfs = config("lxc", 942)["rootfs"] as? String ?? ""
        #expect(rootfs.hasPrefix("bt:942/subvol-942-disk-0.subvol") && rootfs.contains("size=1G"), "\(rootfs)")
        let root = fs.mountpoint + "/images/942/subvol-942-disk-0"
        #expect(FileManager.default.fileExists(atPath: root + "/bin/busybox"))
        #expect(try VMTests.task(node, "POST", "\(path)/lxc/942/snapshot", ["snapname=clean"]) == "OK")
        #expect(FileManager.default.createFile(atPath: root + "/etc/added-later", contents: Data("x".utf8)))
        #expect(try VMTests.task(node, "POST", "\(path)/lxc/942/snapshot/clean/rollback") == "OK")
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/added-later"))
        #expect(FileManager.default.fileExists(atPath: root + "/bin/busybox"))
        // a snapshot-mode backup of the running container: a btrfs snapshot cut while it is frozen,
        // archived, then removed; the container runs on
        #expect(FileManager.default.createFile(atPath: root + "/etc/backed-up", contents: Data("y".utf8)))
        #expect(try VMTests.task(node, "POST", "\(path)/lxc/942/status/start") == "OK")
        #expect(try VMTests.task(node, "POST", "\(path)/vzdump", ["vmid=942", "storage=local", "mode=snapshot", "exclude-path=/etc/motd"]) == "OK")
        let snapshotLog = try GuestAgentTests.lastTaskLog(node, type: "vzdump")
        #expect(
            snapshotLog.contains("create storage snapshot 'vzdump'") && snapshotLog.contains("cleanup temporary 'vzdump' snapshot"), "\(snapshotLog)")
        #expect(!FileManager.default.fileExists(atPath: root + "@vzdump"))
        let state = VMTests.json(try curl(node, "\(api)/lxc/942/status/current").body)["data"] as? [String: Any] ?? [:]
        #expect(state["status"] as? String == "running", "\(state)")
        let dump = node.dataDirectory + "/vz/dump/"
        let archive = try #require(
            ((try? FileManager.default.contentsOfDirectory(atPath: dump)) ?? []).first { $0.hasPrefix("vzdump-lxc-942-") && $0.hasSuffix(".tar") })
        let members = try runCommand("/usr/bin/tar", ["-tf", dump + archive]).stdout.split(separator: "\n")
        #expect(
            members.contains("./etc/backed-up") && members.contains("./bin/busybox") && !members.contains("./etc/motd"), "\(members.count) members")
        #expect(try VMTests.task(node, "POST", "\(path)/lxc/942/status/stop") == "OK")
        // restored onto another storage: the btrfs container comes back as a directory on local
        #expect(
            try VMTests.task(
                node, "POST", "\(path)/lxc", ["vmid=943", "ostemplate=local:backup/\(archive)", "restore=1", "storage=local"]) == "OK")
        #expect((config("lxc", 943)["rootfs"] as? String)?.hasPrefix("local:943/") == true, "\(config("lxc", 943))")
        // its 1 GiB root is an ext4 image on a directory storage
        let image = node.dataDirectory + "/vz/images/943/vm-943-disk-0.raw"
        let backedUp = try runCommand("/sbin/debugfs", ["-R", "cat /etc/backed-up", image])
        #expect(backedUp.stdout == "y", "\(backedUp.stdout)\(backedUp.stderr)")
        #expect(try VMTests.task(node, "DELETE", "\(path)/lxc/943", ["purge=1"]) == "OK")
        #expect(try VMTests.task(node, "DELETE", "\(path)/lxc/942", ["purge=1"]) == "OK")
        #expect(!FileManager.default.fileExists(atPath: root) && !FileManager.default.fileExists(atPath: root + "@clean"))

        // a running guest writes to its disk while the disk is mirrored from dir onto btrfs: every
        // write, before, during and after the switch, is on the copy
        let iso = try VMTests.prepare()
        try FileManager.default.createDirectory(atPath: node.dataDirectory + "/vz/template/iso", withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: node.dataDirectory + "/vz/template/iso/tiny.iso")
        try FileManager.default.copyItem(atPath: iso, toPath: node.dataDirectory + "/vz/template/iso/tiny.iso")
        #expect(
            try VMTests.task(
                node, "POST", "\(path)/qemu",
                [
                    "vmid=943", "memory=256", "kvm=0", "scsihw=virtio-scsi-pci", "scsi0=local:0.0625", "ide2=local:iso/tiny.iso,media=cdrom",
                    "boot=order=ide2", "serial0=socket",
                ]) == "OK")
        let source = node.dataDirectory + "/vz/images/943/vm-943-disk-0.raw"
        try Self.writeMarker(source, "CORRAL-WRITE-ME!")
        #expect(try VMTests.task(node, "POST", "\(path)/qemu/943/status/start") == "OK")
        let serialLog = node.dataDirectory + "/log/943.serial0.log"
        func serial() -> String { (try? String(contentsOfFile: serialLog, encoding: .isoLatin1)) ?? "" }
        var started = false
        for _ in 0..<1200 where !started {
            started = serial().contains("CORRAL-WRITER-STARTED")
            if !started { usleep(100_000) }
        }
        #expect(started, "the guest never started writing: \(serial().suffix(300))")
        #expect(try VMTests.task(node, "POST", "\(path)/qemu/943/move_disk", ["disk=scsi0", "storage=bt", "delete=1"]) == "OK")
        #expect(!serial().contains("CORRAL-WRITER-DONE"), "the guest finished writing before the move did: nothing was written during it")
        #expect((config("qemu", 943)["scsi0"] as? String)?.hasPrefix("bt:943/vm-943-disk-0.raw") == true, "\(config("qemu", 943))")
        var done = false
        for _ in 0..<600 where !done {
            done = serial().contains("CORRAL-WRITER-DONE")
            if !done { usleep(100_000) }
        }
        #expect(done)
        #expect(try VMTests.task(node, "POST", "\(path)/qemu/943/status/stop") == "OK")
        let moved = try #require(FileHandle(forReadingAtPath: fs.mountpoint + "/images/943/vm-943-disk-0/disk.raw"))
        let bytes = moved.readData(ofLength: 257 * 4096)
        try moved.close()
        let lost = (1...256).filter { k in
            let block = bytes.subdata(in: (k * 4096)..<(k * 4096 + 20))
            return !String(decoding: block, as: UTF8.self).hasPrefix("CORRAL-BLOCK-\(k)\n")
        }
        #expect(lost.isEmpty, "blocks not on the copy: \(lost)")
        #expect(!FileManager.default.fileExists(atPath: source))
        #expect(try VMTests.task(node, "DELETE", "\(path)/qemu/943", ["purge=1"]) == "OK")
        #expect(try curl(node, "/api2/json/storage/bt", ["-X", "DELETE"]).status == 200)
    }
}

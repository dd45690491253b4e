import Foundation
import Glibc
import TestSupport
import Testing

/// Storages added, changed and removed through the API and `pvesm` on a real node: each type takes
/// only its own options and content, a storage that cannot be activated is not written, and bad
/// input changes nothing.
@Suite(.serialized) struct StorageConfigTests {
    /// One of the CLIs as root on the node.
    static func tool(_ name: String, _ node: NodeProcess, _ arguments: [String]) throws -> CommandResult {
        try runCommand(
            NodeProcess.buildDirectory + "/corral", [name] + arguments,
            environment: ["CORRAL_DATA_DIR": node.dataDirectory, "CORRAL_NODENAME": node.nodeName, "CORRAL_CONFIG": "/dev/null"])
    }

    static func qm(_ node: NodeProcess, _ arguments: [String]) throws -> CommandResult { try tool("qm", node, arguments) }
    static func pvesm(_ node: NodeProcess, _ arguments: [String]) throws -> CommandResult { try tool("pvesm", node, arguments) }

    @Test func storagesAreAddedChangedAndRemovedPerType() throws {
        let node = try NodeProcess(name: "stc", extraArguments: ["--local"])
        defer { _ = node.terminate() }
        let cfg = node.mountpoint + "/storage.cfg"
        func storageCfg() -> String { (try? String(contentsOfFile: cfg, encoding: .utf8)) ?? "" }

        // a directory storage: its path is made, its options land in storage.cfg
        let extra = node.dataDirectory + "/extra"
        let add = try curl(node, "/api2/json/storage", ["-d", "storage=extra", "-d", "type=dir", "-d", "path=\(extra)", "-d", "content=iso,backup"])
        #expect(add.status == 200, "\(add.body)")
        let added = VMTests.json(add.body)["data"] as? [String: Any]
        #expect(added?["storage"] as? String == "extra" && added?["type"] as? String == "dir")
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: extra, isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(storageCfg().contains("dir: extra\n\tcontent backup,iso\n\tpath \(extra)\n"), "\(storageCfg())")
        let one = VMTests.json(try curl(node, "/api2/json/storage/extra").body)["data"] as? [String: Any]
        #expect(one?["path"] as? String == extra && one?["content"] as? String == "backup,iso")

        // bad input is refused by parameter and leaves storage.cfg as it was
        let before = storageCfg()
        let cases: [([String], Int, String)] = [
            (["storage=extra", "type=dir", "path=/tmp/x"], 500, "already defined"),
            (["storage=g1", "type=glusterfs", "server=x", "volume=v"], 400, "\"type\""),
            (["storage=z1", "type=zfspool", "pool=corralnosuchpool"], 500, "pool 'corralnosuchpool' not found"),
            (["storage=v1", "type=dir", "path=/tmp/v1", "vgname=vg0"], 400, "\"vgname\""),
            (["storage=t1", "type=lvmthin", "vgname=vg0", "thinpool=data", "content=iso"], 400, "\"content\""),
            (["storage=p1", "type=dir", "path=\(node.dataDirectory)/missing", "create-base-path=0"], 500, "does not exist"),
            (["storage=1bad", "type=dir", "path=/tmp/b"], 400, "\"storage\""),
            (["storage=t2", "type=lvmthin", "vgname=corralnosuchvg", "thinpool=data"], 500, "volume group 'corralnosuchvg' not found"),
        ]
        for (form, status, text) in cases {
            let r = try curl(node, "/api2/json/storage", form.flatMap { ["-d", $0] })
            #expect(r.status == status && r.body.contains(text), "\(form): \(r.status) \(r.body)")
        }
        #expect(storageCfg() == before)
        #expect(!FileManager.default.fileExists(atPath: node.dataDirectory + "/missing"))

        // changes: options set and deleted; the path is fixed; a stale digest is refused
        let set = try curl(node, "/api2/json/storage/extra", ["-X", "PUT", "-d", "content=iso,vztmpl,snippets", "-d", "prune-backups=keep-last=3"])
        #expect(set.status == 200, "\(set.body)")
        #expect(storageCfg().contains("\tcontent iso,snippets,vztmpl\n") && storageCfg().contains("\tprune-backups keep-last=3\n"), "\(storageCfg())")
        // a path is given once, at creation (PVE's update has no such parameter)
        let fixed = try curl(node, "/api2/json/storage/extra", ["-X", "PUT", "-d", "path=/elsewhere"])
        #expect(fixed.status == 400 && fixed.body.contains("\"path\""), "\(fixed.body)")
        let badRetention = try curl(node, "/api2/json/storage/extra", ["-X", "PUT", "-d", "prune-backups=keep-forever=1"])
        #expect(badRetention.status == 400 && badRetention.body.contains("prune-backups"), "\(badRetention.body)")
        let stale = try curl(
            node, "/api2/json/storage/extra", ["-X", "PUT", "-d", "disable=1", "-d", "digest=0000000000000000000000000000000000000000"])
        #expect(stale.status == 500 && stale.body.contains("modified"), "\(stale.body)")
        // options with hyphens can be deleted; an option given empty is removed, not written as a flag
        let unprune = try curl(node, "/api2/json/storage/extra", ["-X", "PUT", "-d", "delete=prune-backups"])
        #expect(unprune.status == 200 && !storageCfg().contains("prune-backups"), "\(unprune.body) \(storageCfg())")
        #expect(try curl(node, "/api2/json/storage/extra", ["-X", "PUT", "-d", "nodes=stc"]).status == 200)
        #expect(try curl(node, "/api2/json/storage/extra", ["-X", "PUT", "-d", "nodes="]).status == 200)
        #expect(!storageCfg().contains("\tnodes"), "\(storageCfg())")
        #expect(try curl(node, "/api2/json/storage/extra", ["-X", "PUT", "-d", "nodes=stc"]).status == 200)
        #expect(storageCfg().contains("\tnodes stc\n"))
        let unrestrict = try curl(node, "/api2/json/storage/extra", ["-X", "PUT", "-d", "delete=nodes"])
        #expect(unrestrict.status == 200 && !storageCfg().contains("nodes stc"), "\(unrestrict.body) \(storageCfg())")
        let listed = VMTests.json(try curl(node, "/api2/json/nodes/stc/storage").body)["data"] as? [[String: Any]] ?? []
        #expect(listed.contains { $0["storage"] as? String == "extra" && $0["active"] as? Int == 1 }, "\(listed)")

        // scanning: the node's volume groups (vgs answers even with none); a tool the node lacks is named
        let scan = VMTests.json(try curl(node, "/api2/json/nodes/stc/scan").body)["data"] as? [[String: Any]] ?? []
        #expect(scan.compactMap { $0["method"] as? String } == ["cifs", "iscsi", "lvm", "lvmthin", "nfs", "zfs"])
        let vgs = try curl(node, "/api2/json/nodes/stc/scan/lvm")
        #expect(vgs.status == 200 && VMTests.json(vgs.body)["data"] is [Any], "\(vgs.body)")
        let zfs = try curl(node, "/api2/json/nodes/stc/scan/zfs")
        if access("/sbin/zfs", X_OK) != 0 && access("/usr/sbin/zfs", X_OK) != 0 {
            #expect(zfs.status == 500 && zfs.body.contains("zfsutils-linux"), "\(zfs.body)")
        }

        // the same through pvesm
        let cli = node.dataDirectory + "/cli"
        let pvesmAdd = try Self.pvesm(node, ["add", "dir", "cli1", "--path", cli, "--content", "images"])
        #expect(pvesmAdd.status == 0, "\(pvesmAdd.stdout)\(pvesmAdd.stderr)")
        // a volume's path, and freeing it
        let alloc = try Self.pvesm(node, ["alloc", "extra", "950", "vm-950-disk-0.raw", "4M"])
        if alloc.status == 0 {
            let path = try Self.pvesm(node, ["path", "extra:950/vm-950-disk-0.raw"])
            #expect(path.status == 0 && path.stdout == extra + "/images/950/vm-950-disk-0.raw\n", "\(path.stdout)\(path.stderr)")
            #expect(try Self.pvesm(node, ["free", "extra:950/vm-950-disk-0.raw"]).status == 0)
            #expect(!FileManager.default.fileExists(atPath: extra + "/images/950/vm-950-disk-0.raw"))
        } else {
            // images are not content of this storage (yet): refused by name
            #expect(alloc.stderr.contains("images") || alloc.stderr.contains("content"), "\(alloc.stdout)\(alloc.stderr)")
        }
        let scanned = try Self.pvesm(node, ["scan", "lvm"])
        #expect(scanned.status == 0, "\(scanned.stdout)\(scanned.stderr)")
        let status = try Self.pvesm(node, ["status"])
        #expect(status.status == 0 && status.stdout.contains("cli1"), "\(status.stdout)\(status.stderr)")
        #expect(try Self.pvesm(node, ["set", "cli1", "--disable", "1"]).status == 0)
        #expect(storageCfg().contains("dir: cli1\n\tcontent images\n\tpath \(cli)\n\tdisable 1\n"), "\(storageCfg())")
        #expect(try Self.pvesm(node, ["remove", "cli1"]).status == 0)
        let gone = try Self.pvesm(node, ["remove", "cli1"])
        #expect(gone.status != 0 && gone.stderr.contains("does not exist"), "\(gone.stderr)")

        #expect(try curl(node, "/api2/json/storage/extra", ["-X", "DELETE"]).status == 200)
        #expect(!storageCfg().contains("extra") && FileManager.default.fileExists(atPath: extra))
    }
}

extension StorageConfigTests {
    /// A stopped VM's disk moved between two directory storages: kept as unusedN, then moved back
    /// as qcow2 with the source deleted; bad requests change nothing.
    @Test func aStoppedVMsDiskMovesBetweenStorages() throws {
        let node = try NodeProcess(name: "stm", extraArguments: ["--local", "--set", "domain-prefix=corral-test-stm-"])
        defer { _ = node.terminate() }
        let second = node.dataDirectory + "/second"
        #expect(
            try curl(node, "/api2/json/storage", ["-d", "storage=second", "-d", "type=dir", "-d", "path=\(second)", "-d", "content=images"]).status
                == 200)
        #expect(try VMTests.task(node, "POST", "/nodes/stm/qemu", ["vmid=910", "memory=64", "scsi0=local:1"]) == "OK")
        func config() -> [String: Any] {
            VMTests.json((try? curl(node, "/api2/json/nodes/stm/qemu/910/config").body) ?? "")["data"] as? [String: Any] ?? [:]
        }
        let before = config()
        #expect((before["scsi0"] as? String)?.hasPrefix("local:910/vm-910-disk-0.raw") == true, "\(before)")

        // refused, and nothing changes
        for (form, text) in [
            (["disk=scsi5", "storage=second"], "\"disk\""), (["disk=scsi0", "storage=local"], "already on storage"),
            (["disk=scsi0", "storage=second", "target-vmid=911"], "\"target-vmid\""), (["disk=scsi0", "storage=nosuch"], "does not exist"),
        ] {
            let r = try curl(node, "/api2/json/nodes/stm/qemu/910/move_disk", form.flatMap { ["-d", $0] })
            var body = r.body
            if let upid = VMTests.json(r.body)["data"] as? String {
                // refused inside its task: the task ends with the reason
                let deadline = Date().addingTimeInterval(30)
                while Date() < deadline,
                    (VMTests.json(try curl(node, "/api2/json/nodes/stm/tasks/\(upid)/status").body)["data"] as? [String: Any])?["status"] as? String
                        != "stopped"
                {
                    usleep(100_000)
                }
                body = try curl(node, "/api2/json/nodes/stm/tasks/\(upid)/log").body
            }
            #expect(body.contains(text), "\(form): \(r.status) \(body)")
        }
        #expect(NSDictionary(dictionary: config()) == NSDictionary(dictionary: before))

        // moved, the source kept as unused0
        #expect(try VMTests.task(node, "POST", "/nodes/stm/qemu/910/move_disk", ["disk=scsi0", "storage=second"]) == "OK")
        var moved = config()
        #expect((moved["scsi0"] as? String)?.hasPrefix("second:910/vm-910-disk-0.raw") == true, "\(moved)")
        #expect(moved["unused0"] as? String == "local:910/vm-910-disk-0.raw", "\(moved)")
        #expect(FileManager.default.fileExists(atPath: second + "/images/910/vm-910-disk-0.raw"))
        #expect(FileManager.default.fileExists(atPath: node.dataDirectory + "/vz/images/910/vm-910-disk-0.raw"))

        // moved back as qcow2, the source deleted (a new name: the old one is still taken by unused0)
        #expect(try VMTests.task(node, "POST", "/nodes/stm/qemu/910/move_disk", ["disk=scsi0", "storage=local", "format=qcow2", "delete=1"]) == "OK")
        moved = config()
        #expect((moved["scsi0"] as? String)?.hasPrefix("local:910/vm-910-disk-1.qcow2") == true, "\(moved)")
        #expect(!FileManager.default.fileExists(atPath: second + "/images/910/vm-910-disk-0.raw"))
        let info = try runCommand("/usr/bin/qemu-img", ["info", "--output=json", node.dataDirectory + "/vz/images/910/vm-910-disk-1.qcow2"])
        #expect(info.stdout.contains("\"format\": \"qcow2\"") && info.stdout.contains("\"virtual-size\": 1073741824"), "\(info.stdout)")

        // while it runs: mirrored and switched by libvirt, the guest on the copy
        #expect(try VMTests.task(node, "POST", "/nodes/stm/qemu/910/status/start") == "OK")
        #expect(try VMTests.task(node, "POST", "/nodes/stm/qemu/910/move_disk", ["disk=scsi0", "storage=second", "delete=1"]) == "OK")
        moved = config()
        #expect((moved["scsi0"] as? String)?.hasPrefix("second:910/vm-910-disk-") == true, "\(moved)")
        let xml = try runCommand("/usr/bin/virsh", ["-c", "qemu:///system", "dumpxml", "corral-test-stm-910"])
        #expect(xml.stdout.contains(second + "/images/910/") && !xml.stdout.contains("vm-910-disk-1.qcow2"), "\(xml.stdout)")
        #expect(
            VMTests.json(try curl(node, "/api2/json/nodes/stm/qemu/910/status/current").body)["data"].map {
                ($0 as? [String: Any])?["status"] as? String
            } == "running")
        #expect(!FileManager.default.fileExists(atPath: node.dataDirectory + "/vz/images/910/vm-910-disk-1.qcow2"))
        #expect(try VMTests.task(node, "POST", "/nodes/stm/qemu/910/status/stop") == "OK")
        #expect(try VMTests.task(node, "DELETE", "/nodes/stm/qemu/910", ["purge=1"]) == "OK")
    }

    /// A stopped container's root file system moved to another storage, and a running one refused.
    @Test func aStoppedContainersVolumeMoves() throws {
        let node = try NodeProcess(name: "stv", extraArguments: ["--local"])
        defer { _ = node.terminate() }
        let second = node.dataDirectory + "/second"
        #expect(
            try curl(node, "/api2/json/storage", ["-d", "storage=second", "-d", "type=dir", "-d", "path=\(second)", "-d", "content=rootdir,images"])
                .status == 200)
        let template = "busybox-1.35-corral_1.0-1_amd64.tar.gz"
        #expect(try VMTests.task(node, "POST", "/nodes/stv/aplinfo", ["storage=local", "template=\(template)"]) == "OK")
        #expect(try VMTests.task(node, "POST", "/nodes/stv/lxc", ["vmid=920", "ostemplate=local:vztmpl/\(template)", "rootfs=local:0.1"]) == "OK")
        func config() -> [String: Any] {
            VMTests.json((try? curl(node, "/api2/json/nodes/stv/lxc/920/config").body) ?? "")["data"] as? [String: Any] ?? [:]
        }
        let old = try #require(config()["rootfs"] as? String)
        #expect(old.hasPrefix("local:920/vm-920-disk-0.raw"), "\(old)")
        let missing = try curl(node, "/api2/json/nodes/stv/lxc/920/move_volume", ["-d", "volume=mp3", "-d", "storage=second"])
        #expect(missing.status == 400 && missing.body.contains("\"volume\""), "\(missing.body)")
        #expect(try VMTests.task(node, "POST", "/nodes/stv/lxc/920/move_volume", ["volume=rootfs", "storage=second", "delete=1"]) == "OK")
        let moved = try #require(config()["rootfs"] as? String)
        // the volume changes, its options stay
        #expect(
            moved.hasPrefix("second:920/vm-920-disk-0.raw") && moved.dropFirst("second".count) == old.dropFirst("local".count), "\(old) → \(moved)")
        #expect(FileManager.default.fileExists(atPath: second + "/images/920/vm-920-disk-0.raw"))
        #expect(!FileManager.default.fileExists(atPath: node.dataDirectory + "/vz/images/920/vm-920-disk-0.raw"))
        // the moved file system is whole: the container's files are on it
        let check = try runCommand("/sbin/e2fsck", ["-fn", second + "/images/920/vm-920-disk-0.raw"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(try VMTests.task(node, "DELETE", "/nodes/stv/lxc/920", ["purge=1"]) == "OK")
    }

    /// ISO images downloaded from a local HTTP server: a good checksum stores the file, a bad one
    /// leaves nothing behind; a compressed image is unpacked; the metadata query names the file.
    @Test func imagesAreDownloadedFromAURLWithTheirChecksumChecked() throws {
        let node = try NodeProcess(name: "std", extraArguments: ["--local"])
        defer { _ = node.terminate() }
        let served = node.dataDirectory + "/served"
        try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
        let bytes = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try bytes.write(to: URL(fileURLWithPath: served + "/tiny.iso"))
        #expect(try runCommand("/usr/bin/zstd", ["-q", "-k", served + "/tiny.iso", "-o", served + "/packed.iso.zst"]).status == 0)
        let sha = try runCommand("/usr/bin/sha256sum", [served + "/tiny.iso"]).stdout.split(separator: " ").first.map(String.init) ?? ""
        let port = 18000 + Int(getpid() % 1000)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = ["-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", served]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        let base = "http://127.0.0.1:\(port)"
        var meta: [String: Any] = [:]
        for _ in 0..<50 {
            meta =
                VMTests.json((try? curl(node, "/api2/json/nodes/std/query-url-metadata?url=\(base)/tiny.iso").body) ?? "")["data"] as? [String: Any]
                ?? [:]
            if !meta.isEmpty { break }
            usleep(100_000)
        }
        #expect(meta["filename"] as? String == "tiny.iso" && meta["size"] as? Int == bytes.count, "\(meta)")
        let iso = node.dataDirectory + "/vz/template/iso/"

        // a wrong checksum: the task fails and no file (not even a partial one) is left
        let wrong = try VMTests.task(
            node, "POST", "/nodes/std/storage/local/download-url",
            ["url=\(base)/tiny.iso", "content=iso", "filename=bad.iso", "checksum=\(String(repeating: "0", count: 64))", "checksum-algorithm=sha256"])
        #expect(wrong.contains("checksum mismatch"), "\(wrong)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: iso)) ?? []).isEmpty)
        // refused before a task: a name of the wrong kind, an unknown algorithm, a URL that is not http(s)
        for (form, parameter) in [
            (["url=\(base)/tiny.iso", "content=iso", "filename=x.exe"], "filename"),
            (["url=\(base)/tiny.iso", "content=iso", "filename=x.iso", "checksum=1", "checksum-algorithm=crc"], "checksum-algorithm"),
            (["url=file:///etc/passwd", "content=iso", "filename=x.iso"], "url"),
        ] {
            let r = try curl(node, "/api2/json/nodes/std/storage/local/download-url", form.flatMap { ["-d", $0] })
            #expect(r.status == 400 && r.body.contains("\"\(parameter)\""), "\(form): \(r.status) \(r.body)")
        }
        // the right checksum, and a compressed image unpacked on the way
        #expect(
            try VMTests.task(
                node, "POST", "/nodes/std/storage/local/download-url",
                ["url=\(base)/tiny.iso", "content=iso", "filename=tiny.iso", "checksum=\(sha)", "checksum-algorithm=sha256"]) == "OK")
        #expect(FileManager.default.contents(atPath: iso + "tiny.iso") == bytes)
        #expect(
            try VMTests.task(
                node, "POST", "/nodes/std/storage/local/download-url",
                ["url=\(base)/packed.iso.zst", "content=iso", "filename=packed.iso.zst", "compression=zst"]) == "OK")
        #expect(FileManager.default.contents(atPath: iso + "packed.iso") == bytes)
        // an existing name is refused
        let again = try curl(
            node, "/api2/json/nodes/std/storage/local/download-url", ["-d", "url=\(base)/tiny.iso", "-d", "content=iso", "-d", "filename=tiny.iso"])
        #expect(again.status == 400 && again.body.contains("already exists"), "\(again.body)")
        let listed = VMTests.json(try curl(node, "/api2/json/nodes/std/storage/local/content?content=iso").body)["data"] as? [[String: Any]] ?? []
        #expect(Set(listed.compactMap { $0["volid"] as? String }) == ["local:iso/tiny.iso", "local:iso/packed.iso"], "\(listed)")
    }

    /// Disks imported at create and at a config change (`import-from`): qcow2 and vmdk sources become
    /// volumes of the target storage with the same contents; host paths are root's, bad sources refused.
    @Test func disksAreImportedFromImagesAndVolumes() throws {
        let node = try NodeProcess(name: "sti", extraArguments: ["--local"])
        defer { _ = node.terminate() }
        let imports = node.dataDirectory + "/vz/import"
        try FileManager.default.createDirectory(atPath: imports, withIntermediateDirectories: true)
        let qcow2 = imports + "/disk.qcow2", vmdk = imports + "/disk.vmdk"
        #expect(try runCommand("/usr/bin/qemu-img", ["create", "-q", "-f", "qcow2", qcow2, "48M"]).status == 0)
        #expect(try runCommand("/usr/bin/qemu-io", ["-c", "write -P 0x5a 1M 2M", qcow2]).status == 0)
        #expect(try runCommand("/usr/bin/qemu-img", ["convert", "-O", "vmdk", qcow2, vmdk]).status == 0)
        #expect(try curl(node, "/api2/json/storage/local", ["-X", "PUT", "-d", "content=images,rootdir,iso,vztmpl,import"]).status == 200)
        func config() -> [String: Any] {
            VMTests.json((try? curl(node, "/api2/json/nodes/sti/qemu/960/config").body) ?? "")["data"] as? [String: Any] ?? [:]
        }

        // refused before anything is made: a host path (root's only), a missing source, a sized target
        let hostPath = try curl(node, "/api2/json/nodes/sti/qemu", ["-d", "vmid=960", "--data-urlencode", "scsi0=local:0,import-from=\(qcow2)"])
        #expect(hostPath.status == 403 && hostPath.body.contains("absolute path"), "\(hostPath.body)")
        let missing = try curl(
            node, "/api2/json/nodes/sti/qemu", ["-d", "vmid=960", "--data-urlencode", "scsi0=local:0,import-from=local:import/none.qcow2"])
        #expect(missing.status == 400 && missing.body.contains("\"scsi0\"") && missing.body.contains("does not exist"), "\(missing.body)")
        let sized = try curl(
            node, "/api2/json/nodes/sti/qemu", ["-d", "vmid=960", "--data-urlencode", "scsi0=local:4,import-from=local:import/disk.qcow2"])
        #expect(sized.status == 400 && sized.body.contains("STORAGE:0"), "\(sized.body)")
        #expect(try curl(node, "/api2/json/nodes/sti/qemu/960/config").status != 200)

        // at create: the qcow2 image becomes a raw volume with the same contents
        #expect(
            try VMTests.task(node, "POST", "/nodes/sti/qemu", ["vmid=960", "memory=64", "scsi0=local:0,import-from=local:import/disk.qcow2"]) == "OK")
        let scsi0 = config()["scsi0"] as? String ?? ""
        #expect(scsi0.hasPrefix("local:960/vm-960-disk-0.raw") && scsi0.contains("size=48M") && !scsi0.contains("import-from"), "\(scsi0)")
        let raw = node.dataDirectory + "/vz/images/960/vm-960-disk-0.raw"
        let same = try runCommand("/usr/bin/qemu-img", ["compare", "-f", "qcow2", "-F", "raw", qcow2, raw])
        #expect(same.status == 0, "\(same.stdout)\(same.stderr)")
        // at a config change: the vmdk, kept as qcow2
        #expect(
            try VMTests.task(node, "POST", "/nodes/sti/qemu/960/config", ["scsi1=local:0,import-from=local:import/disk.vmdk,format=qcow2"]) == "OK")
        let scsi1 = config()["scsi1"] as? String ?? ""
        #expect(scsi1.hasPrefix("local:960/vm-960-disk-1.qcow2"), "\(scsi1)")
        let again = try runCommand("/usr/bin/qemu-img", ["compare", vmdk, node.dataDirectory + "/vz/images/960/vm-960-disk-1.qcow2"])
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        // the sources stay, listed as importable content
        let listed = VMTests.json(try curl(node, "/api2/json/nodes/sti/storage/local/content?content=import").body)["data"] as? [[String: Any]] ?? []
        #expect(Set(listed.compactMap { $0["volid"] as? String }) == ["local:import/disk.qcow2", "local:import/disk.vmdk"], "\(listed)")
        // qm disk import: a host path (qm runs as root) becomes the next unused disk; with a target disk it is attached
        let unused = try Self.qm(node, ["disk", "import", "960", qcow2, "local"])
        #expect(
            unused.status == 0 && unused.stdout.contains("unused0: successfully imported disk 'local:960/vm-960-disk-2.raw'"),
            "\(unused.stdout)\(unused.stderr)")
        let older = try Self.qm(node, ["importdisk", "960", "local:import/disk.vmdk", "local", "--format", "qcow2"])
        #expect(
            older.status == 0 && older.stdout.contains("unused1: successfully imported disk 'local:960/vm-960-disk-3.qcow2'"),
            "\(older.stdout)\(older.stderr)")
        let attached = try Self.qm(node, ["disk", "import", "960", "local:import/disk.qcow2", "local", "--target-disk", "scsi2"])
        #expect(attached.status == 0, "\(attached.stdout)\(attached.stderr)")
        let after = config()
        #expect(
            after["unused0"] as? String == "local:960/vm-960-disk-2.raw"
                && (after["scsi2"] as? String)?.hasPrefix("local:960/vm-960-disk-4.raw") == true, "\(after)")
        let missing2 = try Self.qm(node, ["disk", "import", "960", "/nonexistent.qcow2", "local"])
        #expect(missing2.status != 0 && missing2.stderr.contains("does not exist"), "\(missing2.stderr)")
        #expect(try VMTests.task(node, "DELETE", "/nodes/sti/qemu/960", ["purge=1"]) == "OK")
    }

    /// Backup files on a dir storage: listed with their guest, time, notes and protection; notes and
    /// protection set through the API; a protected backup cannot be deleted; pruning through the API
    /// (dry run, then for real) and `pvesm prune-backups` removes exactly what the setting does not keep.
    @Test func backupsCarryNotesAndProtectionAndArePruned() throws {
        let node = try NodeProcess(name: "stp", extraArguments: ["--local"])
        defer { _ = node.terminate() }
        let dump = node.dataDirectory + "/vz/dump"
        try FileManager.default.createDirectory(atPath: dump, withIntermediateDirectories: true)
        #expect(try curl(node, "/api2/json/storage/local", ["-X", "PUT", "-d", "content=images,rootdir,backup"]).status == 200)
        let days = ["2026_11_28", "2026_11_29", "2026_11_30", "2026_12_01", "2026_12_02", "2026_12_03"]
        for day in days {
            for (kind, ext) in [("qemu-100", "vma.zst"), ("lxc-200", "tar.zst")] {
                #expect(FileManager.default.createFile(atPath: "\(dump)/vzdump-\(kind)-\(day)-01_00_00.\(ext)", contents: Data("x".utf8)))
                #expect(FileManager.default.createFile(atPath: "\(dump)/vzdump-\(kind)-\(day)-01_00_00.log", contents: Data("log".utf8)))
            }
        }
        let oldest = "local:backup/vzdump-qemu-100-2026_11_28-01_00_00.vma.zst"
        let encoded = oldest.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        #expect(
            try curl(
                node, "/api2/json/nodes/stp/storage/local/content/\(encoded)",
                ["-X", "PUT", "--data-urlencode", "notes=first line\nsecond", "-d", "protected=1"]
            ).status == 200)
        let listed =
            VMTests.json(try curl(node, "/api2/json/nodes/stp/storage/local/content?content=backup&vmid=100").body)["data"] as? [[String: Any]] ?? []
        #expect(listed.count == 6, "\(listed)")
        let first = listed.first { $0["volid"] as? String == oldest } ?? [:]
        #expect(first["notes"] as? String == "first line" && first["protected"] as? Int == 1 && first["vmid"] as? Int == 100, "\(first)")
        #expect(
            first["ctime"] as? Int == 1_795_827_600 && first["subtype"] as? String == "qemu" && first["format"] as? String == "vma.zst", "\(first)")
        let one = VMTests.json(try curl(node, "/api2/json/nodes/stp/storage/local/content/\(encoded)").body)["data"] as? [String: Any] ?? [:]
        #expect(one["notes"] as? String == "first line\nsecond" && one["protected"] as? Bool == true, "\(one)")
        let refused = try curl(node, "/api2/json/nodes/stp/storage/local/content/\(encoded)", ["-X", "DELETE"])
        #expect(refused.status == 400 && refused.body.contains("protected"), "\(refused.body)")

        // dry run: keep-last 2 per guest, the protected one aside
        let dry =
            VMTests.json(try curl(node, "/api2/json/nodes/stp/storage/local/prunebackups?prune-backups=keep-last%3D2").body)["data"]
            as? [[String: Any]] ?? []
        let marks = Dictionary(dry.map { ($0["volid"] as? String ?? "", $0["mark"] as? String ?? "") }) { a, _ in a }
        #expect(dry.count == 12 && marks[oldest] == "protected", "\(dry)")
        #expect(marks.values.filter { $0 == "keep" }.count == 4 && marks.values.filter { $0 == "remove" }.count == 7, "\(marks)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dump).count == 26)  // nothing removed: 24 files, the notes and the marker

        // for real, for one guest through the API, for the other through pvesm
        #expect(
            try VMTests.task(node, "DELETE", "/nodes/stp/storage/local/prunebackups", ["prune-backups=keep-last=2", "vmid=100", "type=qemu"]) == "OK")
        let cli = try Self.pvesm(node, ["prune-backups", "local", "--keep-last", "1", "--type", "lxc"])
        #expect(cli.status == 0, "\(cli.stdout)\(cli.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: dump).filter { $0.hasSuffix(".zst") }.sorted()
        #expect(
            left == [
                "vzdump-lxc-200-2026_12_03-01_00_00.tar.zst", "vzdump-qemu-100-2026_11_28-01_00_00.vma.zst",
                "vzdump-qemu-100-2026_12_02-01_00_00.vma.zst", "vzdump-qemu-100-2026_12_03-01_00_00.vma.zst",
            ], "\(left)")
        // a removed backup's log goes with it
        #expect(try FileManager.default.contentsOfDirectory(atPath: dump).filter { $0.hasSuffix(".log") }.count == 4)
    }

    /// `pvesm export` and `pvesm import`: a volume through a `raw+size` stream into another storage
    /// has the same bytes; a taken name is refused unless renaming is allowed.
    @Test func volumesGoThroughExportAndImportStreams() throws {
        let node = try NodeProcess(name: "ste", extraArguments: ["--local"])
        defer { _ = node.terminate() }
        let second = node.dataDirectory + "/second"
        #expect(
            try curl(node, "/api2/json/storage", ["-d", "storage=second", "-d", "type=dir", "-d", "path=\(second)", "-d", "content=images"]).status
                == 200)
        #expect(try VMTests.task(node, "POST", "/nodes/ste/qemu", ["vmid=970", "memory=64", "scsi0=local:0.03125"]) == "OK")
        let source = node.dataDirectory + "/vz/images/970/vm-970-disk-0.raw"
        #expect(try runCommand("/bin/dd", ["if=/dev/urandom", "of=\(source)", "bs=1M", "count=8", "conv=notrunc"]).status == 0)
        let stream = node.dataDirectory + "/stream"
        let exported = try Self.pvesm(node, ["export", "local:970/vm-970-disk-0.raw", "raw+size", stream])
        #expect(exported.status == 0, "\(exported.stderr)")
        // 8 bytes of length, then the image
        #expect((try FileManager.default.attributesOfItem(atPath: stream)[.size] as? Int) == 8 + 32 * 1_048_576)
        let imported = try Self.pvesm(node, ["import", "second:971/vm-971-disk-0.raw", "raw+size", stream])
        #expect(imported.status == 0 && imported.stdout.contains("second:971/vm-971-disk-0.raw"), "\(imported.stdout)\(imported.stderr)")
        #expect(try runCommand("/usr/bin/cmp", [source, second + "/images/971/vm-971-disk-0.raw"]).status == 0)
        let taken = try Self.pvesm(node, ["import", "second:971/vm-971-disk-0.raw", "raw+size", stream])
        #expect(taken.status != 0 && taken.stderr.contains("already exists"), "\(taken.stderr)")
        let renamed = try Self.pvesm(node, ["import", "second:971/vm-971-disk-0.raw", "raw+size", stream, "--allow-rename", "1"])
        #expect(renamed.status == 0 && renamed.stdout.contains("second:971/vm-971-disk-1.raw"), "\(renamed.stdout)\(renamed.stderr)")
        let wrongFormat = try Self.pvesm(node, ["export", "local:970/vm-970-disk-0.raw", "qcow2+size", stream])
        #expect(wrongFormat.status != 0 && wrongFormat.stderr.contains("cannot be exported"), "\(wrongFormat.stderr)")
        #expect(try VMTests.task(node, "DELETE", "/nodes/ste/qemu/970", ["purge=1"]) == "OK")
    }

    /// Network file storages on a node that cannot mount them (these machines have no NFS or CIFS
    /// client in the kernel): refused with the reason, and neither the section nor the secret is kept.
    @Test func networkSharesThatCannotBeMountedAreNotAdded() throws {
        let node = try NodeProcess(name: "stn", extraArguments: ["--local"])
        defer { _ = node.terminate() }
        let before = (try? String(contentsOfFile: node.mountpoint + "/storage.cfg", encoding: .utf8)) ?? ""
        for form in [
            ["storage=nas", "type=nfs", "server=127.0.0.1", "export=/srv/corral", "path=\(node.dataDirectory)/nfs"],
            ["storage=smb", "type=cifs", "server=127.0.0.1", "share=vms", "username=corral", "password=s3cret", "path=\(node.dataDirectory)/smb"],
        ] {
            let r = try curl(node, "/api2/json/storage", form.flatMap { ["--data-urlencode", $0] })
            #expect(r.status == 500 && r.body.contains("unable to activate storage"), "\(form): \(r.status) \(r.body)")
        }
        #expect(((try? String(contentsOfFile: node.mountpoint + "/storage.cfg", encoding: .utf8)) ?? "") == before)
        #expect(!FileManager.default.fileExists(atPath: node.mountpoint + "/priv/storage/smb.pw"))
        // an option of another type is refused by name
        let wrong = try curl(
            node, "/api2/json/storage", ["-d", "storage=nas", "-d", "type=nfs", "-d", "server=x", "-d", "export=/e", "-d", "share=vms"])
        #expect(wrong.status == 400 && wrong.body.contains("\"share\""), "\(wrong.body)")
        let filesystems = (try? String(contentsOfFile: "/proc/filesystems", encoding: .utf8)) ?? ""
        if !filesystems.contains("\tnfs\n") { print("StorageConfigTests: no real NFS mount tested: this kernel has no NFS client") }
    }

    /// An LVM storage on a real volume group (a loop device): added once the group exists, its size
    /// reported; a missing group is named. Logical volumes cannot be activated without device-mapper,
    /// which these machines lack: an allocation fails with LVM's reason and leaves nothing.
    @Test func lvmStoragesNeedTheirVolumeGroup() throws {
        let node = try NodeProcess(name: "stl", extraArguments: ["--local"])
        defer { _ = node.terminate() }
        let missing = try curl(node, "/api2/json/storage", ["-d", "storage=san", "-d", "type=lvm", "-d", "vgname=corralnosuchvg"])
        #expect(missing.status == 500 && missing.body.contains("volume group 'corralnosuchvg' not found"), "\(missing.body)")
        let image = node.dataDirectory + "/pv.img", vg = "corraltest\(getpid())"
        #expect(try runCommand("/usr/bin/truncate", ["-s", "64M", image]).status == 0)
        let loop = try runCommand("/sbin/losetup", ["--find", "--show", image]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(loop.hasPrefix("/dev/loop"))
        defer {
            _ = try? runCommand("/sbin/vgremove", ["-q", "-f", vg])
            _ = try? runCommand("/sbin/pvremove", ["-q", loop])
            _ = try? runCommand("/sbin/losetup", ["-d", loop])
        }
        #expect(try runCommand("/sbin/pvcreate", ["-q", loop]).status == 0)
        #expect(try runCommand("/sbin/vgcreate", ["-q", vg, loop]).status == 0)
        let added = try curl(node, "/api2/json/storage", ["-d", "storage=san", "-d", "type=lvm", "-d", "vgname=\(vg)", "-d", "content=images"])
        #expect(added.status == 200, "\(added.body)")
        let status = VMTests.json(try curl(node, "/api2/json/nodes/stl/storage/san/status").body)["data"] as? [String: Any] ?? [:]
        #expect((status["total"] as? Int ?? 0) > 50 << 20 && status["active"] as? Int == 1, "\(status)")
        let alloc = try curl(node, "/api2/json/nodes/stl/storage/san/content", ["-d", "vmid=100", "-d", "filename=vm-100-disk-0", "-d", "size=8M"])
        if ((try? String(contentsOfFile: "/proc/misc", encoding: .utf8)) ?? "").contains("device-mapper") {
            #expect(alloc.status == 200, "\(alloc.body)")
        } else {
            print("StorageConfigTests: no LVM volume activated: this kernel has no device-mapper")
            #expect(alloc.status == 500 && alloc.body.contains("device-mapper"), "\(alloc.body)")
            let lvs = try runCommand("/sbin/lvs", ["--noheadings", vg])
            #expect(lvs.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(lvs.stdout)")
        }
    }
}

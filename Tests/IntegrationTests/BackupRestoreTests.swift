import Foundation
import Glibc
import TestSupport
import Testing

/// vzdump and restores against real guests: a VM's disks through qemu-nbd (stopped) and libvirt's
/// pull-mode backup (running), back through qemu-nbd into new volumes, compared byte for byte with
/// `qemu-img compare`; a container's tar with its config first; and what fails leaves nothing.
@Suite(.serialized) struct BackupRestoreTests {
    static let prefix = "corral-test-bkp-"

    static func data(_ r: (status: Int, body: String)) -> Any? { VMTests.json(r.body)["data"] }

    static func backups(_ node: NodeProcess) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: node.dataDirectory + "/vz/dump")) ?? []).sorted()
    }

    static func tool(_ node: NodeProcess, _ name: String, _ arguments: [String], timeout: Double = 900) throws -> CommandResult {
        let conf = node.dataDirectory + "/cli.conf"
        try "domain-prefix: \(prefix)\n".write(toFile: conf, atomically: true, encoding: .utf8)
        return try runCommand(
            NodeProcess.buildDirectory + "/corral", [name] + arguments,
            environment: ["CORRAL_DATA_DIR": node.dataDirectory, "CORRAL_NODENAME": node.nodeName, "CORRAL_CONFIG": conf], timeout: timeout)
    }

    static func compare(_ a: String, _ b: String) throws -> CommandResult { try runCommand("/usr/bin/qemu-img", ["compare", "-U", a, b]) }

    @Test func vmsAndContainersGoIntoPVEsArchivesAndComeBack() throws {
        let iso = try VMTests.prepare()
        let node = try NodeProcess(name: "bkp", extraArguments: ["--local", "--set", "domain-prefix=\(Self.prefix)"])
        defer {
            for id in [160, 161, 162] { _ = try? runCommand("/usr/bin/virsh", ["-c", "qemu:///system", "destroy", "\(Self.prefix)\(id)"]) }
            _ = node.terminate()
        }
        try node.loginAsRoot()
        let images = node.dataDirectory + "/vz/images"
        let isoDir = node.dataDirectory + "/vz/template/iso"
        try FileManager.default.createDirectory(atPath: isoDir, withIntermediateDirectories: true)
        try FileManager.default.linkItem(atPath: iso, toPath: isoDir + "/tiny.iso")
        // a disk with data spread over it and long zero stretches (sparse clusters and partial ones)
        let raw = node.dataDirectory + "/source.raw"
        var bytes = Data(count: 24 << 20 + 12288)
        for i in stride(from: 0, to: bytes.count, by: 65_521) { bytes[i] = UInt8(truncatingIfNeeded: i >> 8) | 1 }
        bytes.replaceSubrange(0..<16, with: Data("CORRAL-DATA-DISK".utf8))
        try bytes.write(to: URL(fileURLWithPath: raw))
        #expect(
            try VMTests.task(
                node, "POST", "/nodes/bkp/qemu",
                [
                    "vmid=160", "name=bkp-vm", "memory=256", "kvm=0", "scsihw=virtio-scsi-pci", "scsi0=local:0,import-from=\(raw),format=qcow2",
                    "scsi1=local:0.01,backup=0", "ide2=local:iso/tiny.iso,media=cdrom", "boot=order=ide2", "serial0=socket", "net0=virtio", "agent=1",
                ]) == "OK")
        let disk = images + "/160/vm-160-disk-0.qcow2"

        // a stopped VM: zstd, notes and protection; the excluded disk and the CD-ROM stay out
        #expect(
            try VMTests.task(
                node, "POST", "/nodes/bkp/vzdump",
                ["vmid=160", "storage=local", "compress=zstd", "notes-template={{guestname}} on {{node}} ({{vmid}})", "protected=1"]) == "OK")
        let first = Self.backups(node)
        let archive = try #require(first.first { $0.hasPrefix("vzdump-qemu-160-") && $0.hasSuffix(".vma.zst") }, "\(first)")
        let stem = String(archive.dropLast(".vma.zst".count))
        #expect(first.contains(stem + ".log") && first.contains(archive + ".notes") && first.contains(archive + ".protected"), "\(first)")
        let dump = node.dataDirectory + "/vz/dump/"
        #expect((try? String(contentsOfFile: dump + archive + ".notes", encoding: .utf8)) == "bkp-vm on bkp (160)")
        let logFile = (try? String(contentsOfFile: dump + stem + ".log", encoding: .utf8)) ?? ""
        #expect(logFile.contains("INFO: Starting Backup of VM 160 (qemu)") && logFile.contains("exclude disk 'scsi1'"), "\(logFile)")
        let volid = "local:backup/\(archive)"
        let config = Self.data(try curl(node, "/api2/json/nodes/bkp/vzdump/extractconfig?volume=\(volid)")) as? String ?? ""
        #expect(
            config.contains("#qmdump#map:scsi0:drive-scsi0:local:qcow2:") && !config.contains("drive-scsi1") && config.contains("name: bkp-vm"),
            "\(config)")
        let listed = Self.data(try curl(node, "/api2/json/nodes/bkp/storage/local/content?content=backup")) as? [[String: Any]] ?? []
        #expect(listed.contains { $0["volid"] as? String == volid && $0["protected"] as? Int == 1 }, "\(listed)")

        // restored under a new ID with new MACs: the same bytes on a new volume
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/qemu", ["vmid=161", "archive=\(volid)", "unique=1"]) == "OK")
        let restored = Self.data(try curl(node, "/api2/json/nodes/bkp/qemu/161/config")) as? [String: Any] ?? [:]
        #expect((restored["scsi0"] as? String)?.hasPrefix("local:161/vm-161-disk-0.") == true, "\(restored)")
        let original = Self.data(try curl(node, "/api2/json/nodes/bkp/qemu/160/config")) as? [String: Any] ?? [:]
        #expect(restored["scsi1"] == nil && restored["net0"] as? String != original["net0"] as? String, "\(restored)")
        let restoredDisk = try #require(try FileManager.default.contentsOfDirectory(atPath: images + "/161").first { $0.hasPrefix("vm-161-disk-0") })
        let same = try Self.compare(disk, images + "/161/" + restoredDisk)
        #expect(same.status == 0, "\(same.stdout)\(same.stderr)")

        // a running VM: libvirt's pull backup while the guest runs, gzip, through the vzdump command
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/qemu/160/status/start") == "OK")
        #expect(VMTests.waitForMarker(node, 160))
        let cli = try Self.tool(node, "vzdump", ["160", "--storage", "local", "--compress", "gzip", "--mode", "snapshot"])
        #expect(cli.status == 0 && cli.stdout.contains("started backup job (pull mode"), "\(cli.stdout)\(cli.stderr)")
        let status = Self.data(try curl(node, "/api2/json/nodes/bkp/qemu/160/status/current")) as? [String: Any] ?? [:]
        #expect(status["qmpstatus"] as? String == "running", "the guest ran on during its backup: \(status)")
        // suspend mode: the vCPUs pause only while the job starts
        let started =
            Self.data(try curl(node, "/api2/json/nodes/bkp/vzdump", ["-d", "vmid=160", "-d", "storage=local", "-d", "mode=suspend"])) as? String ?? ""
        let upid = started.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        var state: [String: Any] = [:]
        for _ in 0..<300 where state["status"] as? String != "stopped" {
            usleep(100_000)
            state = Self.data(try curl(node, "/api2/json/nodes/bkp/tasks/\(upid)/status")) as? [String: Any] ?? [:]
        }
        #expect(state["exitstatus"] as? String == "OK", "\(state)")
        let lines = Self.data(try curl(node, "/api2/json/nodes/bkp/tasks/\(upid)/log?limit=500")) as? [[String: Any]] ?? []
        let suspended = lines.compactMap { $0["t"] as? String }.joined(separator: "\n")
        #expect(suspended.contains("suspending guest") && suspended.contains("resuming VM again"), "\(suspended)")
        let gz = try #require(Self.backups(node).first { $0.hasPrefix("vzdump-qemu-160-") && $0.hasSuffix(".vma.gz") })
        let cliRestore = try Self.tool(node, "qmrestore", [dump + gz, "162"])
        #expect(cliRestore.status == 0, "\(cliRestore.stdout)\(cliRestore.stderr)")
        let running = try #require(try FileManager.default.contentsOfDirectory(atPath: images + "/162").first { $0.hasPrefix("vm-162-disk-0") })
        let sameRunning = try Self.compare(disk, images + "/162/" + running)
        #expect(sameRunning.status == 0, "\(sameRunning.stdout)\(sameRunning.stderr)")
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/qemu/160/status/stop") == "OK")

        // what must fail: an unknown guest (the job goes on and fails at the end), restoring over an
        // existing VM without force, a damaged archive (nothing left behind)
        let unknown = try VMTests.task(node, "POST", "/nodes/bkp/vzdump", ["vmid=999", "storage=local"])
        #expect(unknown.contains("job errors"), "\(unknown)")
        let exists = try curl(node, "/api2/json/nodes/bkp/qemu", ["-d", "vmid=161", "--data-urlencode", "archive=\(volid)"])
        #expect(exists.status == 500 && exists.body.contains("already exists"), "\(exists.body)")
        let broken = dump + "vzdump-qemu-163-2026_01_01-00_00_00.vma"
        // the archive uncompressed and cut short
        let plain = try runCommand("/usr/bin/zstd", ["-q", "-d", "-c", "-f", dump + archive, "-o", broken])
        #expect(plain.status == 0)
        let whole = try Data(contentsOf: URL(fileURLWithPath: broken))
        try whole.prefix(whole.count - 5000).write(to: URL(fileURLWithPath: broken))
        let failed = try VMTests.task(node, "POST", "/nodes/bkp/qemu", ["vmid=163", "archive=local:backup/vzdump-qemu-163-2026_01_01-00_00_00.vma"])
        #expect(failed.contains("short VMA extent") || failed.contains("missing"), "\(failed)")
        #expect(try curl(node, "/api2/json/nodes/bkp/qemu/163/config").status != 200)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: images + "/163")) ?? []).isEmpty)

        // a container: its tar holds the config first, IDs as the container sees them; restored as another
        let template = "busybox-1.35-corral_1.0-1_amd64.tar.gz"
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/aplinfo", ["storage=local", "template=\(template)"]) == "OK")
        #expect(
            try VMTests.task(
                node, "POST", "/nodes/bkp/lxc", ["vmid=170", "ostemplate=local:vztmpl/\(template)", "rootfs=local:0", "hostname=bkp-ct"])
                == "OK")
        let root = images + "/170/subvol-170-disk-0.subvol"
        try "kept by the backup\n".write(toFile: root + "/marker", atomically: true, encoding: .utf8)
        chown(root + "/marker", 100_000, 100_000)
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/vzdump", ["vmid=170", "storage=local", "compress=zstd"]) == "OK")
        let tar = try #require(Self.backups(node).first { $0.hasPrefix("vzdump-lxc-170-") && $0.hasSuffix(".tar.zst") })
        let members = try runCommand("/usr/bin/tar", ["--zstd", "-tvf", dump + tar, "--numeric-owner"]).stdout.split(separator: "\n")
        #expect(members.first?.hasSuffix("./etc/vzdump/pct.conf") == true, "\(members.prefix(3))")
        #expect(members.contains { $0.hasSuffix(" ./marker") && $0.contains(" 0/0 ") }, "\(members.filter { $0.contains("marker") })")
        let pct = try Self.tool(node, "pct", ["restore", "171", "local:backup/\(tar)", "--storage", "local"])
        #expect(pct.status == 0, "\(pct.stdout)\(pct.stderr)")
        let ct = Self.data(try curl(node, "/api2/json/nodes/bkp/lxc/171/config")) as? [String: Any] ?? [:]
        #expect(ct["hostname"] as? String == "bkp-ct" && (ct["rootfs"] as? String)?.hasPrefix("local:171/") == true, "\(ct)")
        let copy = images + "/171/subvol-171-disk-0.subvol/marker"
        #expect((try? String(contentsOfFile: copy, encoding: .utf8)) == "kept by the backup\n")
        #expect((try? FileManager.default.attributesOfItem(atPath: copy)[.ownerAccountID] as? Int) == 100_000)
        #expect(!FileManager.default.fileExists(atPath: images + "/171/subvol-171-disk-0.subvol/etc/vzdump"))

        // the container running: suspend mode copies it running and freezes it only for the last pass;
        // snapshot mode on a directory storage, which has none, falls back to suspend (as PVE)
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/lxc/170/status/start") == "OK")
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/vzdump", ["vmid=170", "storage=local", "mode=suspend", "bwlimit=100000"]) == "OK")
        let suspendLog = try GuestAgentTests.lastTaskLog(node, type: "vzdump")
        #expect(
            suspendLog.contains("first sync finished") && suspendLog.contains("suspending guest") && suspendLog.contains("final sync finished"),
            "\(suspendLog)")
        sleep(1)  // archive names have one-second resolution
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/vzdump", ["vmid=170", "storage=local", "mode=snapshot"]) == "OK")
        let fallbackLog = try GuestAgentTests.lastTaskLog(node, type: "vzdump")
        #expect(fallbackLog.contains("trying 'suspend' mode instead"), "\(fallbackLog)")
        let suspendArchive = try #require(Self.backups(node).last { $0.hasPrefix("vzdump-lxc-170-") && $0.hasSuffix(".tar") })
        let copied = try runCommand("/usr/bin/tar", ["-tvf", dump + suspendArchive, "--numeric-owner"]).stdout.split(separator: "\n")
        #expect(copied.contains { $0.hasSuffix(" ./marker") && $0.contains(" 0/0 ") }, "\(copied.filter { $0.contains("marker") })")
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/lxc/170/status/stop") == "OK")
        // a pool names the guests: only its members are backed up
        #expect(try curl(node, "/api2/json/pools", ["-d", "poolid=bkpool"]).status == 200)
        let member = try curl(node, "/api2/json/pools", ["-X", "PUT", "-d", "poolid=bkpool", "-d", "vms=170"])
        #expect(member.status == 200, "\(member.body)")
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/vzdump", ["pool=bkpool", "storage=local", "compress=zstd"]) == "OK")
        let poolLog = try GuestAgentTests.lastTaskLog(node, type: "vzdump")
        #expect(poolLog.contains("Starting Backup of VM 170") && !poolLog.contains("VM 160"), "\(poolLog)")
        let noPool = try curl(node, "/api2/json/nodes/bkp/vzdump", ["-d", "pool=nosuch", "-d", "storage=local"])
        #expect(noPool.status == 400 && noPool.body.contains("\"pool\""), "\(noPool.body)")

        // mount points: a directory volume and an ext4 image with backup=1 go in and come back on new
        // volumes; one without backup=1 stays out
        for (key, value) in [("mp0", "local:0,mp=/srv/dir,backup=1"), ("mp1", "local:0.02,mp=/srv/img,backup=1"), ("mp2", "local:0,mp=/srv/skip")] {
            let put = try curl(node, "/api2/json/nodes/bkp/lxc/170/config", ["-X", "PUT", "--data-urlencode", "\(key)=\(value)"])
            #expect(put.status == 200, "\(key): \(put.body)")
        }
        let mounts = Self.data(try curl(node, "/api2/json/nodes/bkp/lxc/170/config")) as? [String: Any] ?? [:]
        func volumePath(_ key: String) -> String {
            let volume = String((mounts[key] as? String ?? "").split(separator: ",").first ?? "")
            return images + "/" + String(volume.split(separator: ":").last ?? "")
        }
        try "in the directory mount point\n".write(toFile: volumePath("mp0") + "/dirmarker", atomically: true, encoding: .utf8)
        try "left out\n".write(toFile: volumePath("mp2") + "/skipmarker", atomically: true, encoding: .utf8)
        let loop = node.dataDirectory + "/mp1mount"
        try FileManager.default.createDirectory(atPath: loop, withIntermediateDirectories: true)
        #expect(try runCommand("/bin/mount", ["-o", "loop", volumePath("mp1"), loop]).status == 0)
        try "in the image mount point\n".write(toFile: loop + "/imgmarker", atomically: true, encoding: .utf8)
        chown(loop + "/imgmarker", 100_000, 100_000)
        _ = try runCommand("/bin/umount", [loop])
        sleep(1)  // archive names have one-second resolution
        let mpBackup = try VMTests.task(node, "POST", "/nodes/bkp/vzdump", ["vmid=170", "storage=local", "compress=zstd"])
        let mpLog = try GuestAgentTests.lastTaskLog(node, type: "vzdump")
        #expect(mpBackup == "OK", "\(mpLog)")
        #expect(
            mpLog.contains("including mount point mp0 ('/srv/dir')") && mpLog.contains("including mount point mp1 ('/srv/img')")
                && mpLog.contains("excluding volume mount point mp2"), "\(mpLog)")
        let mpArchive = try #require(Self.backups(node).last { $0.hasPrefix("vzdump-lxc-170-") && $0.hasSuffix(".tar.zst") })
        let mpMembers = try runCommand("/usr/bin/tar", ["--zstd", "-tf", dump + mpArchive]).stdout.split(separator: "\n")
        #expect(
            mpMembers.filter { $0 == "./srv/dir/dirmarker" }.count == 1 && mpMembers.filter { $0 == "./srv/img/imgmarker" }.count == 1
                && !mpMembers.contains("./srv/skip/skipmarker"), "\(mpMembers.filter { $0.hasPrefix("./srv") })")
        let mpRestore = try VMTests.task(node, "POST", "/nodes/bkp/lxc", ["vmid=173", "ostemplate=local:backup/\(mpArchive)", "restore=1"])
        let mpRestoreLog = try GuestAgentTests.lastTaskLog(node, type: "vzrestore")
        #expect(mpRestore == "OK", "\(mpRestore) \(mpRestoreLog)")
        guard mpRestore == "OK" else { return }
        let restoredMounts = Self.data(try curl(node, "/api2/json/nodes/bkp/lxc/173/config")) as? [String: Any] ?? [:]
        #expect(
            (restoredMounts["mp0"] as? String)?.hasPrefix("local:173/") == true && (restoredMounts["mp1"] as? String)?.contains("mp=/srv/img") == true
                && restoredMounts["mp2"] == nil, "\(restoredMounts)")
        guard restoredMounts["mp0"] != nil && restoredMounts["mp1"] != nil else { return }
        let restoredDir = images + "/" + String(((restoredMounts["mp0"] as? String) ?? "").split(separator: ",")[0].split(separator: ":")[1])
        #expect((try? String(contentsOfFile: restoredDir + "/dirmarker", encoding: .utf8)) == "in the directory mount point\n")
        let restoredImage = images + "/" + String(((restoredMounts["mp1"] as? String) ?? "").split(separator: ",")[0].split(separator: ":")[1])
        let imageMarker = try runCommand("/sbin/debugfs", ["-R", "cat /imgmarker", restoredImage])
        #expect(imageMarker.stdout == "in the image mount point\n", "\(imageMarker.stdout)\(imageMarker.stderr)")
        // the root's own directory for the mount point holds nothing: the data went onto the volume
        let restoredRootDir = images + "/173/subvol-173-disk-0.subvol/srv/dir"
        #expect(!FileManager.default.fileExists(atPath: restoredRootDir + "/dirmarker"))
        #expect(try VMTests.task(node, "DELETE", "/nodes/bkp/lxc/173", ["purge=1"]) == "OK")

        // a scheduled job (jobs.cfg) runs on its schedule: every minute, uncompressed, for CT 170
        let badSchedule = try curl(node, "/api2/json/cluster/backup", ["-d", "schedule=fri 25:00", "-d", "vmid=170"])
        #expect(badSchedule.status == 400 && badSchedule.body.contains("\"schedule\""), "\(badSchedule.body)")
        let job = try curl(
            node, "/api2/json/cluster/backup",
            ["-d", "id=every-minute", "-d", "schedule=minutely", "-d", "vmid=170", "-d", "storage=local", "-d", "compress=0"])
        #expect(job.status == 200, "\(job.body)")
        let jobs = Self.data(try curl(node, "/api2/json/cluster/backup")) as? [[String: Any]] ?? []
        #expect(
            jobs.first?["id"] as? String == "every-minute" && (jobs.first?["next-run"] as? Int ?? 0) > Int(Date().timeIntervalSince1970), "\(jobs)")
        #expect(
            (try? String(contentsOfFile: node.mountpoint + "/jobs.cfg", encoding: .utf8))?.contains("vzdump: every-minute\n\tcompress 0\n") == true)
        let included = Self.data(try curl(node, "/api2/json/cluster/backup/every-minute/included_volumes")) as? [String: Any] ?? [:]
        let guests = included["children"] as? [[String: Any]] ?? []
        let volumes = guests.first?["children"] as? [[String: Any]] ?? []
        #expect(
            guests.count == 1 && guests.first?["id"] as? Int == 170
                && volumes.contains { $0["id"] as? String == "rootfs" && $0["included"] as? Bool == true }, "\(included)")
        let uncovered = Self.data(try curl(node, "/api2/json/cluster/backup-info/not-backed-up")) as? [[String: Any]] ?? []
        let ids = Set(uncovered.compactMap { $0["vmid"] as? Int })
        #expect(ids.contains(160) && !ids.contains(170), "\(uncovered)")
        var scheduled: String?
        for _ in 0..<60 where scheduled == nil {
            usleep(500_000)
            scheduled = Self.backups(node).first { $0.hasPrefix("vzdump-lxc-170-") && $0.hasSuffix(".tar") }
        }
        #expect(scheduled != nil, "the job did not run within 30 s: \(Self.backups(node))")
        #expect(try curl(node, "/api2/json/cluster/backup/every-minute", ["-X", "DELETE"]).status == 200)
        #expect((Self.data(try curl(node, "/api2/json/cluster/backup")) as? [Any])?.isEmpty == true)

        try Self.dedupStore(node, disk: disk)
    }

    /// `repeat-missed`: a job whose time passed while corrald was down runs when it is back; one
    /// without the option waits for its next time.
    @Test func aJobMissedWhileCorraldWasDownRunsWhenItIsBack() throws {
        let first = try NodeProcess(name: "bkm", extraArguments: ["--local", "--set", "domain-prefix=\(Self.prefix)"])
        try first.loginAsRoot()
        for (id, extra) in [("missed", ["-d", "repeat-missed=1"]), ("waits", [])] {
            let made = try curl(
                first, "/api2/json/cluster/backup", ["-d", "id=\(id)", "-d", "schedule=hourly", "-d", "vmid=999", "-d", "storage=local"] + extra)
            #expect(made.status == 200, "\(made.body)")
        }
        _ = first.terminate()
        let twoHoursAgo = Int(Date().timeIntervalSince1970) - 7200
        try "{\"missed\": \(twoHoursAgo), \"waits\": \(twoHoursAgo)}".write(
            toFile: first.dataDirectory + "/backup-jobs.json", atomically: true, encoding: .utf8)
        let node = try NodeProcess(
            name: "bkm", dataDirectory: first.dataDirectory, extraArguments: ["--local", "--set", "domain-prefix=\(Self.prefix)"])
        defer { _ = node.terminate() }
        try node.loginAsRoot()
        var tasks: [[String: Any]] = []
        for _ in 0..<100 where tasks.isEmpty {
            usleep(200_000)
            tasks = Self.data(try curl(node, "/api2/json/nodes/bkm/tasks?typefilter=vzdump")) as? [[String: Any]] ?? []
        }
        // every vzdump task's log: when the hour strikes during the test, the "waits" job runs too
        let log = try tasks.compactMap { $0["upid"] as? String }.map { upid in
            let lines = Self.data(try curl(node, "/api2/json/nodes/bkm/tasks/\(upid)/log?limit=500")) as? [[String: Any]] ?? []
            return lines.compactMap { $0["t"] as? String }.joined(separator: "\n")
        }.joined(separator: "\n")
        #expect(log.contains("vzdump job 'missed'") && log.contains("repeat-missed"), "\(log)")
        // the job without the option does not catch up (unless its hour strikes during the test)
        let minute = Calendar(identifier: .gregorian).component(.minute, from: Date())
        if minute != 0 { #expect(tasks.count == 1, "\(tasks.count) vzdump tasks") }
        // the schedule preview: the next Saturdays at 02:00 after 2026-12-04 00:00 (a Friday, in the node's zone)
        var components = DateComponents(year: 2026, month: 12, day: 4)
        components.timeZone = TimeZone.current
        let friday = Int(Calendar(identifier: .gregorian).date(from: components)!.timeIntervalSince1970)
        let analyzed =
            Self.data(
                try curl(node, "/api2/json/cluster/jobs/schedule-analyze?schedule=sat%2002:00&iterations=3&starttime=\(friday)")) as? [[String: Any]]
            ?? []
        #expect(analyzed.compactMap { $0["timestamp"] as? Int } == [1, 8, 15].map { friday + $0 * 86400 + 7200 }, "\(analyzed)")
        let badSchedule = try curl(node, "/api2/json/cluster/jobs/schedule-analyze?schedule=sat%2025:00")
        #expect(badSchedule.status == 400 && badSchedule.body.contains("\"schedule\""), "\(badSchedule.body)")
        let state = (try? String(contentsOfFile: node.dataDirectory + "/backup-jobs.json", encoding: .utf8)) ?? ""
        #expect(!state.contains("\(twoHoursAgo), \"waits\"") && !state.contains("\"missed\":\(twoHoursAgo)"), "\(state)")
    }

    static func manifests(_ store: String, _ group: String) -> [(name: String, json: [String: Any])] {
        let dir = store + "/" + group
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted().compactMap { time in
            guard let data = FileManager.default.contents(atPath: "\(dir)/\(time)/index.json"),
                let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            else { return nil }
            return ("\(group)/\(time)", json)
        }
    }

    static func chunkCount(_ store: String) -> Int {
        (0..<256).reduce(0) {
            $0 + ((try? FileManager.default.contentsOfDirectory(atPath: store + "/.chunks/" + String(format: "%02x", $1)))?.count ?? 0)
        }
    }

    /// The deduplicating store on the same node (VM 160 stopped, CT 170): a changed chunk is all the
    /// second backup stores; each backup restores on its own; prune frees what only the pruned one
    /// used; export gives PVE's archives; verify finds a damaged chunk and such a restore leaves nothing.
    static func dedupStore(_ node: NodeProcess, disk: String) throws {
        let store = node.dataDirectory + "/dedup"
        let added = try curl(node, "/api2/json/storage", ["-d", "storage=dd", "-d", "type=dedup", "-d", "path=\(store)"])
        #expect(added.status == 200, "\(added.body)")
        let images = node.dataDirectory + "/vz/images", dump = node.dataDirectory + "/vz/dump/"
        let before = node.dataDirectory + "/before.raw"
        #expect(try runCommand("/usr/bin/qemu-img", ["convert", "-O", "raw", disk, before]).status == 0)
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/vzdump", ["vmid=160", "storage=dd", "protected=1"]) == "OK")
        // six 4 MiB chunks hold data (the seventh, the short tail, is zeros); one 64 KiB write changes one
        sleep(1)
        #expect(try runCommand("/usr/bin/qemu-io", ["-f", "qcow2", "-c", "write -P 0x77 8M 64k", disk]).status == 0)
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/vzdump", ["vmid=160", "storage=dd"]) == "OK")
        let vm = Self.manifests(store, "vm/160")
        #expect(vm.count == 2, "\(vm.map(\.name))")
        guard vm.count == 2 else { return }
        #expect(vm[0].json["newChunks"] as? Int == 6 && vm[1].json["newChunks"] as? Int == 1, "\(vm.map { $0.json["newChunks"] ?? "-" })")
        let listed = Self.data(try curl(node, "/api2/json/nodes/bkp/storage/dd/content?content=backup")) as? [[String: Any]] ?? []
        let first = "dd:backup/\(vm[0].name)", second = "dd:backup/\(vm[1].name)"
        #expect(
            listed.contains { $0["volid"] as? String == first && $0["format"] as? String == "dedup-vm" && $0["protected"] as? Int == 1 }
                && listed.contains { $0["volid"] as? String == second && $0["subtype"] as? String == "qemu" }, "\(listed)")
        let config = Self.data(try curl(node, "/api2/json/nodes/bkp/vzdump/extractconfig?volume=\(second)")) as? String ?? ""
        #expect(config.contains("#qmdump#map:scsi0:drive-scsi0:local:qcow2:"), "\(config)")
        // each restores on its own: the first to the disk as it was, the second as it is
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/qemu", ["vmid=164", "archive=\(first)"]) == "OK")
        let cli = try Self.tool(node, "qmrestore", [second, "165"])
        #expect(cli.status == 0, "\(cli.stdout)\(cli.stderr)")
        for (vmid, expected) in [(164, before), (165, disk)] {
            let file = try #require(
                try FileManager.default.contentsOfDirectory(atPath: images + "/\(vmid)").first { $0.hasPrefix("vm-\(vmid)-disk-0") })
            let same = try Self.compare(expected, images + "/\(vmid)/" + file)
            #expect(same.status == 0, "VM \(vmid): \(same.stdout)\(same.stderr)")
        }

        // a container twice: nothing but the fresh config's chunk is new; restored from the store
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/vzdump", ["vmid=170", "storage=dd"]) == "OK")
        sleep(1)
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/vzdump", ["vmid=170", "storage=dd"]) == "OK")
        let ct = Self.manifests(store, "ct/170")
        #expect(ct.count == 2 && (ct.last?.json["newChunks"] as? Int ?? 99) <= 1, "\(ct.map { $0.json["newChunks"] ?? "-" })")
        let ctVolume = "dd:backup/\(ct.last?.name ?? "")"
        let pct = try Self.tool(node, "pct", ["restore", "172", ctVolume, "--storage", "local"])
        #expect(pct.status == 0, "\(pct.stdout)\(pct.stderr)")
        #expect((try? String(contentsOfFile: images + "/172/subvol-172-disk-0.subvol/marker", encoding: .utf8)) == "kept by the backup\n")

        // export: PVE's archives from the store (a tar with the config first; a VMA that restores)
        let exported = try Self.tool(node, "pvesm", ["export-backup", "dd", ctVolume, "local"])
        #expect(exported.status == 0, "\(exported.stdout)\(exported.stderr)")
        // the newest container archive: the export (the earlier vzdump's is older)
        let tar = try #require(Self.backups(node).last { $0.hasPrefix("vzdump-lxc-170-") && $0.hasSuffix(".tar.zst") })
        let members = try runCommand("/usr/bin/tar", ["--zstd", "-tf", dump + tar]).stdout.split(separator: "\n")
        #expect(members.first == "./etc/vzdump/pct.conf" && members.contains("./marker"), "\(members.prefix(3))")
        #expect(
            try VMTests.task(node, "POST", "/nodes/bkp/storage/dd/export-backup", ["volume=\(second)", "target-storage=local", "compress=0"]) == "OK")
        let vma = try #require(Self.backups(node).last { $0.hasPrefix("vzdump-qemu-160-") && $0.hasSuffix(".vma") }, "\(Self.backups(node))")
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/qemu", ["vmid=166", "archive=local:backup/\(vma)"]) == "OK")
        let fromVMA = try #require(try FileManager.default.contentsOfDirectory(atPath: images + "/166").first { $0.hasPrefix("vm-166-disk-0") })
        let sameVMA = try Self.compare(disk, images + "/166/" + fromVMA)
        #expect(sameVMA.status == 0, "\(sameVMA.stdout)\(sameVMA.stderr)")

        // prune: the protected first backup stays; unprotected, keep-last=1 removes it and frees its chunk
        let keepOne = ["-X", "DELETE", "--data-urlencode", "prune-backups=keep-last=1", "-d", "vmid=160", "-d", "type=qemu"]
        #expect(try curl(node, "/api2/json/nodes/bkp/storage/dd/prunebackups", keepOne).status == 200)
        sleep(2)
        #expect(Self.manifests(store, "vm/160").count == 2, "the protected backup stays")
        let unprotect = try curl(node, "/api2/json/nodes/bkp/storage/dd/content/\(first)", ["-X", "PUT", "-d", "protected=0"])
        #expect(unprotect.status == 200, "\(unprotect.body)")
        let chunksBefore = Self.chunkCount(store)
        let pruned = try curl(node, "/api2/json/nodes/bkp/storage/dd/prunebackups", keepOne)
        #expect(pruned.status == 200, "\(pruned.body)")
        for _ in 0..<50 where Self.manifests(store, "vm/160").count != 1 { usleep(100_000) }
        #expect(Self.manifests(store, "vm/160").map(\.name) == [vm[1].name])
        #expect(
            Self.chunkCount(store) == chunksBefore - 1, "the chunk only the pruned backup used is gone: \(chunksBefore) → \(Self.chunkCount(store))")

        // a damaged chunk: verify names it, a restore fails and leaves nothing
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/storage/dd/verify", []) == "OK")
        let chunks = (vm[1].json["streams"] as? [[String: Any]])?.first?["chunks"] as? [[String: Any]] ?? []
        let victim = try #require(chunks.compactMap { $0["digest"] as? String }.first { !$0.isEmpty })
        let chunkFile = "\(store)/.chunks/\(victim.prefix(2))/\(victim)"
        var damaged = try Data(contentsOf: URL(fileURLWithPath: chunkFile))
        damaged[damaged.count / 2] ^= 0xff
        try damaged.write(to: URL(fileURLWithPath: chunkFile))
        let verify = try VMTests.task(node, "POST", "/nodes/bkp/storage/dd/verify", ["volume=\(second)"])
        #expect(verify.contains("verification found 1 problem"), "\(verify)")
        let failed = try VMTests.task(node, "POST", "/nodes/bkp/qemu", ["vmid=167", "archive=\(second)"])
        #expect(failed.contains("damaged") || failed.contains("missing"), "\(failed)")
        #expect(try curl(node, "/api2/json/nodes/bkp/qemu/167/config").status != 200)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: images + "/167")) ?? []).isEmpty)

        // a running VM: the first backup into the store makes a checkpoint; after the guest writes
        // 64 KiB, the next reads only what the dirty bitmap names and reuses every other chunk
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/qemu/160/status/start") == "OK")
        #expect(VMTests.waitForMarker(node, 160))
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/vzdump", ["vmid=160", "storage=dd", "mode=snapshot"]) == "OK")
        let chainStart = try GuestAgentTests.lastTaskLog(node, type: "vzdump")
        #expect(!chainStart.contains("incremental:") && !chainStart.contains("no checkpoint"), "\(chainStart)")
        var agentUp = false
        for _ in 0..<100 where !agentUp {
            agentUp = try curl(node, "/api2/json/nodes/bkp/qemu/160/agent/ping", ["-X", "POST"]).status == 200
            if !agentUp { usleep(300_000) }
        }
        #expect(agentUp, "the guest agent answers")
        let write = try curl(
            node, "/api2/json/nodes/bkp/qemu/160/agent/exec",
            [
                "--data-urlencode", "command=/bin/sh", "--data-urlencode", "command=-c", "--data-urlencode",
                "command=dd if=/dev/urandom of=/dev/sda bs=65536 seek=200 count=1 conv=fsync",
            ])
        let pid = (Self.data(write) as? [String: Any])?["pid"] as? Int ?? 0
        var exited: [String: Any] = [:]
        for _ in 0..<100 where exited["exited"] as? Int != 1 && exited["exited"] as? Bool != true {
            usleep(100_000)
            exited = Self.data(try curl(node, "/api2/json/nodes/bkp/qemu/160/agent/exec-status?pid=\(pid)")) as? [String: Any] ?? [:]
        }
        #expect(exited["exitcode"] as? Int == 0, "\(write.body) \(exited)")
        sleep(1)
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/vzdump", ["vmid=160", "storage=dd", "mode=snapshot"]) == "OK")
        let incrementalLog = try GuestAgentTests.lastTaskLog(node, type: "vzdump")
        #expect(incrementalLog.contains("incremental: 6 unchanged chunks not read"), "\(incrementalLog)")
        let running = Self.manifests(store, "vm/160")
        #expect(running.last?.json["newChunks"] as? Int == 1 && running.last?.json["checkpoint"] as? String != nil, "\(running.map(\.name))")
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/qemu/160/status/stop") == "OK")
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/qemu", ["vmid=168", "archive=dd:backup/\(running.last?.name ?? "")"]) == "OK")
        let incrementalDisk = try #require(
            try FileManager.default.contentsOfDirectory(atPath: images + "/168").first { $0.hasPrefix("vm-168-disk-0") })
        let sameIncremental = try Self.compare(disk, images + "/168/" + incrementalDisk)
        #expect(sameIncremental.status == 0, "\(sameIncremental.stdout)\(sameIncremental.stderr)")
        // started again, the VM has no backup bitmaps left: the chain begins anew
        let bitmaps = try runCommand("/usr/bin/qemu-img", ["info", "-U", disk]).stdout
        #expect(bitmaps.contains("bitmaps:") && bitmaps.contains("name: corral-"), "the checkpoint's bitmap is in the stopped VM's disk: \(bitmaps)")
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/qemu/160/status/start") == "OK")
        let afterStart = try runCommand("/usr/bin/qemu-img", ["info", "-U", disk]).stdout
        let startLog = try GuestAgentTests.lastTaskLog(node, type: "qmstart")
        #expect(!afterStart.contains("bitmaps:") && startLog.contains("removed the backup bitmap 'corral-"), "\(afterStart)\n\(startLog)")
        #expect(try VMTests.task(node, "POST", "/nodes/bkp/qemu/160/status/stop") == "OK")
        let wrongType = try curl(node, "/api2/json/nodes/bkp/storage/local/gc", ["-X", "POST"])
        #expect(wrongType.status == 400 && wrongType.body.contains("not a deduplicating backup store"), "\(wrongType.body)")
    }
}

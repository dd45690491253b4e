import Foundation
import Glibc
import TestSupport
import Testing

/// HA on three real nodes (corosync in a namespace each, corrald each, a shared `dir` storage):
/// the API and `ha-manager`, a start by the manager, a move by command, then the failover when the
/// node running the container is cut (its corosync and corrald killed): the node's watchdog kills
/// the container before another node starts it, within a minute, and the returning node does not
/// start a duplicate.
@Suite(.serialized) struct HAFailoverTests {
    typealias S = SDNTests

    static func service(_ node: NodeProcess, _ sid: String) -> [String: Any]? {
        let rows = (try? S.data(node, "/cluster/ha/status/current")) as? [[String: Any]] ?? []
        return rows.first { $0["sid"] as? String == sid }
    }

    /// `ha-manager` as root on the node; bounded well below the suite's limit.
    static func haManager(_ node: NodeProcess, _ arguments: [String]) throws -> CommandResult {
        try BackupRestoreTests.tool(node, "ha-manager", arguments, timeout: 120)
    }

    static func running(_ node: NodeProcess, on name: String, _ vmid: Int) -> Bool {
        (((try? S.data(node, "/nodes/\(name)/lxc/\(vmid)/status/current")) as? [String: Any])?["status"] as? String) == "running"
    }

    @Test(.enabled(if: TestCluster.available)) func failoverAfterACutAndNoDuplicateOnReturn() throws {
        let cluster = try TestCluster(nodes: 3, ownSysfs: true)
        let vmid = 390
        defer {
            for i in 1...3 { _ = try? S.sh("ip netns exec cfstn\(i) lxc-stop -k -P \(cluster.dir)/d\(i)/lxc -n \(vmid) 2>/dev/null") }
            cluster.down()
        }
        // a hang anywhere (a daemon, a CLI, a FUSE call) fails here with the daemons' stacks, not at CI's limit
        try cluster.bounded(900, "the HA failover test") { try Self.scenario(cluster, vmid) }
    }

    static func scenario(_ cluster: TestCluster, _ vmid: Int) throws {
        let n1 = cluster.daemons[1]!
        let shared = cluster.dir + "/shared-store"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        try S.ok(n1, "POST", "/storage", ["storage=shared", "type=dir", "path=\(shared)", "content=rootdir,images,vztmpl", "shared=1"])
        #expect(try VMTests.task(n1, "POST", "/nodes/n1/aplinfo", ["storage=shared", "template=\(S.template)"]) == "OK")
        let n3 = cluster.daemons[3]!
        let created = try VMTests.task(
            n3, "POST", "/nodes/n3/lxc", ["vmid=\(vmid)", "ostemplate=shared:vztmpl/\(S.template)", "rootfs=shared:0.1", "hostname=ha"])
        #expect(created == "OK")

        // offline migration copies volumes on storages the target does not share, into the mapped storage
        for i in 1...2 {
            let path = cluster.dir + "/only\(i)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try S.ok(n1, "POST", "/storage", ["storage=only\(i)", "type=dir", "path=\(path)", "content=images,rootdir", "nodes=n\(i)"])
        }
        #expect(try VMTests.task(n1, "POST", "/nodes/n1/qemu", ["vmid=391", "name=copied", "scsi0=only1:0.01,format=raw"]) == "OK")
        let disk = cluster.dir + "/only1/images/391/vm-391-disk-0.raw"
        try Data((0..<65536).map { UInt8($0 % 251) }).write(to: URL(fileURLWithPath: disk))
        #expect(try S.refused(n1, "POST", "/nodes/n1/qemu/391/migrate", ["target=n2"], field: "targetstorage"), "only1 is not on n2")
        #expect(try S.refused(n1, "POST", "/nodes/n1/qemu/391/migrate", ["target=n2", "targetstorage=nosuch"], field: "targetstorage"))
        let copyCheck = try S.data(n1, "/nodes/n1/qemu/391/migrate?target=n2") as? [String: Any] ?? [:]
        #expect((copyCheck["local_disks"] as? [[String: Any]])?.first?["volid"] as? String == "only1:391/vm-391-disk-0.raw", "\(copyCheck)")
        let copiedStatus = try VMTests.task(n1, "POST", "/nodes/n1/qemu/391/migrate", ["target=n2", "targetstorage=only2", "bwlimit=5120"])
        let copyLog = try GuestAgentTests.lastTaskLog(n1, type: "qmigrate")
        #expect(copiedStatus == "OK" && copyLog.contains("copied only1:391/vm-391-disk-0.raw to only2:"), "\(copyLog)")
        // bwlimit 5 MiB/s: the 10 MiB disk takes about two seconds
        let rate = copyLog.split(separator: "\n").first { $0.contains("MiB/s") }.flatMap { line in
            line.split(separator: " ").dropLast().last.flatMap { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: "(,"))) }
        }
        #expect(copyLog.contains("limited to 5120 KiB/s") && rate != nil && rate! <= 5.2, "\(copyLog)")
        let movedConfig = (try? String(contentsOfFile: cluster.path(1, "nodes/n2/qemu-server/391.conf"), encoding: .utf8)) ?? ""
        #expect(movedConfig.contains("scsi0: only2:391/vm-391-disk-0.raw") && !movedConfig.contains("lock"), "\(movedConfig)")
        let arrivedDisk = FileManager.default.contents(atPath: cluster.dir + "/only2/images/391/vm-391-disk-0.raw")
        #expect(arrivedDisk?.prefix(65536) == Data((0..<65536).map { UInt8($0 % 251) }), "the bytes arrived")
        #expect(!FileManager.default.fileExists(atPath: disk), "the source volume is freed")
        #expect(try VMTests.task(cluster.daemons[2]!, "DELETE", "/nodes/n2/qemu/391") == "OK")

        // a container's directory volume (subvol) travels as PVE's tar+size
        let made = try VMTests.task(
            n1, "POST", "/nodes/n1/lxc", ["vmid=392", "ostemplate=shared:vztmpl/\(S.template)", "rootfs=only1:0", "hostname=copied", "start=1"])
        #expect(made == "OK")
        let ctConfig = (try? String(contentsOfFile: cluster.path(1, "nodes/n1/lxc/392.conf"), encoding: .utf8)) ?? ""
        #expect(ctConfig.contains("rootfs: only1:392/subvol-392-disk-0.subvol"), "\(ctConfig)")
        // running: pre-copied while it runs, then stopped for the changes only (beyond PVE's restart migration)
        #expect(try S.refused(n1, "POST", "/nodes/n1/lxc/392/migrate", ["target=n2", "target-storage=only2"], field: "restart"))
        #expect(try VMTests.task(n1, "POST", "/nodes/n1/lxc/392/migrate", ["target=n2", "target-storage=only2", "restart=1", "timeout=10"]) == "OK")
        let ctLog = try GuestAgentTests.lastTaskLog(n1, type: "vzmigrate")
        #expect(ctLog.contains("pre-copy") && ctLog.contains("sending what changed") && ctLog.contains("downtime"), "\(ctLog)")
        #expect(Self.running(n1, on: "n2", 392), "runs on n2 after the move")
        print(
            "CT pre-copy migration:",
            ctLog.split(separator: "\n").filter { $0.contains("downtime") || $0.contains("finished") }.joined(separator: "; "))
        let hostname = try? String(contentsOfFile: cluster.dir + "/only2/images/392/subvol-392-disk-0.subvol/etc/hostname", encoding: .utf8)
        #expect(hostname?.contains("copied") == true && ctLog.contains("tar+size"), "\(ctLog)")
        #expect(!FileManager.default.fileExists(atPath: cluster.dir + "/only1/images/392/subvol-392-disk-0.subvol"), "the source tree is freed")
        #expect(try VMTests.task(cluster.daemons[2]!, "DELETE", "/nodes/n2/lxc/392?force=1") == "OK")

        // bad input: named fields, nothing written
        #expect(try S.refused(n1, "POST", "/cluster/ha/resources", ["sid=ct:999"], field: "sid"))
        #expect(try S.refused(n1, "POST", "/cluster/ha/resources", ["sid=vm:\(vmid)"], field: "sid"))
        #expect(
            try S.refused(n1, "POST", "/cluster/ha/rules", ["rule=r1", "type=node-affinity", "resources=ct:\(vmid)", "nodes=n1"], field: "resources"))
        let untouched = (try? String(contentsOfFile: cluster.path(1, "ha/resources.cfg"), encoding: .utf8)) ?? ""
        #expect(untouched.isEmpty, "refusals write nothing: \(untouched)")

        // under HA through ha-manager (the CLI of node 1): the manager starts it where its config is
        let added = try Self.haManager(n1, ["add", "ct:\(vmid)", "--max_restart", "1", "--comment", "failover test"])
        #expect(added.status == 0, "\(added.stdout)\(added.stderr)")
        #expect(try S.waitFor(40) { Self.running(n1, on: "n3", vmid) }, "HA started CT \(vmid) on n3")
        #expect(try S.refused(n1, "POST", "/cluster/ha/resources/ct:\(vmid)/migrate", ["node=nosuch"], field: "node"))
        let status = try Self.haManager(n1, ["status"]).stdout
        #expect(status.contains("quorum OK") && status.contains("master n") && status.contains("service ct:\(vmid) (n3, started)"), "\(status)")
        #expect(status.contains("lrm n3 (active"), "\(status)")

        // a move by command: stopped on n3, config to n2, started there by n2's manager
        let moved = try Self.haManager(n1, ["migrate", "ct:\(vmid)", "n2"])
        #expect(moved.status == 0, "\(moved.stdout)\(moved.stderr)")
        let arrived = try S.waitFor(60) { Self.running(n1, on: "n2", vmid) }
        #expect(
            arrived,
            "moved to n2: \(String(describing: Self.service(n1, "ct:\(vmid)")))\nn1: \(n1.log.suffix(2000))\nn3: \(n3.log.suffix(2000))\nn2: \(cluster.daemons[2]!.log.suffix(2000))\nn2 start: \((try? GuestAgentTests.lastTaskLog(cluster.daemons[2]!, type: "vzstart")) ?? "")\nn3 migrate: \((try? GuestAgentTests.lastTaskLog(n3, type: "vzmigrate")) ?? "")"
        )
        #expect(FileManager.default.fileExists(atPath: cluster.path(1, "nodes/n2/lxc/\(vmid).conf")))

        // the cut: node 2's corosync and corrald die; its container keeps running until the watchdog
        let n2 = cluster.daemons[2]!
        let oldPID = Int32(try S.pid(n2, vmid))
        let cut = Date()
        cluster.killDaemon(2)
        try cluster.killCorosync(2)
        var killedAt: Double?, recoveredAt: Double?, recoveredOn = ""
        while Date().timeIntervalSince(cut) < 90 {
            let now = Date().timeIntervalSince(cut)
            if killedAt == nil, kill(oldPID, 0) != 0 { killedAt = now }
            if let row = Self.service(n1, "ct:\(vmid)"), let node = row["node"] as? String, node != "n2", Self.running(n1, on: node, vmid) {
                recoveredAt = now
                recoveredOn = node
                break
            }
            usleep(250_000)
        }
        print(
            String(
                format: "HA failover: watchdog killed the container after %.1f s, running on %@ after %.1f s", killedAt ?? -1, recoveredOn,
                recoveredAt ?? -1))
        #expect(
            recoveredAt != nil && recoveredAt! < 60,
            "recovered within a minute: \(n1.log.suffix(3000))\nn3: \(n3.log.suffix(3000))\nstatus: \((try? S.api(n1, "GET", "/cluster/ha/status/manager_status").body) ?? "")"
        )
        #expect(killedAt != nil && recoveredAt != nil && killedAt! < recoveredAt!, "the cut node's copy died first")

        // node 2 comes back: its manager waits for its lock and runs nothing the status puts elsewhere
        try cluster.startCorosync(2)
        try cluster.startDaemon(2)
        let back = cluster.daemons[2]!
        _ = cluster.waitAgreed(timeout: 60)
        let reporting = S.waitFor(90) {
            let rows = (try? S.data(back, "/cluster/ha/status/current")) as? [[String: Any]] ?? []
            // a report written after the cut: n2 holds its agent lock again (once the master's hold expired)
            return rows.contains { $0["id"] as? String == "lrm:n2" && Double($0["timestamp"] as? Int ?? 0) > cut.timeIntervalSince1970 + 1 }
        }
        #expect(reporting, "n2's local manager reports again")
        sleep(6)
        let onN2 = try S.sh("ip netns exec cfstn2 lxc-info -P \(cluster.dir)/d2/lxc -n \(vmid) -s 2>&1 || true").stdout
        #expect(!onN2.contains("RUNNING"), "no duplicate on the returning node: \(onN2)")
        #expect(Self.running(n1, on: recoveredOn, vmid))

        // so is a migration through the guest API (PVE's hamigrate): the manager moves it, and it stays moved
        let owner = cluster.daemons[Int(recoveredOn.dropFirst()) ?? 1]!, other = recoveredOn == "n1" ? "n3" : "n1"
        #expect(try VMTests.task(owner, "POST", "/nodes/\(recoveredOn)/lxc/\(vmid)/migrate", ["target=\(other)", "restart=1"]) == "OK")
        #expect(try GuestAgentTests.lastTaskLog(owner, type: "hamigrate").contains("Requesting HA migration"))
        #expect(try S.waitFor(60) { Self.running(n1, on: other, vmid) && Self.service(n1, "ct:\(vmid)")?["node"] as? String == other })
        recoveredOn = other

        // corrald of the node that runs it stops (a restart, an upgrade): the service freezes, the
        // container runs on past the watchdog's deadline and the lock's lease, nobody recovers it,
        // and corrald's return thaws it where it is
        let ownerIndex = Int(recoveredOn.dropFirst()) ?? 1
        let observer = cluster.daemons[ownerIndex == 2 ? 1 : 2]!
        let frozenPID = Int32(try S.pid(cluster.daemons[ownerIndex]!, vmid))
        cluster.stopDaemon(ownerIndex)
        #expect(
            S.waitFor(20) { Self.service(observer, "ct:\(vmid)")?["state"] as? String == "freeze" },
            "\(String(describing: Self.service(observer, "ct:\(vmid)")))")
        sleep(40)
        #expect(kill(frozenPID, 0) == 0, "the container ran on while corrald was away")
        let frozen = Self.service(observer, "ct:\(vmid)")
        #expect(
            frozen?["state"] as? String == "freeze" && frozen?["node"] as? String == recoveredOn,
            "not recovered elsewhere: \(String(describing: frozen))")
        try cluster.startDaemon(ownerIndex)
        #expect(S.waitFor(60) { Self.service(observer, "ct:\(vmid)")?["state"] as? String == "started" }, "thawed")
        #expect(kill(frozenPID, 0) == 0 && Self.running(observer, on: recoveredOn, vmid), "the same container, not a new start")

        // a stop through the guest API is a request to the manager (PVE's hastop), not undone by it
        let ha = (try S.data(n1, "/nodes/\(recoveredOn)/lxc/\(vmid)/status/current") as? [String: Any])?["ha"] as? [String: Any]
        #expect(ha?["managed"] as? Int == 1 && ha?["state"] as? String == "started", "\(String(describing: ha))")
        let runner = cluster.daemons[Int(recoveredOn.dropFirst()) ?? 1]!
        #expect(try VMTests.task(runner, "POST", "/nodes/\(recoveredOn)/lxc/\(vmid)/status/stop") == "OK")
        let config = try String(contentsOfFile: cluster.path(1, "ha/resources.cfg"), encoding: .utf8)
        #expect(config.contains("state stopped"), "\(config)")
        #expect(try S.waitFor(30) { !Self.running(n1, on: recoveredOn, vmid) && Self.service(n1, "ct:\(vmid)")?["state"] as? String == "stopped" })

        // out of HA: the resource goes, the guest stays where it is
        let removed = try Self.haManager(n1, ["remove", "ct:\(vmid)"])
        #expect(removed.status == 0)
        #expect(try S.waitFor(10) { Self.service(n1, "ct:\(vmid)") == nil })
    }
}

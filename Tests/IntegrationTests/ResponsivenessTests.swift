import Foundation
import Glibc
import TestSupport
import Testing

/// The node stays responsive while blocking work runs: two full clones of a template whose disk
/// holds 1.5 GiB of data copy through qemu-img while a client logs in and polls `/version` and
/// `/cluster/resources`. Before the blocking executor, qemu-img ran in Swift's two-thread
/// cooperative pool and a login took 3.5 s. (Figures against idle: `Tests/Bench/responsiveness_bench.py`.)
@Suite(.serialized) struct ResponsivenessTests {
    static func timed(_ node: NodeProcess, _ arguments: [String], anonymous: Bool = false) throws -> (status: Int, seconds: Double) {
        let start = Date()
        let r = try curl(node, arguments.last!, Array(arguments.dropLast()), anonymous: anonymous)
        return (r.status, Date().timeIntervalSince(start))
    }

    @Test func loginAndPollingStayFastWhileTwoClonesCopy() throws {
        let node = try NodeProcess(name: "rsp", extraArguments: ["--set", "domain-prefix=corral-test-rsp-"])
        defer {
            _ = node.terminate()
            _ = try? runCommand("/bin/umount", ["-l", node.mountpoint])
            try? FileManager.default.removeItem(atPath: node.dataDirectory)
        }
        #expect(try VMTests.task(node, "POST", "/nodes/rsp/qemu", ["vmid=900", "memory=128", "kvm=0", "scsi0=local:2,format=raw"]) == "OK")
        let disk = node.dataDirectory + "/vz/images/900/vm-900-disk-0.raw"
        // 1.5 GiB that is not zeros (qemu-img skips zeros), written in one pass
        let fill = try runCommand("/bin/bash", ["-c", "yes corral-data | head -c 1610612736 | dd of='\(disk)' bs=4M conv=notrunc status=none"])
        #expect(fill.status == 0, "\(fill.stderr)")
        #expect(try VMTests.task(node, "POST", "/nodes/rsp/qemu/900/template") == "OK")

        var upids: [String] = []
        for newid in [901, 902] {
            let r = try curl(node, "/api2/json/nodes/rsp/qemu/900/clone", ["-X", "POST", "-d", "newid=\(newid)", "-d", "full=1"])
            #expect(r.status == 200, "\(r.body)")
            upids += [VMTests.json(r.body)["data"] as? String ?? ""]
        }
        func running() throws -> Bool {
            try upids.contains { upid in
                (VMTests.json(try curl(node, "/api2/json/nodes/rsp/tasks/\(upid)/status").body)["data"] as? [String: Any])?["status"] as? String
                    == "running"
            }
        }
        var logins: [Double] = [], versions: [Double] = [], resources: [Double] = []
        let started = Date()
        while try running(), Date().timeIntervalSince(started) < 300 {
            let login = try Self.timed(
                node, ["-d", "username=\(NodeProcess.adminUser)", "-d", "password=\(NodeProcess.adminPassword)", "/api2/json/access/ticket"],
                anonymous: true)
            #expect(login.status == 200)
            logins.append(login.seconds)
            for _ in 0..<5 {
                let v = try Self.timed(node, ["/api2/json/version"])
                #expect(v.status == 200)
                versions.append(v.seconds)
            }
            let r = try Self.timed(node, ["/api2/json/cluster/resources"])
            #expect(r.status == 200)
            resources.append(r.seconds)
        }
        let copying = Date().timeIntervalSince(started)
        for upid in upids {
            let status = VMTests.json(try curl(node, "/api2/json/nodes/rsp/tasks/\(upid)/status").body)["data"] as? [String: Any]
            #expect(status?["exitstatus"] as? String == "OK", "\(status ?? [:])")
        }
        // the clones took long enough for the figures to mean something, and the node never stalled
        #expect(copying > 1 && !logins.isEmpty, "the clones finished in \(copying) s")
        #expect(logins.max() ?? 99 < 1.5, "logins during the clones: \(logins)")
        #expect(versions.max() ?? 99 < 1.0, "slowest /version during the clones: \(versions.max() ?? 0) s")
        #expect(resources.max() ?? 99 < 2.0, "slowest /cluster/resources during the clones: \(resources.max() ?? 0) s")
        // the copies hold the template's data
        for newid in [901, 902] {
            let copy = node.dataDirectory + "/vz/images/\(newid)/vm-\(newid)-disk-0.raw"
            let same = try runCommand("/usr/bin/cmp", ["-n", "1610612736", disk.replacingOccurrences(of: "vm-900", with: "base-900"), copy])
            #expect(same.status == 0, "\(same.stdout)\(same.stderr)")
        }
        for vmid in [901, 902, 900] { #expect(try VMTests.task(node, "DELETE", "/nodes/rsp/qemu/\(vmid)") == "OK") }
    }
}

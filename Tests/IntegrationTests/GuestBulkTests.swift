import Foundation
import Glibc
import TestSupport
import Testing

/// `startall`/`stopall` and the start of onboot guests after boot, with real containers: the
/// startup order and `up` delay, `force` and `vms`, reverse order on the way down, and once per boot.
@Suite(.serialized) struct GuestBulkTests {
    static func log(_ node: NodeProcess, _ type: String) throws -> [String] {
        try GuestAgentTests.lastTaskLog(node, type: type).split(separator: "\n").map(String.init)
    }

    static func running(_ node: NodeProcess, _ vmid: Int) throws -> Bool {
        (VMTests.json(try curl(node, "/api2/json/nodes/\(node.nodeName)/lxc/\(vmid)/status/current").body)["data"] as? [String: Any])?["status"]
            as? String == "running"
    }

    @Test func startAllAndStopAllInStartupOrder() throws {
        try CTTests.stopStaleContainers()
        let node = try NodeProcess(name: "bulk", extraArguments: ["--local"])
        var current = node
        defer {
            for vmid in [391, 392, 393] { _ = try? VMTests.task(current, "POST", "/nodes/bulk/lxc/\(vmid)/status/stop") }
            _ = current.terminate()
        }
        let template = "busybox-1.35-corral_1.0-1_amd64.tar.gz"
        #expect(try VMTests.task(node, "POST", "/nodes/bulk/aplinfo", ["storage=local", "template=\(template)"]) == "OK")
        for (vmid, extra) in [(391, ["onboot=1", "startup=order=2"]), (392, ["onboot=1", "startup=order=1,up=1"]), (393, [])] {
            let created = try VMTests.task(
                node, "POST", "/nodes/bulk/lxc", ["vmid=\(vmid)", "ostemplate=local:vztmpl/\(template)", "rootfs=local:0.1"] + extra)
            #expect(created == "OK")
        }

        // onboot guests, lowest order first, the `up` delay after 392
        #expect(try VMTests.task(node, "POST", "/nodes/bulk/startall") == "OK")
        let started = try Self.log(node, "startall")
        let first = started.firstIndex { $0.contains("Starting CT 392") }, second = started.firstIndex { $0.contains("Starting CT 391") }
        #expect(first != nil && second != nil && first! < second!, "\(started)")
        #expect(started.contains { $0.contains("Waiting for 1 seconds") }, "\(started)")
        #expect(!started.contains { $0.contains("393") }, "393 is not onboot")
        #expect(try Self.running(node, 391) && Self.running(node, 392) && !Self.running(node, 393))

        // down in reverse order
        #expect(try VMTests.task(node, "POST", "/nodes/bulk/stopall", ["timeout=5"]) == "OK")
        let stopped = try Self.log(node, "stopall")
        let a = stopped.firstIndex { $0.contains("Stopping CT 391") }, b = stopped.firstIndex { $0.contains("Stopping CT 392") }
        #expect(a != nil && b != nil && a! < b!, "\(stopped)")
        #expect(try !Self.running(node, 391) && !Self.running(node, 392))

        // force and a list: only 393
        #expect(try VMTests.task(node, "POST", "/nodes/bulk/startall", ["force=1", "vms=393"]) == "OK")
        #expect(try Self.running(node, 393) && !Self.running(node, 391))
        #expect(try VMTests.task(node, "POST", "/nodes/bulk/stopall", ["vms=393", "timeout=5"]) == "OK")

        // after boot: a restart of corrald in the same boot starts nothing; the first start after a boot starts the onboot guests
        _ = current.terminate()
        current = try NodeProcess(name: "bulk", dataDirectory: node.dataDirectory, extraArguments: ["--local"])
        usleep(1_500_000)
        #expect(try !Self.running(current, 391) && !Self.running(current, 392), "a restart is not a boot")
        _ = current.terminate()
        try FileManager.default.removeItem(atPath: node.dataDirectory + "/run/guests-started-boot")
        current = try NodeProcess(name: "bulk", dataDirectory: node.dataDirectory, extraArguments: ["--local"])
        let booted = current
        #expect(
            try SDNTests.waitFor(30) { try Self.running(booted, 391) && Self.running(booted, 392) },
            "the first start after a boot starts the onboot guests")
        #expect(try !Self.running(current, 393))
    }
}

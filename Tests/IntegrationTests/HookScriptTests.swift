import Foundation
import Glibc
import TestSupport
import Testing

/// A VM's `hookscript` runs at each phase with PVE's arguments; a failing pre-start stops the start;
/// a script that cannot run is refused when it is set.
@Suite(.serialized) struct HookScriptTests {
    @Test func theHookScriptSeesEveryPhase() throws {
        _ = try VMTests.prepare()
        let prefix = "corral-test-hks-"
        let node = try NodeProcess(name: "hks", extraArguments: ["--local", "--set", "domain-prefix=\(prefix)"])
        defer {
            _ = try? runCommand("/usr/bin/virsh", ["-c", "qemu:///system", "destroy", "\(prefix)995"])
            _ = node.terminate()
        }
        let snippets = node.dataDirectory + "/vz/snippets", record = node.dataDirectory + "/phases", veto = node.dataDirectory + "/veto"
        try FileManager.default.createDirectory(atPath: snippets, withIntermediateDirectories: true)
        try "#!/bin/sh\necho \"$1 $2\" >> \(record)\n[ \"$2\" = pre-start ] && [ -e \(veto) ] && { echo vetoed; exit 1; }\nexit 0\n"
            .write(toFile: snippets + "/hook.sh", atomically: true, encoding: .utf8)
        try "#!/bin/sh\n".write(toFile: snippets + "/plain.sh", atomically: true, encoding: .utf8)
        chmod(snippets + "/hook.sh", 0o755)
        // hookscripts are root@pam's to set (as PVE)
        let denied = try curl(node, "/api2/json/nodes/hks/qemu", ["-d", "vmid=995", "--data-urlencode", "hookscript=local:snippets/hook.sh"])
        #expect(denied.status == 403, "\(denied.body)")
        try node.loginAsRoot()

        let notExecutable = try curl(
            node, "/api2/json/nodes/hks/qemu", ["-d", "vmid=995", "-d", "memory=64", "--data-urlencode", "hookscript=local:snippets/plain.sh"])
        #expect(
            notExecutable.status == 400 && notExecutable.body.contains("\"hookscript\"") && notExecutable.body.contains("not executable"),
            "\(notExecutable.body)")
        #expect(
            try VMTests.task(node, "POST", "/nodes/hks/qemu", ["vmid=995", "memory=64", "kvm=0", "hookscript=local:snippets/hook.sh"]) == "OK")
        let started = try VMTests.task(node, "POST", "/nodes/hks/qemu/995/status/start")
        #expect(started == "OK", "\(started) \((try? String(contentsOfFile: record, encoding: .utf8)) ?? "")")
        #expect(try VMTests.task(node, "POST", "/nodes/hks/qemu/995/status/stop") == "OK")
        #expect((try? String(contentsOfFile: record, encoding: .utf8)) == "995 pre-start\n995 post-start\n995 pre-stop\n995 post-stop\n")

        // a pre-start that fails keeps the VM off
        FileManager.default.createFile(atPath: veto, contents: nil)
        let refused = try VMTests.task(node, "POST", "/nodes/hks/qemu/995/status/start")
        #expect(refused.contains("pre-start"), "\(refused)")
        let status = VMTests.json(try curl(node, "/api2/json/nodes/hks/qemu/995/status/current").body)["data"] as? [String: Any]
        #expect(status?["status"] as? String == "stopped")
        #expect(try VMTests.task(node, "DELETE", "/nodes/hks/qemu/995") == "OK")

        // a container's phases, the same way
        try FileManager.default.removeItem(atPath: veto)
        try FileManager.default.removeItem(atPath: record)
        let template = "busybox-1.35-corral_1.0-1_amd64.tar.gz"
        #expect(try VMTests.task(node, "POST", "/nodes/hks/aplinfo", ["storage=local", "template=\(template)"]) == "OK")
        #expect(
            try VMTests.task(
                node, "POST", "/nodes/hks/lxc",
                ["vmid=996", "ostemplate=local:vztmpl/\(template)", "rootfs=local:0.1", "hookscript=local:snippets/hook.sh"])
                == "OK")
        #expect(try VMTests.task(node, "POST", "/nodes/hks/lxc/996/status/start") == "OK")
        #expect(try VMTests.task(node, "POST", "/nodes/hks/lxc/996/status/stop") == "OK")
        #expect((try? String(contentsOfFile: record, encoding: .utf8)) == "996 pre-start\n996 post-start\n996 pre-stop\n996 post-stop\n")
        #expect(try VMTests.task(node, "DELETE", "/nodes/hks/lxc/996", ["purge=1"]) == "OK")
    }
}

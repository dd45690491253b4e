import Foundation
import TestSupport
import Testing

/// The node's packages, disks, services, report and shell through the API, against this machine's
/// real files and tools (a volume group on a loop device stands for the node's LVM).
@Suite(.serialized) struct NodeAdminAPITests {
    static func data(_ node: NodeProcess, _ path: String) throws -> Any? {
        let r = try curl(node, "/api2/json/nodes/adm/" + path)
        #expect(r.status == 200, "\(path): \(r.status) \(r.body)")
        return VMTests.json(r.body)["data"]
    }

    @Test func packagesDisksServicesReportAndShell() throws {
        let node = try NodeProcess(name: "adm", extraArguments: ["--local"])
        defer { _ = node.terminate() }
        try node.loginAsRoot()

        // apt: the sources this machine has, the upgrades apt-get would make, a local changelog
        let repos = try Self.data(node, "apt/repositories") as? [String: Any] ?? [:]
        let files = repos["files"] as? [[String: Any]] ?? []
        let uris = files.flatMap { ($0["repositories"] as? [[String: Any]]) ?? [] }.flatMap { ($0["URIs"] as? [String]) ?? [] }
        #expect(!uris.isEmpty && uris.allSatisfy { $0.contains("://") }, "\(repos)")
        #expect((repos["digest"] as? String)?.count == 64)
        let simulated = try runCommand("/usr/bin/apt-get", ["-s", "-o", "Debug::NoLocking=1", "dist-upgrade"]).stdout
        let upgrades = try Self.data(node, "apt/update") as? [[String: Any]] ?? []
        #expect(upgrades.count == simulated.split(separator: "\n").filter { $0.hasPrefix("Inst ") }.count)
        #expect(upgrades.allSatisfy { $0["Package"] is String && $0["Version"] is String })
        let changelog = try Self.data(node, "apt/changelog?name=bash") as? String ?? ""
        #expect(changelog.hasPrefix("bash ("), "\(changelog.prefix(80))")
        let missing = try curl(node, "/api2/json/nodes/adm/apt/changelog?name=no-such-package-here")
        #expect(missing.status == 500 && missing.body.contains("no changelog"), "\(missing.body)")

        // disks: a volume group on a loop device appears in lvm (this kernel has no device-mapper, so no
        // logical volumes: the thin pool list is checked against lvs itself)
        let image = node.dataDirectory + "/pv.img"
        FileManager.default.createFile(atPath: image, contents: nil)
        _ = try runCommand("/usr/bin/truncate", ["-s", "96M", image])
        let loop = try runCommand("/usr/sbin/losetup", ["--find", "--show", image]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let vg = "corraladm\(getpid())"
        defer {
            _ = try? runCommand("/usr/sbin/vgremove", ["-f", vg])
            _ = try? runCommand("/usr/sbin/pvremove", ["-f", loop])
            _ = try? runCommand("/usr/sbin/losetup", ["-d", loop])
        }
        #expect(try runCommand("/usr/sbin/vgcreate", [vg, loop]).status == 0)
        let lvm = try Self.data(node, "disks/lvm") as? [String: Any] ?? [:]
        let group = (lvm["children"] as? [[String: Any]])?.first { $0["name"] as? String == vg }
        #expect((group?["size"] as? Int ?? 0) > 90 << 20, "\(lvm)")
        #expect((group?["children"] as? [[String: Any]])?.first?["name"] as? String == loop, "\(String(describing: group))")
        let pools = try Self.data(node, "disks/lvmthin") as? [[String: Any]] ?? []
        let lvs = try runCommand("/usr/sbin/lvs", ["--noheadings", "-o", "segtype"]).stdout
        #expect(pools.count == lvs.split(separator: "\n").filter { $0.contains("thin-pool") }.count, "\(pools)")
        let smart = try Self.data(node, "disks/smart?disk=\(loop)") as? [String: Any] ?? [:]
        #expect(smart["health"] as? String == "UNKNOWN" && smart["type"] as? String == "text", "\(smart)")
        let noDisk = try curl(node, "/api2/json/nodes/adm/disks/smart?disk=/dev/nonexistent0")
        #expect(noDisk.status == 400 && noDisk.body.contains("\"disk\""), "\(noDisk.body)")
        #expect(try Self.data(node, "disks/zfs") is [Any])
        #expect(try Self.data(node, "disks/directory") is [Any])

        // services: PVE's names map to this node's units; corrald is not restarted from a shared machine
        let proxy = try Self.data(node, "services/pveproxy/state") as? [String: Any] ?? [:]
        #expect(proxy["service"] as? String == "pveproxy" && proxy["name"] as? String == "corrald", "\(proxy)")
        let ssh = try Self.data(node, "services/sshd/state") as? [String: Any] ?? [:]
        #expect(ssh["name"] as? String == "ssh", "\(ssh)")
        let refused = try curl(node, "/api2/json/nodes/adm/services/corrald/restart", ["-X", "POST"])
        #expect(refused.status == 500 && refused.body.contains("shares its machine"), "\(refused.body)")
        let unknown = try curl(node, "/api2/json/nodes/adm/services/nginx/state")
        #expect(unknown.status == 400 && unknown.body.contains("\"service\""), "\(unknown.body)")
        let restart = try VMTests.task(node, "POST", "/nodes/adm/services/cron/restart")
        let log = try GuestAgentTests.lastTaskLog(node, type: "srvrestart")
        #expect(log.contains("systemctl restart cron") && (restart == "OK" || restart.contains("systemctl restart cron")), "\(restart) \(log)")

        // the report names the node and its versions
        let report = try Self.data(node, "report") as? String ?? ""
        #expect(report.contains("# hostname") && report.contains("# packages") && report.contains("corrald "), "\(report.prefix(300))")

        // the node shell: root@pam types a line and sees the shell's answer
        let cookie = String((node.cookie ?? "").dropFirst("PVEAuthCookie=".count))
        let shell = try runCommand(
            "/usr/bin/python3",
            [
                NodeProcess.repository + "/Tests/Tools/wsclient.py", "\(node.port)", cookie, node.csrf ?? "", "/nodes/adm", "echo shell-$((6*7))",
                "shell-42",
            ])
        #expect(shell.status == 0, "\(shell.stdout) \(shell.stderr)")
    }
}

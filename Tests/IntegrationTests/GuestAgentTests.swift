import Foundation
import Glibc
import TestSupport
import Testing

/// The guest agent and cloud-init against the tiny guest, which runs Debian's qemu-guest-agent and
/// applies its cloud-init drive (`Tests/Guest/tiny-guest.sh`): one VM boots once and every agent
/// command, the fs-freeze around a snapshot, the CLI and the agent shutdown are checked on it.
@Suite(.serialized) struct GuestAgentTests {
    static let prefix = "corral-test-agt-"

    static func serial(_ node: NodeProcess, _ vmid: Int) -> String {
        (try? String(contentsOfFile: node.dataDirectory + "/log/\(vmid).serial0.log", encoding: .isoLatin1)) ?? ""
    }

    static func waitFor(_ node: NodeProcess, _ vmid: Int, _ marker: String, timeout: Double = 90) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let log = serial(node, vmid)
            if let line = log.components(separatedBy: .newlines).first(where: { $0.contains(marker) }) {
                return line.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            usleep(200_000)
        }
        return nil
    }

    static func data(_ r: (status: Int, body: String)) -> Any? { VMTests.json(r.body)["data"] }

    /// `qm` run as the node's own CLI (its own dispatcher, talking to libvirt itself).
    static func qm(_ node: NodeProcess, _ arguments: [String]) throws -> CommandResult {
        let conf = node.dataDirectory + "/cli.conf"
        try "domain-prefix: \(prefix)\n".write(toFile: conf, atomically: true, encoding: .utf8)
        return try runCommand(
            NodeProcess.buildDirectory + "/corral", ["qm"] + arguments,
            environment: ["CORRAL_DATA_DIR": node.dataDirectory, "CORRAL_NODENAME": node.nodeName, "CORRAL_CONFIG": conf])
    }

    @Test func everyAgentCommandAnswersFromTheRealAgent() throws {
        let iso = try VMTests.prepare()
        let node = try NodeProcess(name: "agt", extraArguments: ["--local", "--set", "domain-prefix=\(Self.prefix)"])
        defer {
            _ = try? runCommand("/usr/bin/virsh", ["-c", "qemu:///system", "destroy", "\(Self.prefix)150"])
            _ = node.terminate()
        }
        try node.loginAsRoot()
        let isoDir = node.dataDirectory + "/vz/template/iso"
        try FileManager.default.createDirectory(atPath: isoDir, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: isoDir + "/tiny.iso")
        try FileManager.default.linkItem(atPath: iso, toPath: isoDir + "/tiny.iso")
        // a data disk the guest formats and mounts, so fs-freeze has a real file system; imported
        // from a raw file (import-from with a host path)
        let raw = node.dataDirectory + "/data.raw"
        FileManager.default.createFile(atPath: raw, contents: Data("CORRAL-MKFS-ME!!".utf8) + Data(count: 32 << 20))

        // a VM without the agent: PVE's error, before anything else
        #expect(try VMTests.task(node, "POST", "/nodes/agt/qemu", ["vmid=151", "memory=64"]) == "OK")
        let none = try curl(node, "/api2/json/nodes/agt/qemu/151/agent/ping", ["-X", "POST"])
        #expect(none.status == 500 && none.body.contains("No QEMU guest agent configured"), "\(none.body)")

        #expect(
            try VMTests.task(
                node, "POST", "/nodes/agt/qemu",
                [
                    "vmid=150", "memory=256", "kvm=0", "scsihw=virtio-scsi-pci", "scsi0=local:0,import-from=\(raw),format=qcow2",
                    "ide2=local:iso/tiny.iso,media=cdrom", "net0=virtio", "boot=order=ide2", "serial0=socket", "agent=1",
                    "ide0=local:cloudinit", "name=ci-guest", "ciuser=ciadmin", "ipconfig0=ip=10.213.50.5/24,gw=10.213.50.1",
                    "nameserver=10.213.50.53", "searchdomain=corral.test",
                ]) == "OK")
        var config = Self.data(try curl(node, "/api2/json/nodes/agt/qemu/150/config")) as? [String: Any] ?? [:]
        #expect(config["ide0"] as? String == "local:150/vm-150-cloudinit.qcow2,media=cdrom", "\(config)")
        // the password is stored hashed and never shown
        #expect(try curl(node, "/api2/json/nodes/agt/qemu/150/config", ["-X", "PUT", "-d", "cipassword=ci-secret"]).status == 200)
        let stored = (try? String(contentsOfFile: node.mountpoint + "/nodes/agt/qemu-server/150.conf", encoding: .utf8)) ?? ""
        #expect(stored.contains("cipassword: $5$"), "\(stored)")
        config = Self.data(try curl(node, "/api2/json/nodes/agt/qemu/150/config")) as? [String: Any] ?? [:]
        #expect(config["cipassword"] as? String == "**********")
        // bad input: a malformed ipconfig, a second cloud-init drive
        let badIP = try curl(node, "/api2/json/nodes/agt/qemu/150/config", ["-X", "PUT", "-d", "ipconfig0=ip=10.1.1.300/24"])
        #expect(badIP.status == 400 && badIP.body.contains("ipconfig0"), "\(badIP.body)")
        let second = try curl(node, "/api2/json/nodes/agt/qemu/150/config", ["-X", "PUT", "-d", "ide1=local:cloudinit"])
        #expect(second.status == 400 && second.body.contains("already attached at 'ide0'"), "\(second.body)")
        let userData = Self.data(try curl(node, "/api2/json/nodes/agt/qemu/150/cloudinit/dump?type=user")) as? String ?? ""
        #expect(userData.hasPrefix("#cloud-config\nhostname: ci-guest\n") && userData.contains("user: ciadmin\npassword: $5$"), "\(userData)")
        let network = try Self.qm(node, ["cloudinit", "dump", "150", "network"])
        #expect(network.stdout.contains("address: '10.213.50.5'") && network.stdout.contains("- '10.213.50.53'"), "\(network)")
        let stopped = try curl(node, "/api2/json/nodes/agt/qemu/150/agent/ping", ["-X", "POST"])
        #expect(stopped.status == 500 && stopped.body.contains("not running"), "\(stopped.body)")

        #expect(try VMTests.task(node, "POST", "/nodes/agt/qemu/150/status/start") == "OK")
        #expect(Self.waitFor(node, 150, "CORRAL-AGENT-STARTED") != nil, "the agent never started: \(Self.serial(node, 150))")
        #expect(Self.waitFor(node, 150, "CORRAL-DATA-MOUNTED") != nil, "the data disk was not mounted: \(Self.serial(node, 150))")

        // ping until the agent answers (it starts a moment after its marker)
        var ping = try curl(node, "/api2/json/nodes/agt/qemu/150/agent/ping", ["-X", "POST"])
        for _ in 0..<50 where ping.status != 200 {
            usleep(200_000)
            ping = try curl(node, "/api2/json/nodes/agt/qemu/150/agent/ping", ["-X", "POST"])
        }
        #expect(ping.status == 200 && ping.body.contains("\"result\":{}"), "\(ping.body)")

        let os = Self.data(try curl(node, "/api2/json/nodes/agt/qemu/150/agent/get-osinfo")) as? [String: Any]
        #expect((os?["result"] as? [String: Any])?["id"] as? String == "corral-tiny", "\(String(describing: os))")
        let info = Self.data(try curl(node, "/api2/json/nodes/agt/qemu/150/agent/info")) as? [String: Any]
        let commands = ((info?["result"] as? [String: Any])?["supported_commands"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(commands?.contains("guest-exec") == true)
        let interfaces = Self.data(try curl(node, "/api2/json/nodes/agt/qemu/150/agent/network-get-interfaces")) as? [String: Any]
        let names = (interfaces?["result"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        #expect(names.contains("lo") && names.contains("eth0"), "\(names)")

        // the guest applied its cloud-init drive: hostname, user and address, seen on its console
        // and through the agent
        let applied = Self.waitFor(node, 150, "CORRAL-CLOUDINIT:") ?? ""
        #expect(
            applied.hasSuffix(
                "source=nocloud hostname=ci-guest user=ciadmin address=10.213.50.5/24 gateway=10.213.50.1 dns=10.213.50.53"),
            "\(applied)")
        var addresses: [String] = []
        for _ in 0..<25 {
            let reply = Self.data(try curl(node, "/api2/json/nodes/agt/qemu/150/agent/network-get-interfaces")) as? [String: Any]
            let eth0 = (reply?["result"] as? [[String: Any]])?.first { $0["name"] as? String == "eth0" }
            addresses = (eth0?["ip-addresses"] as? [[String: Any]])?.compactMap { $0["ip-address"] as? String } ?? []
            if addresses.contains("10.213.50.5") { break }
            usleep(200_000)
        }
        #expect(addresses.contains("10.213.50.5"), "\(addresses)")
        let generic = Self.data(try curl(node, "/api2/json/nodes/agt/qemu/150/agent", ["-d", "command=get-host-name"])) as? [String: Any]
        #expect((generic?["result"] as? [String: Any])?["host-name"] as? String == "ci-guest", "\(String(describing: generic))")

        // a change on the running VM waits for the next image: the pending list shows both values
        #expect(
            try curl(node, "/api2/json/nodes/agt/qemu/150/config", ["-X", "PUT", "-d", "citype=configdrive2", "-d", "ciuser=ciother"]).status == 200)
        let pending = Self.data(try curl(node, "/api2/json/nodes/agt/qemu/150/cloudinit")) as? [[String: Any]] ?? []
        let user = pending.first { $0["key"] as? String == "ciuser" }
        #expect(user?["value"] as? String == "ciadmin" && user?["pending"] as? String == "ciother", "\(pending)")
        #expect(pending.contains { $0["key"] as? String == "citype" && $0["pending"] as? String == "configdrive2" }, "\(pending)")
        // the image is made again (the running guest's CD-ROM is swapped), and nothing is pending any more
        #expect(try curl(node, "/api2/json/nodes/agt/qemu/150/cloudinit", ["-X", "PUT"]).status == 200)
        let after = Self.data(try curl(node, "/api2/json/nodes/agt/qemu/150/cloudinit")) as? [[String: Any]] ?? []
        #expect(after.allSatisfy { $0["pending"] == nil }, "\(after)")

        // exec with output, stderr, stdin and an exit code
        let exec = try curl(
            node, "/api2/json/nodes/agt/qemu/150/agent/exec",
            [
                "--data-urlencode", "command=/bin/sh", "--data-urlencode", "command=-c", "--data-urlencode",
                "command=read line; echo \"out:$line\"; echo oops >&2; exit 3", "--data-urlencode", "input-data=from-stdin\n",
            ])
        let pid = (Self.data(exec) as? [String: Any])?["pid"] as? Int
        #expect(pid != nil, "\(exec.body)")
        var status: [String: Any] = [:]
        for _ in 0..<50 {
            status = Self.data(try curl(node, "/api2/json/nodes/agt/qemu/150/agent/exec-status?pid=\(pid ?? 0)")) as? [String: Any] ?? [:]
            if status["exited"] as? Int == 1 || status["exited"] as? Bool == true { break }
            usleep(100_000)
        }
        #expect(status["out-data"] as? String == "out:from-stdin\n", "\(status)")
        #expect(status["err-data"] as? String == "oops\n", "\(status)")
        #expect(status["exitcode"] as? Int == 3, "\(status)")
        let noCommand = try curl(node, "/api2/json/nodes/agt/qemu/150/agent/exec", ["-X", "POST"])
        #expect(noCommand.status == 400 && noCommand.body.contains("command"), "\(noCommand.body)")

        // file-write then file-read; a missing file is the agent's error
        let text = "written by corral\nline two\n"
        let write = try curl(
            node, "/api2/json/nodes/agt/qemu/150/agent/file-write", ["-d", "file=/tmp/corral.txt", "--data-urlencode", "content=\(text)"])
        #expect(write.status == 200, "\(write.body)")
        let read = Self.data(try curl(node, "/api2/json/nodes/agt/qemu/150/agent/file-read?file=/tmp/corral.txt")) as? [String: Any]
        #expect(read?["content"] as? String == text, "\(String(describing: read))")
        let part = Self.data(try curl(node, "/api2/json/nodes/agt/qemu/150/agent/file-read?file=/tmp/corral.txt&count=7")) as? [String: Any]
        #expect(part?["content"] as? String == "written" && part?["truncated"] as? Int == 1, "\(String(describing: part))")
        let missing = try curl(node, "/api2/json/nodes/agt/qemu/150/agent/file-read?file=/nonexistent")
        #expect(missing.status == 500 && missing.body.contains("Agent error"), "\(missing.body)")

        // set-user-password through the guest's chpasswd
        let password = try curl(
            node, "/api2/json/nodes/agt/qemu/150/agent/set-user-password", ["-d", "username=corral", "--data-urlencode", "password=s3cret-pass"])
        #expect(password.status == 200, "\(password.body)")
        let shadow = Self.data(try curl(node, "/api2/json/nodes/agt/qemu/150/agent/file-read?file=/etc/shadow")) as? [String: Any]
        #expect((shadow?["content"] as? String)?.contains("corral:$6$") == true, "\(String(describing: shadow))")

        // a snapshot freezes the guest's file systems around it, and thaws them
        let snap = try VMTests.task(node, "POST", "/nodes/agt/qemu/150/snapshot", ["snapname=frozen"])
        #expect(snap == "OK", "\(snap)")
        let freeze = Self.data(try curl(node, "/api2/json/nodes/agt/qemu/150/agent/fsfreeze-status", ["-X", "POST"])) as? [String: Any]
        #expect(freeze?["result"] as? String == "thawed", "\(String(describing: freeze))")
        let snapTask = try Self.lastTaskLog(node, type: "qmsnapshot")
        #expect(snapTask.contains("1 file system(s) frozen") && snapTask.contains("thawed"), "\(snapTask)")

        // the CLI: qm agent, qm guest cmd, qm guest exec
        let cliPing = try Self.qm(node, ["agent", "150", "ping"])
        #expect(cliPing.status == 0, "\(cliPing.stderr)")
        let cliExec = try Self.qm(node, ["guest", "exec", "150", "--", "/bin/echo", "hello", "from", "qm"])
        #expect(cliExec.status == 0 && cliExec.stdout.contains("hello from qm") && cliExec.stdout.contains("\"exitcode\""), "\(cliExec)")
        let cliHost = try Self.qm(node, ["guest", "cmd", "150", "get-vcpus"])
        #expect(cliHost.status == 0 && cliHost.stdout.contains("logical-id"), "\(cliHost)")

        // shutdown goes through the agent: the guest's /sbin/shutdown says so on the console
        #expect(try VMTests.task(node, "POST", "/nodes/agt/qemu/150/status/shutdown", ["timeout=60"]) == "OK")
        #expect(Self.serial(node, 150).contains("(guest agent)"), "\(Self.serial(node, 150).suffix(400))")

        // the next boot reads the configdrive2 image
        #expect(try VMTests.task(node, "POST", "/nodes/agt/qemu/150/status/start") == "OK")
        let rebooted = Self.waitFor(node, 150, "source=configdrive2") ?? ""
        #expect(rebooted.contains("hostname=ci-guest user=ciother address=10.213.50.5/24 gateway=10.213.50.1 dns=10.213.50.53"), "\(rebooted)")
        #expect(try VMTests.task(node, "POST", "/nodes/agt/qemu/150/status/stop") == "OK")
        // a clone gets a cloud-init volume of its own (made at its first start), never the source's
        #expect(try VMTests.task(node, "POST", "/nodes/agt/qemu/150/clone", ["newid=152", "full=1"]) == "OK")
        let clone = Self.data(try curl(node, "/api2/json/nodes/agt/qemu/152/config")) as? [String: Any] ?? [:]
        #expect(clone["ide0"] as? String == "local:cloudinit,media=cdrom", "\(clone)")
        #expect(try VMTests.task(node, "DELETE", "/nodes/agt/qemu/152") == "OK")
        #expect(FileManager.default.fileExists(atPath: node.dataDirectory + "/vz/images/150/vm-150-cloudinit.qcow2"))
        // removing the drive frees its volume
        #expect(try curl(node, "/api2/json/nodes/agt/qemu/150/config", ["-X", "PUT", "-d", "delete=ide0"]).status == 200)
        #expect(!FileManager.default.fileExists(atPath: node.dataDirectory + "/vz/images/150/vm-150-cloudinit.qcow2"))
    }

    static func lastTaskLog(_ node: NodeProcess, type: String) throws -> String {
        let tasks =
            VMTests.json(try curl(node, "/api2/json/nodes/\(node.nodeName)/tasks?typefilter=\(type)&limit=1").body)["data"] as? [[String: Any]]
        guard let upid = tasks?.first?["upid"] as? String else { return "" }
        let lines = VMTests.json(try curl(node, "/api2/json/nodes/\(node.nodeName)/tasks/\(upid)/log?limit=500").body)["data"] as? [[String: Any]]
        return (lines ?? []).compactMap { $0["t"] as? String }.joined(separator: "\n")
    }
}

import Foundation
import TestSupport
import Testing

/// Containers through the HTTP API and `pct` against real liblxc: a busybox template built by the
/// node itself (`POST /nodes/{node}/aplinfo`) and one uploaded through the API, unprivileged
/// containers on a bridge the test creates, with a peer in a network namespace of its own.
@Suite(.serialized) struct CTTests {
    static let bridge = "crlctbr0"
    static let namespace = "corral-ctt-peer"
    static let peerAddress = "10.213.0.3"

    static func sh(_ script: String) throws -> CommandResult { try runCommand("/bin/bash", ["-c", script]) }

    /// A bridge in the host namespace with a peer address inside a namespace of the test's own.
    static func makeNetwork() throws {
        try? removeNetwork()
        let r = try sh(
            """
            set -e
            ip link add \(bridge) type bridge && ip link set \(bridge) up
            ip netns add \(namespace)
            ip link add crlctv0 type veth peer name crlctv1
            ip link set crlctv0 master \(bridge) up
            ip link set crlctv1 netns \(namespace)
            ip -n \(namespace) addr add \(peerAddress)/24 dev crlctv1
            ip -n \(namespace) link set crlctv1 up
            ip -n \(namespace) link set lo up
            """)
        guard r.status == 0 else { throw TestFailure("cannot build the test network: \(r.stderr)") }
    }

    static func removeNetwork() throws {
        _ = try sh("ip netns del \(namespace) 2>/dev/null; ip link del crlctv0 2>/dev/null; ip link del \(bridge) 2>/dev/null; true")
    }

    /// Containers a failed earlier run left in test data directories would hold their veth names.
    static func stopStaleContainers() throws {
        _ = try sh(
            "pgrep -af '^\\[lxc monitor\\] /tmp/corral-it-' | while read -r _ _ _ path name; do lxc-stop -k -P \"$path\" -n \"$name\"; done; true")
    }

    static func startNode(dataDirectory: String? = nil) throws -> NodeProcess {
        if dataDirectory == nil { try stopStaleContainers() }
        let node = try NodeProcess(name: "ctt", dataDirectory: dataDirectory, extraArguments: ["--local"])
        try node.bootstrapAdmin()
        return node
    }

    static func pct(_ node: NodeProcess, _ arguments: [String]) throws -> CommandResult {
        try runCommand(
            NodeProcess.buildDirectory + "/corral", ["pct"] + arguments,
            environment: ["CORRAL_DATA_DIR": node.dataDirectory, "CORRAL_NODENAME": node.nodeName])
    }

    /// Types a line into the container's terminal (termproxy + vncwebsocket, as the console does).
    static func terminal(_ node: NodeProcess, _ vmid: Int, line: String, expect: String) throws -> CommandResult {
        let cookie = String((node.cookie ?? "").dropFirst("PVEAuthCookie=".count))
        return try runCommand(
            "/usr/bin/python3",
            [
                NodeProcess.repository + "/Tests/Tools/wsclient.py", "\(node.port)", cookie, node.csrf ?? "", "/nodes/ctt/lxc/\(vmid)", line, expect,
            ])
    }

    static func status(_ node: NodeProcess, _ vmid: Int) throws -> [String: Any] {
        VMTests.json(try curl(node, "/api2/json/nodes/ctt/lxc/\(vmid)/status/current").body)["data"] as? [String: Any] ?? [:]
    }

    /// Builds the busybox template through the API and uploads a copy of it under another name; returns both volume IDs.
    static func templates(_ node: NodeProcess) throws -> (built: String, uploaded: String) {
        let built = "busybox-1.35-corral_1.0-1_amd64.tar.gz"
        #expect(try VMTests.task(node, "POST", "/nodes/ctt/aplinfo", ["storage=local", "template=\(built)"]) == "OK")
        // the same archive again, under the test's own name, through the upload endpoint
        let tarball = node.dataDirectory + "/busybox-tiny_1.0-1_amd64.tar.gz"
        try? FileManager.default.removeItem(atPath: tarball)
        try FileManager.default.copyItem(atPath: node.dataDirectory + "/vz/template/cache/" + built, toPath: tarball)
        let upload = try curl(node, "/api2/json/nodes/ctt/storage/local/upload", ["-F", "content=vztmpl", "-F", "filename=@\(tarball)"])
        #expect(upload.status == 200, "\(upload)")
        if let upid = VMTests.json(upload.body)["data"] as? String {
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline,
                (VMTests.json(try curl(node, "/api2/json/nodes/ctt/tasks/\(upid)/status").body)["data"] as? [String: Any])?["status"] as? String
                    != "stopped"
            {
                usleep(100_000)
            }
        }
        let content = try curl(node, "/api2/json/nodes/ctt/storage/local/content?content=vztmpl").body
        #expect(content.contains("local:vztmpl/\(built)") && content.contains("local:vztmpl/busybox-tiny_1.0-1_amd64.tar.gz"), "\(content)")
        return ("local:vztmpl/\(built)", "local:vztmpl/busybox-tiny_1.0-1_amd64.tar.gz")
    }

    @Test func lifecycleThroughTheAPI() throws {
        try Self.makeNetwork()
        let node = try Self.startNode()
        var stopped = false
        defer {
            if !stopped { _ = node.terminate() }
            try? Self.removeNetwork()
        }
        let (built, uploaded) = try Self.templates(node)
        // as after a VM ran: the run directory belongs to root:kvm, 0770; unpacking must not need it
        try FileManager.default.createDirectory(atPath: node.dataDirectory + "/run", withIntermediateDirectories: true)
        chmod(node.dataDirectory + "/run", 0o770)

        // create and start in one task, unprivileged by default, a static address on the test bridge
        #expect(
            try VMTests.task(
                node, "POST", "/nodes/ctt/lxc",
                [
                    "vmid=300", "ostemplate=\(built)", "hostname=corral-ct-one", "rootfs=local:0.25", "password=ct-secret-1",
                    "net0=name=eth0,bridge=\(Self.bridge),ip=10.213.0.2/24", "nameserver=10.213.0.3", "start=1",
                ]) == "OK")
        var s = try Self.status(node, 300)
        #expect(s["status"] as? String == "running", "\(s)")
        let pid = s["pid"] as? Int ?? 0
        // unprivileged for real: the container's init is host UID 100000
        let uidLine = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8))?.split(separator: "\n").first { $0.hasPrefix("Uid:") }
        #expect(uidLine?.split(separator: "\t").dropFirst().first == "100000", "\(String(describing: uidLine))")
        // and under its seccomp profile (keyctl answered ENOSYS, as the container did not ask for it)
        let seccomp = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8))?.split(separator: "\n").first { $0.hasPrefix("Seccomp:") }
        #expect(seccomp?.hasSuffix("2") == true, "\(String(describing: seccomp))")
        #expect((try? String(contentsOfFile: node.dataDirectory + "/lxc/300/seccomp", encoding: .utf8))?.contains("keyctl errno 38") == true)

        let hostname = try Self.pct(node, ["exec", "300", "--", "cat", "/etc/hostname"])
        #expect(hostname.status == 0 && hostname.stdout == "corral-ct-one\n", "\(hostname)")
        let shadow = try Self.pct(node, ["exec", "300", "--", "grep", "^root:\\$6\\$", "/etc/shadow"])
        #expect(shadow.status == 0, "root password not set: \(shadow)")
        let ping = try Self.pct(node, ["exec", "300", "--", "ping", "-c", "1", "-W", "3", Self.peerAddress])
        #expect(ping.status == 0, "the container did not reach \(Self.peerAddress): \(ping)")
        let resolv = try Self.pct(node, ["exec", "300", "--", "cat", "/etc/resolv.conf"])
        #expect(resolv.stdout.contains("nameserver 10.213.0.3"), "\(resolv)")
        let failing = try Self.pct(node, ["exec", "300", "--", "sh", "-c", "exit 7"])
        #expect(failing.status == 7, "pct exec passes the exit status on")
        let ifaces = try curl(node, "/api2/json/nodes/ctt/lxc/300/interfaces").body
        #expect(ifaces.contains("10.213.0.2"), "\(ifaces)")
        let resources = try curl(node, "/api2/json/cluster/resources?type=vm").body
        #expect(resources.contains("\"id\":\"lxc/300\""), "\(resources)")
        s = try Self.status(node, 300)
        #expect((s["mem"] as? Int ?? 0) > 0 && (s["netout"] as? Int ?? 0) > 0 && (s["disk"] as? Int ?? 0) > 0, "\(s)")

        // the terminal through termproxy and its WebSocket: a tty by default, an attached shell with cmode shell
        for mode in ["tty", "shell"] {
            #expect(try curl(node, "/api2/json/nodes/ctt/lxc/300/config", ["-X", "PUT", "-d", "cmode=\(mode)"]).status == 200)
            let probe = try Self.terminal(node, 300, line: "echo hi-$((6*7))", expect: "hi-42")
            #expect(probe.status == 0, "\(mode): \(probe.stdout)\(probe.stderr)")
        }

        // push and pull
        let file = node.dataDirectory + "/push.txt"
        try "pushed-\(pid)\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try Self.pct(node, ["push", "300", file, "/root/pushed.txt", "--perms", "600"]).status == 0)
        #expect(try Self.pct(node, ["pull", "300", "/root/pushed.txt", file + ".back"]).status == 0)
        #expect((try? String(contentsOfFile: file + ".back", encoding: .utf8)) == "pushed-\(pid)\n")

        // suspend freezes every process; resume thaws them
        #expect(try VMTests.task(node, "POST", "/nodes/ctt/lxc/300/status/suspend") == "OK")
        #expect(try Self.status(node, 300)["frozen"] as? Int == 1)
        #expect(try VMTests.task(node, "POST", "/nodes/ctt/lxc/300/status/resume") == "OK")
        #expect(try Self.status(node, 300)["frozen"] == nil)

        // live memory change goes to the cgroup; a hostname change waits for the next start
        #expect(
            try curl(node, "/api2/json/nodes/ctt/lxc/300/config", ["-X", "PUT", "-d", "memory=256", "-d", "hostname=corral-ct-two"]).status == 200)
        let pending = try curl(node, "/api2/json/nodes/ctt/lxc/300/pending").body
        #expect(pending.contains("\"pending\":\"corral-ct-two\""), "\(pending)")

        // the container outlives a corrald restart and is found again
        _ = node.terminate()
        stopped = true
        let again = try Self.startNode(dataDirectory: node.dataDirectory)
        defer { _ = again.terminate() }
        s = try Self.status(again, 300)
        #expect(s["status"] as? String == "running" && s["pid"] as? Int == pid, "after restart: \(s)")

        // the root file system grows while the container runs (its file system at once, or before the next start where the host forbids online growth)
        #expect(try VMTests.task(again, "PUT", "/nodes/ctt/lxc/300/resize", ["disk=rootfs", "size=+64M"]) == "OK")
        #expect(try curl(again, "/api2/json/nodes/ctt/lxc/300/config").body.contains("size=320M"))
        // reboot applies the pending hostname (written into the guest again)
        #expect(try VMTests.task(again, "POST", "/nodes/ctt/lxc/300/status/reboot", ["timeout=20"]) == "OK")
        #expect(try Self.pct(again, ["exec", "300", "--", "cat", "/etc/hostname"]).stdout == "corral-ct-two\n")

        let df = try Self.pct(again, ["exec", "300", "--", "df", "-k", "/"]).stdout
        let blocks = df.split(separator: "\n").last?.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        #expect(blocks > 280_000, "the file system did not grow: \(df)")

        // a dir storage's raw images take no snapshots (as on PVE): refused before anything changes
        let snapshot = try VMTests.task(again, "POST", "/nodes/ctt/lxc/300/snapshot", ["snapname=first"])
        #expect(snapshot.contains("snapshot feature is not available"), "\(snapshot)")
        #expect(!(try curl(again, "/api2/json/nodes/ctt/lxc/300/config").body.contains("lock")))
        // a second container from the uploaded template, privileged, on a directory volume
        #expect(
            try VMTests.task(again, "POST", "/nodes/ctt/lxc", ["vmid=301", "ostemplate=\(uploaded)", "unprivileged=0", "rootfs=local:0"]) == "OK")
        #expect(try VMTests.task(again, "POST", "/nodes/ctt/lxc/301/status/start") == "OK")
        let root = try Self.pct(again, ["exec", "301", "--", "id", "-u"])
        #expect(root.stdout == "0\n")
        // no hostname given: CT<vmid>, in the config and in the guest
        #expect(try Self.pct(again, ["exec", "301", "--", "cat", "/etc/hostname"]).stdout == "CT301\n")
        let pid301 = try Self.status(again, 301)["pid"] as? Int ?? 0
        let uid301 = (try? String(contentsOfFile: "/proc/\(pid301)/status", encoding: .utf8))?.split(separator: "\n").first { $0.hasPrefix("Uid:") }
        #expect(uid301?.split(separator: "\t").dropFirst().first == "0")

        // stop, shutdown, destroy: nothing is left behind
        #expect(try VMTests.task(again, "POST", "/nodes/ctt/lxc/300/status/shutdown", ["timeout=20"]) == "OK")
        #expect(try VMTests.task(again, "POST", "/nodes/ctt/lxc/301/status/stop") == "OK")
        #expect(try Self.status(again, 300)["status"] as? String == "stopped")

        // a template's volumes become base volumes; a full clone of it boots on its own copy
        #expect(try VMTests.task(again, "POST", "/nodes/ctt/lxc/300/template") == "OK")
        #expect(try curl(again, "/api2/json/nodes/ctt/lxc/300/config").body.contains("local:300/base-300-disk-0.raw"))
        #expect(try VMTests.task(again, "POST", "/nodes/ctt/lxc/300/clone", ["newid=302", "hostname=corral-ct-clone"]) == "OK")
        #expect(try VMTests.task(again, "POST", "/nodes/ctt/lxc/302/status/start") == "OK")
        #expect(try Self.pct(again, ["exec", "302", "--", "cat", "/etc/hostname"]).stdout == "corral-ct-clone\n")
        #expect(try Self.pct(again, ["exec", "302", "--", "cat", "/root/pushed.txt"]).stdout == "pushed-\(pid)\n")
        #expect(try VMTests.task(again, "POST", "/nodes/ctt/lxc/302/status/stop") == "OK")
        for vmid in [302, 300, 301] { #expect(try VMTests.task(again, "DELETE", "/nodes/ctt/lxc/\(vmid)") == "OK") }
        let fm = FileManager.default
        #expect(((try? fm.contentsOfDirectory(atPath: again.dataDirectory + "/vz/images")) ?? []).isEmpty)
        #expect(((try? fm.contentsOfDirectory(atPath: again.dataDirectory + "/lxc")) ?? []).isEmpty)
        #expect(((try? fm.contentsOfDirectory(atPath: again.dataDirectory + "/pve/nodes/ctt/lxc")) ?? []).isEmpty)
    }

    @Test func badInputIsRefusedAndLeavesNothing() throws {
        let node = try Self.startNode()
        defer { _ = node.terminate() }
        let (built, _) = try Self.templates(node)
        func create(_ form: [String]) throws -> (status: Int, errors: [String: Any]) {
            let r = try curl(node, "/api2/json/nodes/ctt/lxc", ["-X", "POST"] + form.flatMap { ["--data-urlencode", $0] })
            return (r.status, VMTests.json(r.body)["errors"] as? [String: Any] ?? [:])
        }
        for (form, parameter) in [
            (["vmid=99", "ostemplate=\(built)"], "vmid"),
            (["vmid=310"], "ostemplate"),
            (["vmid=310", "ostemplate=local:vztmpl/missing.tar.gz"], "ostemplate"),
            (["vmid=310", "ostemplate=\(built)", "rootfs=nosuch:1"], "rootfs"),
            (["vmid=310", "ostemplate=\(built)", "net0=name=eth0,ip=300.1.1.1/24"], "net0"),
            (["vmid=310", "ostemplate=\(built)", "memory=8"], "memory"),
            (["vmid=310", "ostemplate=\(built)", "hostname=bad_name!"], "hostname"),
            (["vmid=310", "ostemplate=\(built)", "nosuchoption=1"], "nosuchoption"),
        ] {
            let r = try create(form)
            #expect(r.status == 400 && r.errors[parameter] != nil, "\(form): \(r)")
        }
        // a template that cannot be unpacked: the allocated volume and the config are removed again
        let broken = node.dataDirectory + "/vz/template/cache/broken_1.0_amd64.tar.gz"
        try "not a tarball".write(toFile: broken, atomically: true, encoding: .utf8)
        #expect(
            try VMTests.task(node, "POST", "/nodes/ctt/lxc", ["vmid=311", "ostemplate=local:vztmpl/broken_1.0_amd64.tar.gz", "rootfs=local:0.1"])
                != "OK")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: node.dataDirectory + "/vz/images")) ?? []).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: node.dataDirectory + "/pve/nodes/ctt/lxc/311.conf"))
        // a feature this build cannot give is refused at start by name, and the container stays stopped
        // (features beyond nesting and keyctl are root@pam's: pct, on the node, is root)
        #expect(try Self.pct(node, ["create", "312", built, "--rootfs", "local:0", "--features", "mknod=1"]).status == 0)
        let start = try curl(node, "/api2/json/nodes/ctt/lxc/312/status/start", ["-X", "POST"])
        let upid = VMTests.json(start.body)["data"] as? String ?? ""
        usleep(1_500_000)
        let log = try curl(node, "/api2/json/nodes/ctt/tasks/\(upid)/log").body
        #expect(log.contains("mknod"), "\(log)")
        #expect(try Self.status(node, 312)["status"] as? String == "stopped")
        #expect(try VMTests.task(node, "DELETE", "/nodes/ctt/lxc/312") == "OK")
    }
}

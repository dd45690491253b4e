import Foundation
import Glibc
import TestSupport
import Testing

/// Forming and running a cluster with Corral's own tools: three standalone nodes (a network
/// namespace each, corrald on the node's address, the corosync it starts with its own paths), a
/// cluster created through the API, one node joined through the API and one through `pvecm add`,
/// then every node managed through node 1.
@Suite(.serialized, .enabled(if: TestCluster.available, "needs root, /dev/fuse and corosync")) struct ClusterManagementTests {
    static let prefix = "cmgt"
    static let subnet = "10.213.12"

    final class Nodes: @unchecked Sendable {
        let dir = NSTemporaryDirectory() + "corral-cmgt-\(UUID().uuidString.prefix(8))"
        var daemons: [Int: NodeProcess] = [:]
        let environment = ["CORRAL_CLUSTER_PREFIX": ClusterManagementTests.prefix, "CORRAL_CLUSTER_SUBNET": ClusterManagementTests.subnet]

        func script(_ arguments: [String]) throws -> CommandResult {
            try runCommand("/bin/bash", [TestCluster.script] + arguments, environment: environment)
        }

        func address(_ i: Int) -> String { "\(ClusterManagementTests.subnet).\(i)" }

        /// The node's settings file: its own corosync paths, corosync started by corrald.
        func settingsFile(_ i: Int) throws -> String {
            let path = "\(dir)/n\(i).conf"
            let node = "\(dir)/n\(i)"
            try FileManager.default.createDirectory(atPath: node, withIntermediateDirectories: true)
            try """
            corosync-conf: \(node)/corosync.conf
            corosync-authkey: \(node)/authkey
            corosync-start: direct
            corosync-run-dir: \(node)/run
            corosync-state-dir: \(node)/state
            join-timeout: 60

            """.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        func start(_ i: Int) throws {
            daemons[i] = try NodeProcess(
                name: "n\(i)", dataDirectory: "\(dir)/d\(i)", networkNamespace: "\(ClusterManagementTests.prefix)n\(i)", host: address(i),
                config: try settingsFile(i))
        }

        func node(_ i: Int) -> NodeProcess { daemons[i]! }

        /// The CLI as root on node i (in its network namespace: the member sees the node's own address).
        func corral(_ i: Int, _ arguments: [String], extra: [String: String] = [:]) throws -> CommandResult {
            try runCommand(
                "/usr/bin/nsenter", ["--net=/run/netns/\(ClusterManagementTests.prefix)n\(i)", NodeProcess.buildDirectory + "/corral"] + arguments,
                environment: ["CORRAL_DATA_DIR": "\(dir)/d\(i)", "CORRAL_NODENAME": "n\(i)", "CORRAL_CONFIG": "\(dir)/n\(i).conf"].merging(extra) {
                    $1
                })
        }

        func down() {
            for (_, daemon) in daemons { _ = daemon.terminate() }
            _ = try? script(["down", dir])
            let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
            for line in mounts.split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.count > 1, fields[1].hasPrefix(dir + "/") { umount2(String(fields[1]), Int32(MNT_DETACH)) }
            }
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    static func data(_ body: String) -> Any? { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["data"] }

    static func waitUntil(_ timeout: Double, _ condition: () throws -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if (try? condition()) == true { return true }
            usleep(200_000)
        } while Date() < deadline
        return false
    }

    /// Follows a task on node `node` (through `via`) to its end: its exit status.
    static func waitTask(_ via: NodeProcess, _ upid: String, node: String, timeout: Double = 60) -> String? {
        var exit: String?
        _ = waitUntil(timeout) {
            let encoded = upid.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let r = try curl(via, "/api2/json/nodes/\(node)/tasks/\(encoded)/status")
            let status = data(r.body) as? [String: Any]
            exit = status?["exitstatus"] as? String
            return status?["status"] as? String == "stopped"
        }
        return exit
    }

    /// `/cluster/status` of a node: the cluster row and the node rows by name.
    static func clusterStatus(_ node: NodeProcess) throws -> (cluster: [String: Any]?, nodes: [String: [String: Any]]) {
        let rows = data(try curl(node, "/api2/json/cluster/status").body) as? [[String: Any]] ?? []
        var nodes: [String: [String: Any]] = [:]
        for row in rows where row["type"] as? String == "node" { nodes[row["name"] as? String ?? ""] = row }
        return (rows.first { $0["type"] as? String == "cluster" }, nodes)
    }

    static func onlineCount(_ node: NodeProcess) -> Int {
        ((try? clusterStatus(node))?.nodes.values.filter { "\($0["online"] ?? 0)" == "1" }.count) ?? 0
    }

    /// Logs in again as root@pam (a node that joined took the cluster's keys) once its API answers.
    static func relogin(_ node: NodeProcess, timeout: Double = 90) -> Bool {
        waitUntil(timeout) {
            try node.loginAsRoot()
            return try curl(node, "/api2/json/version").status == 200
        }
    }

    @Test func standaloneNodesFormAClusterAndAreManagedFromAnyNode() throws {
        let nodes = Nodes()
        defer { nodes.down() }
        _ = try? nodes.script(["down", nodes.dir])
        let net = try nodes.script(["net", "3", nodes.dir])
        try #require(net.status == 0, "\(net.stdout)\(net.stderr)")
        for i in 1...3 { try nodes.start(i) }
        let (n1, n2, n3) = (nodes.node(1), nodes.node(2), nodes.node(3))
        // an administrator who is not root may not form clusters (as PVE: root@pam only)
        let denied = try curl(n1, "/api2/json/cluster/config", ["-d", "clustername=nope"])
        #expect(denied.status == 403, "\(denied.body)")
        for node in [n1, n2, n3] { try node.loginAsRoot() }

        // standalone, with no setting changed: the node's own row, nodeid 0, and no join information
        let alone = try Self.clusterStatus(n1)
        #expect(alone.cluster == nil && alone.nodes["n1"]?["nodeid"] as? Int == 0)
        #expect(try curl(n1, "/api2/json/cluster/config/join").status == 500)
        // joining a standalone node is refused by it, and nothing changes on the joiner
        let openssl = try runCommand(
            "/usr/bin/openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", "\(nodes.dir)/d1/pve/nodes/n1/pve-ssl.pem"])
        let fp1: String? = openssl.stdout.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        let early = try curl(
            n2, "/api2/json/cluster/config/join",
            ["-d", "hostname=\(nodes.address(1))", "-d", "fingerprint=\(fp1 ?? "")", "-d", "password=cjt1.0000.0000"])
        if let upid = Self.data(early.body) as? String { #expect(Self.waitTask(n2, upid, node: "n2") != "OK") }
        #expect(!FileManager.default.fileExists(atPath: "\(nodes.dir)/n2/corosync.conf"))

        // create on node 1 through the API: corrald restarts into cluster mode, its guests' data kept
        let create = try curl(n1, "/api2/json/cluster/config", ["-d", "clustername=corral-t", "-d", "link0=\(nodes.address(1))"])
        let createUPID = try #require(Self.data(create.body) as? String, "\(create.body)")
        #expect(Self.waitTask(n1, createUPID, node: "n1") == "OK")
        #expect(Self.relogin(n1))
        #expect(Self.waitUntil(30) { try Self.clusterStatus(n1).cluster?["quorate"] as? Int == 1 })
        #expect(try curl(n1, "/api2/json/cluster/config", ["-d", "clustername=again"]).status == 500)

        // join information and a one-time token
        let join = try #require(Self.data(try curl(n1, "/api2/json/cluster/config/join").body) as? [String: Any])
        let fingerprint = try #require((join["nodelist"] as? [[String: Any]])?.first?["pve_fp"] as? String)
        let token = try #require(
            (Self.data(try curl(n1, "/api2/json/cluster/config/join-token", ["-X", "POST"]).body) as? [String: Any])?["token"] as? String)

        // a wrong fingerprint is refused and changes nothing
        let wrong = String(fingerprint.reversed())
        let bad = try curl(
            n2, "/api2/json/cluster/config/join", ["-d", "hostname=\(nodes.address(1))", "-d", "fingerprint=\(wrong)", "-d", "password=\(token)"])
        if let upid = Self.data(bad.body) as? String {
            #expect(Self.waitTask(n2, upid, node: "n2")?.contains("fingerprint") == true)
        } else {
            #expect(bad.status == 400, "\(bad.body)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(nodes.dir)/n2/corosync.conf"))

        // node 2 joins through the API with the token
        let joined = Date()
        let good = try curl(
            n2, "/api2/json/cluster/config/join",
            ["-d", "hostname=\(nodes.address(1))", "-d", "fingerprint=\(fingerprint)", "-d", "password=\(token)"])
        let joinUPID = try #require(Self.data(good.body) as? String, "\(good.body)")
        #expect(Self.waitTask(n2, joinUPID, node: "n2") == "OK")
        #expect(Self.waitUntil(60) { Self.onlineCount(n1) == 2 }, "\(n2.log)")
        print("node 2 joined and online after \(String(format: "%.1f", Date().timeIntervalSince(joined))) s")
        #expect(Self.relogin(n2))
        // the token served once
        let reuse = try nodes.corral(3, ["pvecm", "add", nodes.address(1), "--fingerprint", fingerprint, "--token", token])
        #expect(reuse.status != 0 && reuse.stderr.contains("join token"), "\(reuse.stdout)\(reuse.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(nodes.dir)/n3/corosync.conf"))
        // a name already in the cluster is refused by the member
        let taken = try curl(n1, "/api2/json/cluster/config/nodes/n2", ["-d", "link0=10.213.12.99"])
        #expect(taken.status == 400 && taken.body.contains("already in the cluster"), "\(taken.body)")

        // a node with guests may not join
        let guest = "\(nodes.dir)/d3/pve/nodes/n3/qemu-server/999.conf"
        #expect(writeThroughFUSE(guest, "memory: 64\n") == 0)
        let withGuests = try nodes.corral(3, ["pvecm", "add", nodes.address(1), "--fingerprint", fingerprint, "--token", "cjt1.00.00"])
        #expect(withGuests.status != 0 && withGuests.stderr.contains("has guests"), "\(withGuests.stdout)\(withGuests.stderr)")
        try FileManager.default.removeItem(atPath: guest)

        // node 3 joins with `pvecm add`
        let token3 = try #require(
            (Self.data(try curl(n1, "/api2/json/cluster/config/join-token", ["-X", "POST"]).body) as? [String: Any])?["token"] as? String)
        let add = try nodes.corral(3, ["pvecm", "add", nodes.address(1), "--fingerprint", fingerprint, "--token", token3])
        #expect(add.status == 0, "\(add.stdout)\(add.stderr)")
        #expect(Self.waitUntil(60) { Self.onlineCount(n1) == 3 }, "\(n3.log)")
        #expect(Self.relogin(n3))
        let status = try nodes.corral(1, ["pvecm", "status"])
        #expect(status.stdout.contains("Nodes:            3") && status.stdout.contains("Quorate:          Yes"), "\(status.stdout)\(status.stderr)")
        // every node's copy of corosync.conf carries the same, latest version
        let versions = (1...3).map { i in
            ((try? String(contentsOfFile: "\(nodes.dir)/n\(i)/corosync.conf", encoding: .utf8)) ?? "").split(separator: "\n")
                .first { $0.contains("config_version") }
        }
        #expect(Set(versions).count == 1 && versions[0]?.contains("3") == true, "\(versions)")

        // through node 1 only: a guest on node 3, listed by every node
        let vm = try curl(n1, "/api2/json/nodes/n3/qemu", ["-d", "vmid=300", "-d", "name=far", "-d", "memory=64"])
        let vmUPID = try #require(Self.data(vm.body) as? String, "\(vm.body)")
        #expect(vmUPID.hasPrefix("UPID:n3:"))
        #expect(Self.waitTask(n1, vmUPID, node: "n3") == "OK")
        for node in [n1, n2, n3] {
            #expect(
                Self.waitUntil(2) {
                    let rows = Self.data(try curl(node, "/api2/json/cluster/resources?type=vm").body) as? [[String: Any]] ?? []
                    return rows.contains { $0["vmid"] as? Int == 300 && $0["node"] as? String == "n3" }
                })
        }
        // every node's nodes and tasks, from node 1's own data
        let nodeList = Self.data(try curl(n1, "/api2/json/nodes").body) as? [[String: Any]] ?? []
        #expect(
            Set(nodeList.filter { $0["status"] as? String == "online" }.compactMap { $0["node"] as? String }) == ["n1", "n2", "n3"], "\(nodeList)")
        #expect(
            Self.waitUntil(2) {
                let tasks = Self.data(try curl(n1, "/api2/json/cluster/tasks").body) as? [[String: Any]] ?? []
                return tasks.contains { $0["upid"] as? String == vmUPID }
            })
        let config = try curl(n1, "/api2/json/nodes/n3/qemu/300/config")
        #expect((Self.data(config.body) as? [String: Any])?["name"] as? String == "far", "\(config.body)")
        // proxied errors keep PVE's shape
        let missing = try curl(n1, "/api2/json/nodes/n3/qemu/399/config")
        #expect(missing.status == 500 && missing.body.contains("does not exist"), "\(missing.body)")

        // an upload for node 3 through node 1 streams on to node 3
        let iso = nodes.dir + "/far.iso"
        try Data(repeating: 0x5A, count: 3 << 20).write(to: URL(fileURLWithPath: iso))
        let upload = try curl(n1, "/api2/json/nodes/n3/storage/local/upload", ["-F", "content=iso", "-F", "filename=@\(iso)"])
        let uploadUPID = try #require(Self.data(upload.body) as? String, "\(upload.body)")
        #expect(uploadUPID.hasPrefix("UPID:n3:") && Self.waitTask(n1, uploadUPID, node: "n3") == "OK")
        let isos = Self.data(try curl(n1, "/api2/json/nodes/n3/storage/local/content?content=iso").body) as? [[String: Any]] ?? []
        #expect(isos.contains { $0["volid"] as? String == "local:iso/far.iso" && $0["size"] as? Int == 3 << 20 }, "\(isos)")

        // a container on node 3 through node 1: made from a template built there, started, its
        // terminal opened (termproxy, then the WebSocket relayed by node 1), stopped and deleted
        let template = "busybox-1.35-corral_1.0-1_amd64.tar.gz"
        let built = try curl(n1, "/api2/json/nodes/n3/aplinfo", ["-d", "storage=local", "-d", "template=\(template)"])
        #expect(Self.waitTask(n1, try #require(Self.data(built.body) as? String, "\(built.body)"), node: "n3") == "OK")
        let ct = try curl(
            n1, "/api2/json/nodes/n3/lxc",
            ["-d", "vmid=310", "-d", "ostemplate=local:vztmpl/\(template)", "-d", "rootfs=local:0.1", "-d", "hostname=far-ct", "-d", "start=1"])
        #expect(Self.waitTask(n1, try #require(Self.data(ct.body) as? String, "\(ct.body)"), node: "n3") == "OK")
        let cookie = String((n1.cookie ?? "").dropFirst("PVEAuthCookie=".count))
        let terminal = try runCommand(
            "/usr/bin/python3",
            [NodeProcess.repository + "/Tests/Tools/wsclient.py", "8006", cookie, n1.csrf ?? "", "/nodes/n3/lxc/310", "echo far-$((6*7))", "far-42"],
            environment: ["WSCLIENT_HOST": nodes.address(1)])
        #expect(terminal.status == 0 && terminal.stdout.contains("far-42"), "\(terminal.stdout)\(terminal.stderr)")
        let stop = try curl(n1, "/api2/json/nodes/n3/lxc/310/status/stop", ["-X", "POST"])
        #expect(Self.waitTask(n1, try #require(Self.data(stop.body) as? String, "\(stop.body)"), node: "n3") == "OK")
        let removeCT = try curl(n1, "/api2/json/nodes/n3/lxc/310", ["-X", "DELETE"])
        #expect(Self.waitTask(n1, try #require(Self.data(removeCT.body) as? String, "\(removeCT.body)"), node: "n3") == "OK")

        // node 2 dies: the others show it offline, calls for it fail at once, the rest keep working
        nodes.daemons.removeValue(forKey: 2)?.kill9()
        if let pid = try? String(contentsOfFile: "\(nodes.dir)/n2/run/corosync.pid", encoding: .utf8),
            let p = pid_t(pid.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            kill(p, SIGKILL)
        }
        #expect(Self.waitUntil(20) { Self.onlineCount(n1) == 2 })
        let started = Date()
        let offline = try curl(n1, "/api2/json/nodes/n2/status")
        #expect(offline.status == 595 && Date().timeIntervalSince(started) < 2, "\(offline.status) \(offline.body)")
        #expect(try curl(n1, "/api2/json/nodes/n3/status").status == 200)
        let afterDeath = Self.data(try curl(n1, "/api2/json/nodes").body) as? [[String: Any]] ?? []
        #expect(afterDeath.first { $0["node"] as? String == "n2" }?["status"] as? String == "offline", "\(afterDeath)")
        let resources = Self.data(try curl(n3, "/api2/json/cluster/resources?type=node").body) as? [[String: Any]] ?? []
        #expect(resources.first { $0["node"] as? String == "n2" }?["status"] as? String == "offline", "\(resources)")

        // delete the guest on node 3 through node 1, then remove node 2 and let it join again
        let destroy = try curl(n1, "/api2/json/nodes/n3/qemu/300", ["-X", "DELETE"])
        if let upid = Self.data(destroy.body) as? String { #expect(Self.waitTask(n1, upid, node: "n3") == "OK") }
        #expect(try curl(n1, "/api2/json/cluster/config/nodes/n2", ["-X", "DELETE"]).status == 200)
        let nodelist = Self.data(try curl(n3, "/api2/json/cluster/config/nodes").body) as? [[String: Any]] ?? []
        #expect(Set(nodelist.compactMap { $0["node"] as? String }) == ["n1", "n3"])
        try witnessKeepsTwoNodesQuorate(nodes, n1)

        try nodes.start(2)
        let token2 = try #require(
            (Self.data(try curl(n1, "/api2/json/cluster/config/join-token", ["-X", "POST"]).body) as? [String: Any])?["token"] as? String)
        let again = try nodes.corral(2, ["pvecm", "add", nodes.address(1), "--fingerprint", fingerprint, "--token", token2, "--force"])
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        #expect(Self.waitUntil(60) { Self.onlineCount(n1) == 3 }, "\(nodes.node(2).log)")
    }

    /// Two nodes and a witness (corosync-qnetd on the host, set up with `pvecm qdevice setup` on
    /// node 1, its certificates unpacked as an admin would): node 3 dies and node 1 stays quorate.
    func witnessKeepsTwoNodesQuorate(_ nodes: Nodes, _ n1: NodeProcess) throws {
        let witness = "\(Self.subnet).254", qnetdDir = "\(nodes.dir)/qnetd", bundle = "\(nodes.dir)/qnetd.tar.gz"
        let setup = try nodes.corral(1, ["pvecm", "qdevice", "setup", witness, "--port", "15403", "--bundle", bundle])
        #expect(setup.status == 0 && setup.stdout.contains("/etc/corosync/qnetd/nssdb"), "\(setup.stdout)\(setup.stderr)")
        let again = try nodes.corral(1, ["pvecm", "qdevice", "setup", witness])
        #expect(again.status != 0 && again.stderr.contains("configured already"), "\(again.stdout)\(again.stderr)")
        let conf = (try? String(contentsOfFile: "\(nodes.dir)/n3/corosync.conf", encoding: .utf8)) ?? ""
        #expect(
            Self.waitUntil(10) {
                ((try? String(contentsOfFile: "\(nodes.dir)/n3/corosync.conf", encoding: .utf8)) ?? "").contains("host: \(witness)")
            }, "\(conf)")
        try FileManager.default.createDirectory(atPath: qnetdDir + "/nssdb", withIntermediateDirectories: true)
        let unpacked = try runCommand("/bin/tar", ["-xzf", bundle, "-C", qnetdDir + "/nssdb"])
        try #require(unpacked.status == 0, "\(unpacked.stderr)")
        let qnetd = Process()
        qnetd.executableURL = URL(fileURLWithPath: "/usr/bin/corosync-qnetd")
        qnetd.arguments = [
            "-f", "-d", "-4", "-l", witness, "-p", "15403", "-S",
            "nss_db_dir=\(qnetdDir)/nssdb,lock_file=\(qnetdDir)/qnetd.pid,local_socket_file=\(qnetdDir)/qnetd.sock",
        ]
        FileManager.default.createFile(atPath: qnetdDir + "/qnetd.log", contents: nil)
        let log = FileHandle(forWritingAtPath: qnetdDir + "/qnetd.log")
        qnetd.standardOutput = log
        qnetd.standardError = log
        try qnetd.run()
        defer {
            // qnetd waits for its clients on SIGTERM
            kill(qnetd.processIdentifier, SIGKILL)
            qnetd.waitUntilExit()
        }
        let n3 = nodes.node(3)
        func state(_ node: NodeProcess) -> String? {
            ((try? curl(node, "/api2/json/cluster/config/qdevice")).flatMap { Self.data($0.body) } as? [String: Any])?["State"] as? String
        }
        func logs() -> String {
            ["d1/corosync-qdevice.log", "d3/corosync-qdevice.log", "qnetd/qnetd.log"].map {
                "\($0): " + ((try? String(contentsOfFile: "\(nodes.dir)/\($0)", encoding: .utf8)) ?? "-").suffix(1500)
            }.joined(separator: "\n")
                + ((try? runCommand("/usr/sbin/corosync-qdevice-tool", ["-sv", "-p", "\(nodes.dir)/n1/run/corosync-qdevice/corosync-qdevice.sock"]))?
                    .stdout ?? "")
        }
        #expect(Self.waitUntil(40) { state(n1) == "Connected" && state(n3) == "Connected" }, "\(logs())")

        // node 3 dies (corrald, corosync and its qdevice): node 1 alone keeps quorum with the witness's vote
        nodes.daemons.removeValue(forKey: 3)?.kill9()
        for pidFile in ["run/corosync-qdevice/corosync-qdevice.pid", "run/corosync.pid"] {
            if let text = try? String(contentsOfFile: "\(nodes.dir)/n3/\(pidFile)", encoding: .utf8),
                let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                kill(pid, SIGKILL)
            }
        }
        #expect(Self.waitUntil(20) { Self.onlineCount(n1) == 1 })
        #expect(Self.waitUntil(20) { try Self.clusterStatus(n1).cluster?["quorate"] as? Int == 1 }, "\(logs())")
        // writes need quorum: a join token is stored in the cluster's files
        #expect(try curl(n1, "/api2/json/cluster/config/join-token", ["-X", "POST"]).status == 200)

        // node 3 comes back; the witness goes, and every node's qdevice stops
        try nodes.start(3)
        #expect(Self.waitUntil(60) { Self.onlineCount(n1) == 2 }, "\(nodes.node(3).log)")
        let removed = try nodes.corral(1, ["pvecm", "qdevice", "remove"])
        #expect(removed.status == 0, "\(removed.stdout)\(removed.stderr)")
        #expect(Self.data(try curl(n1, "/api2/json/cluster/config/qdevice").body) as? [String: Any] != nil)
        #expect((Self.data(try curl(n1, "/api2/json/cluster/config/qdevice").body) as? [String: Any])?.isEmpty == true)
        #expect(
            Self.waitUntil(15) {
                [1, 3].allSatisfy { !FileManager.default.fileExists(atPath: "\(nodes.dir)/n\($0)/state/qdevice") }
            })
    }
}

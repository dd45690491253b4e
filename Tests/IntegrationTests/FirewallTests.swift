import Foundation
import Glibc
import TestSupport
import Testing

/// The firewall with real traffic: a node (corrald in a network namespace of its own, so its
/// ruleset cannot touch the machine's), two containers on a bridge there, rules set through the API
/// and checked with real TCP connections between the containers and to the node's API port.
@Suite(.serialized) struct FirewallTests {
    static let namespace = "crlfw-node"
    static let bridge = "fwbr0"
    static let nodeAddress = "10.215.0.2"
    static let otherClient = "10.215.0.5"
    static let a = (vmid: 360, ip: "10.216.0.10")
    static let b = (vmid: 361, ip: "10.216.0.11")

    static func sh(_ script: String) throws -> CommandResult { try runCommand("/bin/bash", ["-c", script]) }

    static func makeNetwork() throws {
        removeNetwork()
        let r = try sh(
            """
            set -e
            ip netns add \(namespace)
            ip link add crlfwh0 type veth peer name crlfwn0
            ip link set crlfwn0 netns \(namespace)
            ip addr add 10.215.0.1/24 dev crlfwh0
            ip addr add \(otherClient)/24 dev crlfwh0
            ip link set crlfwh0 up
            ip -n \(namespace) addr add \(nodeAddress)/24 dev crlfwn0
            ip -n \(namespace) link set crlfwn0 up
            ip -n \(namespace) link set lo up
            ip -n \(namespace) link add \(bridge) type bridge
            ip -n \(namespace) link set \(bridge) up
            ip netns exec \(namespace) sysctl -qw net.bridge.bridge-nf-call-iptables=1
            sysctl -qw net.netfilter.nf_log_all_netns=1
            """)
        guard r.status == 0 else { throw TestFailure("cannot build the test network: \(r.stderr)") }
    }

    static func removeNetwork() {
        _ = try? sh("ip netns del \(namespace) 2>/dev/null; ip link del crlfwh0 2>/dev/null; true")
    }

    static func api(
        _ node: NodeProcess, _ method: String, _ path: String, _ form: [String] = [], from: String? = nil
    ) throws -> (
        status: Int, body: String
    ) {
        let source = from.map { ["--interface", $0] } ?? []
        return try curl(node, "/api2/json" + path, ["-X", method, "--max-time", "5"] + source + form.flatMap { ["--data-urlencode", $0] })
    }

    static func ok(_ node: NodeProcess, _ method: String, _ path: String, _ form: [String] = [], from: String? = nil) throws {
        let r = try api(node, method, path, form, from: from)
        guard r.status == 200 else { throw TestFailure("\(method) \(path) \(form): \(r.status) \(r.body)") }
    }

    /// The container's init, whose network namespace is the container's.
    static func pid(_ node: NodeProcess, _ vmid: Int) throws -> Int {
        let status = VMTests.json(try curl(node, "/api2/json/nodes/fwt/lxc/\(vmid)/status/current").body)["data"] as? [String: Any]
        guard let pid = status?["pid"] as? Int else { throw TestFailure("CT \(vmid) has no pid: \(String(describing: status))") }
        return pid
    }

    /// A TCP connection from container `from` to `to:port`: true when the server's greeting came back.
    static func connects(_ node: NodeProcess, from: Int, to ip: String, port: Int) throws -> Bool {
        // python's socket timeouts, not busybox nc's: nc times out by SIGALRM, which the test process blocks for its children
        let probe =
            "import socket\ntry:\n s = socket.create_connection(('\(ip)', \(port)), 3)\n s.settimeout(3)\n print(s.recv(64).decode())\nexcept OSError as e:\n print(e)"
        let r = try runCommand("/usr/bin/nsenter", ["-t", "\(try pid(node, from))", "-n", "python3", "-c", probe])
        return r.stdout.contains("hello-\(port)")
    }

    static func ruleset() throws -> String {
        try sh("ip netns exec \(namespace) nft list table inet corral 2>&1").stdout
    }

    @Test func rulesBetweenContainersAndOnTheHost() throws {
        try Self.makeNetwork()
        defer { Self.removeNetwork() }
        let node = try NodeProcess.isolated(name: "fwt", namespace: Self.namespace, host: Self.nodeAddress)
        defer {
            _ = node.terminate()
            NodeProcess.releaseIsolated(node.dataDirectory)
        }

        var servers: [Process] = []
        defer { for server in servers { kill(server.processIdentifier, SIGKILL) } }  // TERM is blocked in children of the test process
        // two busybox containers on the namespace's bridge, both with firewall=1 on their NIC
        let template = "busybox-1.35-corral_1.0-1_amd64.tar.gz"
        #expect(try VMTests.task(node, "POST", "/nodes/fwt/aplinfo", ["storage=local", "template=\(template)"]) == "OK")
        for ct in [Self.a, Self.b] {
            let created = try VMTests.task(
                node, "POST", "/nodes/fwt/lxc",
                [
                    "vmid=\(ct.vmid)", "ostemplate=local:vztmpl/\(template)", "rootfs=local:0.1", "password=fw-secret-1",
                    "net0=name=eth0,bridge=\(Self.bridge),ip=\(ct.ip)/24,firewall=1", "start=1",
                ])
            let createLog = created == "OK" ? "" : try GuestAgentTests.lastTaskLog(node, type: "vzcreate")
            #expect(created == "OK", "\(createLog)")
            // a greeting server on 22, 23 and 80 in the container's network namespace
            let pid = try Self.pid(node, ct.vmid)
            for port in [22, 23, 80] {
                let server = Process()
                server.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
                server.arguments = ["-t", "\(pid)", "-n", "busybox", "nc", "-ll", "-p", "\(port)", "-e", "echo", "hello-\(port)"]
                server.standardInput = FileHandle.nullDevice
                server.standardOutput = FileHandle.nullDevice
                server.standardError = FileHandle.nullDevice
                try server.run()
                servers.append(server)
            }
        }
        usleep(300_000)
        // the firewall is off: everything connects, and no table exists
        #expect(try Self.connects(node, from: Self.a.vmid, to: Self.b.ip, port: 22))
        #expect(try Self.ruleset().contains("No such file") || !(try Self.ruleset().contains("table inet corral")))

        // a security group for both, an IP set as a source, a drop with logging; policy DROP (the default)
        try Self.ok(node, "POST", "/cluster/firewall/groups", ["group=web", "comment=web servers"])
        try Self.ok(node, "POST", "/cluster/firewall/groups/web", ["type=in", "action=ACCEPT", "macro=HTTP", "enable=1"])
        try Self.ok(node, "POST", "/cluster/firewall/ipset", ["name=admins"])
        try Self.ok(node, "POST", "/cluster/firewall/ipset/admins", ["cidr=\(Self.a.ip)"])
        for ct in [Self.a, Self.b] {
            try Self.ok(node, "PUT", "/nodes/fwt/lxc/\(ct.vmid)/firewall/options", ["enable=1", "log_level_in=info"])
            try Self.ok(node, "POST", "/nodes/fwt/lxc/\(ct.vmid)/firewall/rules", ["type=group", "action=web", "enable=1"])
        }
        try Self.ok(
            node, "POST", "/nodes/fwt/lxc/\(Self.b.vmid)/firewall/rules",
            ["type=in", "action=ACCEPT", "source=+admins", "proto=tcp", "dport=23", "enable=1"])
        try Self.ok(
            node, "POST", "/nodes/fwt/lxc/\(Self.b.vmid)/firewall/rules",
            ["type=in", "action=DROP", "proto=tcp", "dport=22", "log=warning", "enable=1", "pos=0"])
        let rules = VMTests.json(try Self.api(node, "GET", "/nodes/fwt/lxc/\(Self.b.vmid)/firewall/rules").body)["data"] as? [[String: Any]] ?? []
        #expect(rules.map { $0["dport"] as? String ?? $0["action"] as? String ?? "" } == ["22", "23", "web"], "pos=0 put the drop first: \(rules)")

        // nothing is enforced while the datacenter firewall is off
        #expect(try Self.connects(node, from: Self.a.vmid, to: Self.b.ip, port: 22))
        try Self.ok(node, "PUT", "/cluster/firewall/options", ["enable=1"])
        #expect(try Self.ruleset().contains("chain g\(Self.b.vmid)-net0-in"), "the ruleset is loaded when the call returns")

        #expect(try Self.connects(node, from: Self.a.vmid, to: Self.b.ip, port: 80), "the group's HTTP rule lets 80 through")
        #expect(try !Self.connects(node, from: Self.a.vmid, to: Self.b.ip, port: 22), "the guest rule drops 22")
        #expect(try Self.connects(node, from: Self.a.vmid, to: Self.b.ip, port: 23), "the IP set lets the admin reach 23")
        #expect(try Self.connects(node, from: Self.b.vmid, to: Self.a.ip, port: 80), "the group applies to the other container too")
        #expect(try !Self.connects(node, from: Self.b.vmid, to: Self.a.ip, port: 23), "the other container's policy drops what no rule accepts")
        // the set is a live source: taking the address out closes 23
        try Self.ok(node, "DELETE", "/cluster/firewall/ipset/admins/\(Self.a.ip)")
        #expect(try !Self.connects(node, from: Self.a.vmid, to: Self.b.ip, port: 23))

        // the log shows the drops, in PVE's line format
        var log: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(5)
        repeat {
            log =
                VMTests.json(try Self.api(node, "GET", "/nodes/fwt/lxc/\(Self.b.vmid)/firewall/log?limit=100").body)["data"] as? [[String: Any]] ?? []
            if log.contains(where: { ($0["t"] as? String)?.contains("DROP") == true }) { break }
            usleep(200_000)
        } while Date() < deadline
        let lines = log.compactMap { $0["t"] as? String }
        #expect(lines.contains { $0.hasPrefix("\(Self.b.vmid) warning net0-in") && $0.contains("DROP:") && $0.contains("DPT=22") }, "\(lines)")

        // bad input: 400 naming the field, and the running ruleset does not change
        let before = try Self.ruleset()
        let bad: [(String, [String], String)] = [
            ("/cluster/firewall/rules", ["type=in", "action=ACCEPT", "macro=NoSuchMacro"], "macro"),
            ("/cluster/firewall/rules", ["type=in", "action=ACCEPT", "proto=tcp", "dport=70000"], "dport"),
            ("/cluster/firewall/rules", ["type=in", "action=ACCEPT", "source=+nosuchset"], "source"),
            ("/cluster/firewall/aliases", ["name=loopa", "cidr=loopb"], "cidr"),
        ]
        for (path, form, field) in bad {
            let r = try Self.api(node, "POST", path, form)
            let errors = VMTests.json(r.body)["errors"] as? [String: Any]
            #expect(r.status == 400 && errors?[field] != nil, "\(path) \(form): \(r.status) \(r.body)")
        }
        // a cycle needs two aliases: the first one is fine on its own, the second closes the loop
        try Self.ok(node, "POST", "/cluster/firewall/aliases", ["name=loopa", "cidr=10.1.1.1"])
        try Self.ok(node, "POST", "/cluster/firewall/aliases", ["name=loopb", "cidr=loopa"])
        let cycle = try Self.api(node, "PUT", "/cluster/firewall/aliases/loopa", ["cidr=loopb"])
        #expect(cycle.status == 400 && cycle.body.contains("cycle"), "\(cycle)")
        #expect(try Self.ruleset() == before, "refused changes leave the ruleset as it was")

        // the host: policy DROP keeps the API reachable; a host rule can close it for one source
        let hostRule = ["type=in", "action=DROP", "source=10.215.0.1", "proto=tcp", "dport=8006", "enable=1"]
        #expect(try Self.api(node, "GET", "/version").status == 200, "the management port stays open under policy DROP")
        try Self.ok(node, "POST", "/nodes/fwt/firewall/rules", hostRule)
        let blocked = try Self.api(node, "GET", "/version")
        #expect(blocked.status == 0, "the host rule drops new connections from 10.215.0.1: \(blocked)")
        #expect(try Self.api(node, "GET", "/version", from: Self.otherClient).status == 200, "another source still reaches the API")
        try Self.ok(node, "DELETE", "/nodes/fwt/firewall/rules/0", from: Self.otherClient)
        #expect(try Self.api(node, "GET", "/version").status == 200)

        // off again: the tables go
        try Self.ok(node, "PUT", "/cluster/firewall/options", ["enable=0"])
        #expect(!(try Self.ruleset().contains("chain")))
        #expect(try Self.connects(node, from: Self.a.vmid, to: Self.b.ip, port: 22))
        for ct in [Self.a, Self.b] { _ = try? VMTests.task(node, "POST", "/nodes/fwt/lxc/\(ct.vmid)/status/stop") }
    }
}

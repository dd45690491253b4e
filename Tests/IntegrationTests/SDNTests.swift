import Foundation
import Glibc
import TestSupport
import Testing

/// SDN with real parts: a node in a network namespace of its own applies a simple zone (a vnet
/// bridge with its gateway, SNAT, dnsmasq serving DHCP from the IPAM) and a container gets its
/// address by DHCP and reaches a server beyond the node through SNAT; a VXLAN zone between two
/// cluster nodes lets a container on each reach the other.
@Suite(.serialized) struct SDNTests {
    static let namespace = "crlsdn-node"
    static let outside = "crlsdn-out"
    static let nodeAddress = "10.217.0.2"
    static let server = "10.218.0.1"

    static func sh(_ script: String) throws -> CommandResult { try runCommand("/bin/bash", ["-c", script]) }

    static func makeNetwork() throws {
        removeNetwork()
        let r = try sh(
            """
            set -e
            ip netns add \(namespace)
            ip netns add \(outside)
            ip link add crlsdnh0 type veth peer name crlsdnn0
            ip link set crlsdnn0 netns \(namespace)
            ip addr add 10.217.0.1/24 dev crlsdnh0
            ip link set crlsdnh0 up
            ip -n \(namespace) addr add \(nodeAddress)/24 dev crlsdnn0
            ip -n \(namespace) link set crlsdnn0 up
            ip -n \(namespace) link set lo up
            ip link add crlsdnu0 type veth peer name crlsdno0
            ip link set crlsdnu0 netns \(namespace)
            ip link set crlsdno0 netns \(outside)
            ip -n \(namespace) addr add 10.218.0.2/24 dev crlsdnu0
            ip -n \(namespace) link set crlsdnu0 up
            ip -n \(outside) addr add \(server)/24 dev crlsdno0
            ip -n \(outside) link set crlsdno0 up
            ip -n \(outside) link set lo up
            """)
        guard r.status == 0 else { throw TestFailure("cannot build the test network: \(r.stderr)") }
    }

    static func removeNetwork() {
        _ = try? sh("ip netns del \(namespace) 2>/dev/null; ip netns del \(outside) 2>/dev/null; ip link del crlsdnh0 2>/dev/null; true")
    }

    static func api(_ node: NodeProcess, _ method: String, _ path: String, _ form: [String] = []) throws -> (status: Int, body: String) {
        try curl(node, "/api2/json" + path, ["-X", method, "--max-time", "20"] + form.flatMap { ["--data-urlencode", $0] })
    }

    static func ok(_ node: NodeProcess, _ method: String, _ path: String, _ form: [String] = []) throws {
        let r = try api(node, method, path, form)
        guard r.status == 200 else { throw TestFailure("\(method) \(path) \(form): \(r.status) \(r.body)") }
    }

    static func data(_ node: NodeProcess, _ path: String) throws -> Any? { VMTests.json(try api(node, "GET", path).body)["data"] }

    /// A 400 whose per-field errors name `field`.
    static func refused(_ node: NodeProcess, _ method: String, _ path: String, _ form: [String], field: String) throws -> Bool {
        let r = try api(node, method, path, form)
        let errors = VMTests.json(r.body)["errors"] as? [String: Any]
        if r.status == 400 && errors?[field] != nil { return true }
        print("expected a 400 naming \(field): \(r.status) \(r.body)")
        return false
    }

    static func pid(_ node: NodeProcess, _ vmid: Int) throws -> Int {
        let status = try data(node, "/nodes/\(node.nodeName)/lxc/\(vmid)/status/current") as? [String: Any]
        guard let pid = status?["pid"] as? Int else { throw TestFailure("CT \(vmid) has no pid: \(String(describing: status))") }
        return pid
    }

    /// Connects from container `vmid`'s network namespace and returns what the server sent ("" when it could not).
    static func fetch(pid: Int, _ ip: String, _ port: Int) throws -> String {
        let probe =
            "import socket\ntry:\n s = socket.create_connection(('\(ip)', \(port)), 3)\n s.settimeout(3)\n print(s.recv(64).decode())\nexcept OSError as e:\n print('failed', e)"
        return try runCommand("/usr/bin/nsenter", ["-t", "\(pid)", "-n", "python3", "-c", probe]).stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
    }

    static func waitFor(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if try condition() { return true }
            usleep(200_000)
        } while Date() < deadline
        return false
    }

    static let template = "busybox-1.35-corral_1.0-1_amd64.tar.gz"

    @Test func simpleZoneWithDHCPAndSNAT() throws {
        try Self.makeNetwork()
        defer { Self.removeNetwork() }
        let node = try NodeProcess.isolated(name: "sdnt", namespace: Self.namespace, host: Self.nodeAddress)
        let dataDir = node.dataDirectory
        defer { NodeProcess.releaseIsolated(dataDir) }
        defer {
            // a test that stopped half-way leaves its container running: liblxc's socket is in the node's namespace
            _ = try? Self.sh("ip netns exec \(Self.namespace) lxc-stop -k -P \(dataDir)/lxc -n 370 2>/dev/null")
            _ = node.terminate()
            // dnsmasq outlives corrald by design (leases keep working); the test's own goes with it
            _ = try? Self.sh("for f in \(dataDir)/run/sdn/dnsmasq-*.pid; do [ -f \"$f\" ] && kill -9 $(cat \"$f\"); done; true")
        }
        var servers: [Process] = []
        defer { for server in servers { kill(server.processIdentifier, SIGKILL) } }

        // bad input: 400 naming the field, nothing written
        #expect(try Self.refused(node, "POST", "/cluster/sdn/vnets", ["vnet=bad1", "zone=nozone"], field: "zone"))
        #expect(try Self.refused(node, "POST", "/cluster/sdn/zones", ["zone=ev", "type=evpn", "controller=c1"], field: "type"))
        #expect(try Self.refused(node, "POST", "/cluster/sdn/zones", ["zone=s0", "type=simple", "peers=10.0.0.1"], field: "peers"))
        #expect(try Self.refused(node, "POST", "/cluster/sdn/zones", ["zone=s0", "type=simple", "dhcp=dnsmasq"], field: "dhcp"))
        #expect((try Self.data(node, "/cluster/sdn/zones") as? [Any])?.isEmpty == true)

        try Self.ok(node, "POST", "/cluster/sdn/zones", ["zone=z1", "type=simple", "ipam=pve", "dhcp=dnsmasq"])
        try Self.ok(node, "POST", "/cluster/sdn/vnets", ["vnet=vn1", "zone=z1", "alias=test net"])
        #expect(
            try Self.refused(
                node, "POST", "/cluster/sdn/vnets/vn1/subnets", ["subnet=10.77.0.0/24", "type=subnet", "gateway=10.9.9.9"], field: "gateway"))
        #expect(
            try Self.refused(
                node, "POST", "/cluster/sdn/vnets/vn1/subnets",
                ["subnet=10.77.0.0/24", "type=subnet", "gateway=10.77.0.1", "dhcp-range=start-address=10.77.1.5,end-address=10.77.1.9"],
                field: "dhcp-range"))
        try Self.ok(
            node, "POST", "/cluster/sdn/vnets/vn1/subnets",
            ["subnet=10.77.0.0/24", "type=subnet", "gateway=10.77.0.1", "snat=1", "dhcp-range=start-address=10.77.0.100,end-address=10.77.0.150"])
        #expect(try Self.refused(node, "POST", "/cluster/sdn/vnets/vn1/subnets", ["subnet=10.77.0.128/25", "type=subnet"], field: "subnet"))
        try Self.ok(node, "POST", "/cluster/sdn/zones", ["zone=vx", "type=vxlan", "peers=10.217.0.2"])
        #expect(try Self.refused(node, "POST", "/cluster/sdn/vnets", ["vnet=vxv", "zone=vx"], field: "tag"))
        try Self.ok(node, "DELETE", "/cluster/sdn/zones/vx")
        let inUse = try Self.api(node, "DELETE", "/cluster/sdn/zones/z1")
        #expect(inUse.status == 400 && inUse.body.contains("vn1"), "\(inUse)")

        // pending until applied: PVE's files, the state in the lists, the dry run's diff
        let zonesCfg = try String(contentsOfFile: "\(dataDir)/pve/sdn/zones.cfg", encoding: .utf8)
        #expect(zonesCfg.hasPrefix("simple: z1\n") && zonesCfg.contains("\tdhcp dnsmasq\n"), "\(zonesCfg)")
        let subnetsCfg = try String(contentsOfFile: "\(dataDir)/pve/sdn/subnets.cfg", encoding: .utf8)
        #expect(
            subnetsCfg.contains("subnet: z1-10.77.0.0-24\n")
                && subnetsCfg.contains("\tdhcp-range start-address=10.77.0.100,end-address=10.77.0.150\n"), "\(subnetsCfg)")
        let pendingZones = try Self.data(node, "/cluster/sdn/zones?pending=1") as? [[String: Any]] ?? []
        #expect(pendingZones.map { "\($0["zone"] ?? "") \($0["state"] ?? "")" } == ["z1 new"], "\(pendingZones)")
        let subnets = try Self.data(node, "/cluster/sdn/vnets/vn1/subnets") as? [[String: Any]] ?? []
        #expect(subnets.first?["cidr"] as? String == "10.77.0.0/24" && subnets.first?["subnet"] as? String == "z1-10.77.0.0-24", "\(subnets)")
        let diff = (try Self.data(node, "/cluster/sdn/dry-run?node=sdnt") as? [String: Any])?["interfaces-diff"] as? String ?? ""
        #expect(diff.contains("+auto vn1") && diff.contains("+\taddress 10.77.0.1/24"), "\(diff)")
        #expect(try Self.sh("ip -n \(Self.namespace) link show vn1").status != 0, "nothing runs before the apply")

        // apply: the bridge with its gateway, SNAT, dnsmasq
        let applied = try VMTests.task(node, "PUT", "/cluster/sdn")
        let applyLog = try GuestAgentTests.lastTaskLog(node, type: "reloadnetworkall")
        #expect(applied == "OK", "\(applyLog)")
        let zones = try Self.data(node, "/nodes/sdnt/sdn/zones") as? [[String: Any]] ?? []
        #expect(zones.map { "\($0["zone"] ?? "") \($0["status"] ?? "")" } == ["z1 available"], "\(zones)")
        #expect(try Self.sh("ip -n \(Self.namespace) -4 addr show vn1").stdout.contains("inet 10.77.0.1/24"))
        #expect(try Self.sh("ip netns exec \(Self.namespace) nft list table ip corral-sdn").stdout.contains("masquerade"))
        #expect(FileManager.default.fileExists(atPath: "\(dataDir)/run/sdn/dnsmasq-z1.pid"))
        #expect(((try Self.data(node, "/cluster/sdn/zones?pending=1") as? [[String: Any]])?.first?["state"]) == nil)
        let ipam = try Self.data(node, "/cluster/sdn/ipams/pve/status") as? [[String: Any]] ?? []
        #expect(ipam.contains { $0["ip"] as? String == "10.77.0.1" && $0["gateway"] as? Int == 1 && $0["vnet"] as? String == "vn1" }, "\(ipam)")

        // a container on the vnet: the IPAM gives its MAC an address, dnsmasq hands it out, SNAT takes it beyond the node
        #expect(try VMTests.task(node, "POST", "/nodes/sdnt/aplinfo", ["storage=local", "template=\(Self.template)"]) == "OK")
        let created = try VMTests.task(
            node, "POST", "/nodes/sdnt/lxc",
            [
                "vmid=370", "hostname=dhcp-ct", "ostemplate=local:vztmpl/\(Self.template)", "rootfs=local:0.1", "net0=name=eth0,bridge=vn1,ip=dhcp",
                "start=1",
            ])
        let createLog = created == "OK" ? "" : try GuestAgentTests.lastTaskLog(node, type: "vzcreate")
        #expect(created == "OK", "\(createLog)")
        let config = try Self.data(node, "/nodes/sdnt/lxc/370/config") as? [String: Any] ?? [:]
        let mac =
            ((config["net0"] as? String ?? "").split(separator: ",").first { $0.hasPrefix("hwaddr=") }?.dropFirst(7)).map { $0.lowercased() } ?? "?"
        var entry: [String: Any] = [:]
        #expect(
            try Self.waitFor(10) {
                entry =
                    (try Self.data(node, "/cluster/sdn/ipams/pve/status") as? [[String: Any]] ?? []).first { $0["vmid"] as? String == "370" } ?? [:]
                return !entry.isEmpty
            })
        #expect(entry["ip"] as? String == "10.77.0.100" && entry["mac"] as? String == mac && entry["hostname"] as? String == "dhcp-ct", "\(entry)")
        let pid = try Self.pid(node, 370)
        let gotAddress = try Self.waitFor(30) { try Self.sh("nsenter -t \(pid) -n ip -4 addr show eth0").stdout.contains("inet 10.77.0.100/24") }
        if !gotAddress, ProcessInfo.processInfo.environment["SDN_DEBUG_PAUSE"] != nil { sleep(150) }
        let dhcpLog = gotAddress ? "" : try Self.sh("nsenter -t \(pid) -n ip addr; cat \(dataDir)/run/sdn/dnsmasq-z1.log").stdout
        #expect(gotAddress, "the container got its address by DHCP: \(dhcpLog)")
        let lease = (try? String(contentsOfFile: "\(dataDir)/run/sdn/dnsmasq-z1.leases", encoding: .utf8)) ?? ""
        #expect(lease.contains(mac) && lease.contains("10.77.0.100"), "\(lease)")
        // a server beyond the node: it sees the node's address (SNAT), and without SNAT no route back would exist
        let peer = Process()
        peer.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        peer.arguments = [
            "netns", "exec", Self.outside, "python3", "-c",
            "import socket\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('\(Self.server)', 7000)); s.listen(4)\nwhile True:\n c, a = s.accept(); c.sendall(('from ' + a[0]).encode()); c.close()",
        ]
        peer.standardOutput = FileHandle.nullDevice
        peer.standardError = FileHandle.nullDevice
        try peer.run()
        servers.append(peer)
        var answer = ""
        #expect(
            try Self.waitFor(10) {
                answer = try Self.fetch(pid: pid, Self.server, 7000)
                return answer.hasPrefix("from ")
            })
        #expect(answer == "from 10.218.0.2", "SNAT: \(answer)")

        // a NIC on a vnet needs SDN.Use there (VM.Config.Network on the guest is not enough)
        try Self.ok(node, "POST", "/access/users", ["userid=netop@pve", "password=netop-secret-9"])
        try Self.ok(node, "PUT", "/access/acl", ["path=/vms/370", "users=netop@pve", "roles=PVEVMAdmin"])
        let login =
            VMTests.json(try Self.api(node, "POST", "/access/ticket", ["username=netop@pve", "password=netop-secret-9"]).body)["data"]
            as? [String: Any] ?? [:]
        let ticket = (login["ticket"] as? String ?? "").addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let asNetop = ["-b", "PVEAuthCookie=\(ticket)", "-H", "CSRFPreventionToken: \(login["CSRFPreventionToken"] as? String ?? "")"]
        let attach = ["-X", "PUT", "--data-urlencode", "net1=name=eth1,bridge=vn1"]
        let denied = try curl(node, "/api2/json/nodes/sdnt/lxc/370/config", attach + asNetop, anonymous: true)
        #expect(denied.status == 403 && denied.body.contains("SDN.Use"), "\(denied)")
        try Self.ok(node, "PUT", "/access/acl", ["path=/sdn/zones/z1", "users=netop@pve", "roles=PVESDNUser"])
        let allowed = try curl(node, "/api2/json/nodes/sdnt/lxc/370/config", attach + asNetop, anonymous: true)
        #expect(allowed.status == 200, "\(allowed)")

        // the vnet's firewall: a forward rule on what crosses vn1 (the datacenter firewall on, in this node's namespace only)
        #expect(try Self.refused(node, "POST", "/cluster/sdn/vnets/vn1/firewall/rules", ["type=in", "action=DROP", "enable=1"], field: "type"))
        try Self.ok(node, "PUT", "/cluster/firewall/options", ["enable=1"])
        try Self.ok(node, "PUT", "/cluster/sdn/vnets/vn1/firewall/options", ["enable=1"])
        try Self.ok(node, "POST", "/cluster/sdn/vnets/vn1/firewall/rules", ["type=forward", "action=DROP", "proto=tcp", "dport=7000", "enable=1"])
        let vnetRules = try Self.data(node, "/cluster/sdn/vnets/vn1/firewall/rules") as? [[String: Any]] ?? []
        #expect(vnetRules.map { "\($0["type"] ?? "") \($0["action"] ?? "") \($0["dport"] ?? "")" } == ["forward DROP 7000"], "\(vnetRules)")
        #expect(FileManager.default.fileExists(atPath: "\(dataDir)/pve/sdn/firewall/vn1.fw"))
        #expect(try Self.fetch(pid: pid, Self.server, 7000).hasPrefix("failed"), "the vnet's rule drops the connection")
        try Self.ok(node, "DELETE", "/cluster/sdn/vnets/vn1/firewall/rules/0")
        #expect(try Self.fetch(pid: pid, Self.server, 7000) == "from 10.218.0.2", "without the rule it passes again")
        try Self.ok(node, "PUT", "/cluster/firewall/options", ["enable=0"])

        // PVE 9's lock: changes need the token while it is held; a rollback drops what is pending
        let token = VMTests.json(try Self.api(node, "POST", "/cluster/sdn/lock").body)["data"] as? String ?? ""
        #expect(!token.isEmpty)
        #expect(try Self.api(node, "POST", "/cluster/sdn/lock").status == 400, "a second lock is refused")
        let locked = try Self.api(node, "POST", "/cluster/sdn/zones", ["zone=z2", "type=simple"])
        #expect(locked.status == 400 && locked.body.contains("locked"), "\(locked)")
        try Self.ok(node, "POST", "/cluster/sdn/zones", ["zone=z2", "type=simple", "lock-token=\(token)"])
        #expect(
            (try Self.data(node, "/cluster/sdn/zones?pending=1") as? [[String: Any]] ?? []).contains {
                $0["zone"] as? String == "z2" && $0["state"] as? String == "new"
            })
        try Self.ok(node, "POST", "/cluster/sdn/rollback", ["lock-token=\(token)"])
        #expect((try Self.data(node, "/cluster/sdn/zones") as? [[String: Any]] ?? []).map { $0["zone"] as? String ?? "" } == ["z1"])
        try Self.ok(node, "POST", "/cluster/sdn/zones", ["zone=z3", "type=simple"])  // the rollback released the lock
        try Self.ok(node, "DELETE", "/cluster/sdn/zones/z3")

        // a zone this kernel cannot build (no 802.1Q devices): the apply task fails naming it, the zone is in error,
        // the other zone keeps running
        try Self.ok(node, "POST", "/cluster/sdn/zones", ["zone=vl", "type=vlan", "bridge=crlsdnu0"])
        try Self.ok(node, "POST", "/cluster/sdn/vnets", ["vnet=vlan5", "zone=vl", "tag=5"])
        let failed = try VMTests.task(node, "PUT", "/cluster/sdn")
        #expect(failed.contains("sdnt/vl"), "\(failed)")
        let states = try Self.data(node, "/nodes/sdnt/sdn/zones") as? [[String: Any]] ?? []
        #expect(states.map { "\($0["zone"] ?? "") \($0["status"] ?? "")" } == ["vl error", "z1 available"], "\(states)")
        #expect((states.first?["statusmsg"] as? String)?.contains("crlsdnu0.5") == true, "\(states)")
        #expect(try Self.sh("ip -n \(Self.namespace) -4 addr show vn1").stdout.contains("inet 10.77.0.1/24"))
        try Self.ok(node, "DELETE", "/cluster/sdn/vnets/vlan5")
        try Self.ok(node, "DELETE", "/cluster/sdn/zones/vl")
        #expect(try VMTests.task(node, "PUT", "/cluster/sdn") == "OK")

        // a subnet whose address a guest holds stays; the guest's going frees it
        let held = try Self.api(node, "DELETE", "/cluster/sdn/vnets/vn1/subnets/z1-10.77.0.0-24")
        #expect(held.status == 400 && held.body.contains("10.77.0.100"), "\(held)")
        #expect(try VMTests.task(node, "POST", "/nodes/sdnt/lxc/370/status/stop") == "OK")
        #expect(try VMTests.task(node, "DELETE", "/nodes/sdnt/lxc/370") == "OK")
        #expect(
            try Self.waitFor(10) { !(try Self.data(node, "/cluster/sdn/ipams/pve/status") as? [[String: Any]] ?? []).contains { $0["vmid"] != nil } },
            "the IPAM entry goes with the guest")

        // everything removed and applied: the bridge, the SNAT table and dnsmasq go
        try Self.ok(node, "DELETE", "/cluster/sdn/vnets/vn1/subnets/z1-10.77.0.0-24")
        try Self.ok(node, "DELETE", "/cluster/sdn/vnets/vn1")
        try Self.ok(node, "DELETE", "/cluster/sdn/zones/z1")
        #expect(try VMTests.task(node, "PUT", "/cluster/sdn") == "OK")
        #expect(try Self.sh("ip -n \(Self.namespace) link show vn1").status != 0, "the bridge is gone")
        #expect(!(try Self.sh("ip netns exec \(Self.namespace) nft list tables").stdout.contains("corral-sdn")))
        #expect(!FileManager.default.fileExists(atPath: "\(dataDir)/run/sdn/dnsmasq-z1.pid"))
        #expect((try Self.data(node, "/nodes/sdnt/sdn/zones") as? [Any])?.isEmpty == true)
        #expect((try Self.data(node, "/cluster/sdn/ipams/pve/status") as? [Any])?.isEmpty == true, "the gateway's entry went with the subnet")
    }

    /// Two cluster nodes (real corosync, a namespace each): a VXLAN zone over the nodes' network
    /// lets a container on one reach a container on the other; the apply waits for both nodes. Then
    /// guests move between them: refusals, a container's restart migration on shared storage (it
    /// stays reachable over the tunnel), a stopped VM's offline move, and migrateall back.
    @Test(.enabled(if: TestCluster.available)) func vxlanZoneAndMigrationAcrossTwoNodes() throws {
        let cluster = try TestCluster(nodes: 2, ownSysfs: true)
        defer {
            for i in 1...2 {
                for vmid in [380, 381, 382] {
                    _ = try? Self.sh("ip netns exec cfstn\(i) lxc-stop -k -P \(cluster.dir)/d\(i)/lxc -n \(vmid) 2>/dev/null")
                }
            }
            cluster.down()
        }
        let n1 = cluster.daemons[1]!, n2 = cluster.daemons[2]!
        var servers: [Process] = []
        defer { for server in servers { kill(server.processIdentifier, SIGKILL) } }

        try Self.ok(n1, "POST", "/cluster/sdn/zones", ["zone=vx", "type=vxlan", "peers=10.213.9.1,10.213.9.2", "mtu=1400"])
        try Self.ok(n1, "POST", "/cluster/sdn/vnets", ["vnet=vxn1", "zone=vx", "tag=4242"])
        let applied = try VMTests.task(n1, "PUT", "/cluster/sdn")
        let log = try GuestAgentTests.lastTaskLog(n1, type: "reloadnetworkall")
        #expect(applied == "OK" && log.contains("n1: zone vx: available") && log.contains("n2: zone vx: available"), "\(log)")
        for (i, peer) in [(1, "10.213.9.2"), (2, "10.213.9.1")] {
            let link = try Self.sh("ip -n cfstn\(i) -d link show vxlan_vxn1").stdout
            #expect(link.contains("vxlan id 4242") && link.contains("mtu 1400") && link.contains("master vxn1"), "node \(i): \(link)")
            let fdb = try Self.sh("bridge -n cfstn\(i) fdb show dev vxlan_vxn1").stdout
            #expect(fdb.contains("dst \(peer)") && !fdb.contains("dst 10.213.9.\(i) "), "node \(i) tunnels to the other node only: \(fdb)")
        }
        // /cluster/resources has PVE's sdn rows, one per node and zone
        let sdnRows = try Self.data(n1, "/cluster/resources?type=sdn") as? [[String: Any]] ?? []
        #expect(
            sdnRows.map { "\($0["id"] ?? "") \($0["status"] ?? "")" }.sorted() == ["sdn/n1/vx available", "sdn/n2/vx available"], "\(sdnRows)")
        // any node answers for any node (forwarded)
        let remote = try Self.data(n1, "/nodes/n2/sdn/zones") as? [[String: Any]] ?? []
        #expect(remote.map { "\($0["zone"] ?? "") \($0["status"] ?? "")" } == ["vx available"], "\(remote)")

        // a container on each node, on the vnet
        for (i, node) in [(1, n1), (2, n2)] {
            #expect(try VMTests.task(node, "POST", "/nodes/n\(i)/aplinfo", ["storage=local", "template=\(Self.template)"]) == "OK")
            let created = try VMTests.task(
                node, "POST", "/nodes/n\(i)/lxc",
                [
                    "vmid=38\(i - 1)", "ostemplate=local:vztmpl/\(Self.template)", "rootfs=local:0.1",
                    "net0=name=eth0,bridge=vxn1,ip=10.79.0.\(i)/24", "start=1",
                ])
            let createLog = created == "OK" ? "" : try GuestAgentTests.lastTaskLog(node, type: "vzcreate")
            #expect(created == "OK", "\(createLog)")
        }
        let serverPID = try Self.pid(n2, 381)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        server.arguments = ["-t", "\(serverPID)", "-n", "busybox", "nc", "-ll", "-p", "80", "-e", "echo", "hello-across"]
        server.standardInput = FileHandle.nullDevice
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        servers.append(server)
        var answer = ""
        let reached = try Self.waitFor(15) {
            answer = try Self.fetch(pid: try Self.pid(n1, 380), "10.79.0.2", 80)
            return answer == "hello-across"
        }
        #expect(reached, "CT 380 on n1 reaches CT 381 on n2 through the tunnel: \(answer)")
        let bridges = try Self.data(n2, "/nodes/n2/sdn/zones/vx/bridges") as? [[String: Any]] ?? []
        let ports = (bridges.first?["ports"] as? [[String: Any]] ?? []).compactMap { $0["vmid"] as? Int }
        #expect(bridges.first?["name"] as? String == "vxn1" && ports == [381], "\(bridges)")

        // migration (same cluster): local volumes stay, a shared storage moves by config; refusals name the field
        #expect(try Self.refused(n1, "POST", "/nodes/n1/lxc/380/migrate", ["target=n1", "restart=1"], field: "target"))
        #expect(try Self.refused(n1, "POST", "/nodes/n1/lxc/380/migrate", ["target=nosuch", "restart=1"], field: "target"))
        #expect(try Self.refused(n1, "POST", "/nodes/n1/lxc/380/migrate", ["target=n2"], field: "restart"))
        #expect(
            try Self.refused(n1, "POST", "/nodes/n1/lxc/380/migrate", ["target=n2", "restart=1", "target-storage=nosuch"], field: "target-storage"))
        // its rootfs on `local` would be copied (HAFailoverTests copies a volume): n2 is allowed
        let check = try Self.data(n1, "/nodes/n1/lxc/380/migrate") as? [String: Any] ?? [:]
        #expect(check["allowed_nodes"] as? [String] == ["n2"] && check["running"] as? Bool == true, "\(check)")
        let shared = cluster.dir + "/shared-store"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        try Self.ok(n1, "POST", "/storage", ["storage=shared", "type=dir", "path=\(shared)", "content=rootdir,images", "shared=1"])
        let made = try VMTests.task(
            n1, "POST", "/nodes/n1/lxc",
            ["vmid=382", "ostemplate=local:vztmpl/\(Self.template)", "rootfs=shared:0.1", "net0=name=eth0,bridge=vxn1,ip=10.79.0.3/24", "start=1"])
        #expect(made == "OK")
        #expect((try Self.data(n1, "/nodes/n1/lxc/382/migrate") as? [String: Any])?["allowed_nodes"] as? [String] == ["n2"])
        let moved = try VMTests.task(n1, "POST", "/nodes/n1/lxc/382/migrate", ["target=n2", "restart=1", "timeout=10"])
        let moveLog = try GuestAgentTests.lastTaskLog(n1, type: "vzmigrate")
        #expect(moved == "OK" && moveLog.contains("is on node 'n2' now"), "\(moveLog)")
        #expect(FileManager.default.fileExists(atPath: cluster.path(1, "nodes/n2/lxc/382.conf")))
        #expect(!FileManager.default.fileExists(atPath: cluster.path(1, "nodes/n1/lxc/382.conf")), "one node has the config")
        #expect(
            try Self.waitFor(20) {
                ((try Self.data(n2, "/nodes/n2/lxc/382/status/current") as? [String: Any])?["status"] as? String) == "running"
            }, "CT 382 runs on n2 after the restart migration")
        let reply = try Self.fetch(pid: try Self.pid(n2, 381), "10.79.0.3", 22)
        // a stopped VM on the shared storage moves by its config alone
        let vm = try VMTests.task(n1, "POST", "/nodes/n1/qemu", ["vmid=384", "memory=64", "scsi0=shared:0.01", "name=mover"])
        let vmLog = vm == "OK" ? "" : try GuestAgentTests.lastTaskLog(n1, type: "qmcreate")
        #expect(vm == "OK", "\(vmLog)")
        #expect(try VMTests.task(n1, "POST", "/nodes/n1/qemu/384/migrate", ["target=n2"]) == "OK")
        #expect((try Self.data(n2, "/nodes/n2/qemu/384/config") as? [String: Any])?["name"] as? String == "mover", "the VM's config is on n2")

        #expect(reply.contains("refused"), "n2's container reaches the twice-moved one on n1 over the tunnel: \(reply)")
    }
}

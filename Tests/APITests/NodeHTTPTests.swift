import Access
import ClusterFS
import Composition
import Daemon
import Foundation
import Tasks
import TestSupport
import Testing

@testable import API

/// A whole node in-process (real HTTPS server, real task manager) driven over loopback by curl.
@Suite(.serialized) struct NodeHTTPTests {
    static func startNode() throws -> (CorralNode, Int) {
        var settings = Settings()
        settings.local = true
        settings.dataDirectory = NSTemporaryDirectory() + "corral-node-\(UUID().uuidString)"
        settings.nodeName = "h1"
        settings.listen = ["127.0.0.1:0"]
        settings.wwwDirectory = "/nonexistent"
        let node = try CorralNode(settings: settings) { _ in }
        try node.start()
        // in-process, the test can mint root@pam's ticket itself (suites here run one at a time)
        let (ticket, csrf) = try node.access.issueTicket(for: "root@pam")
        session = [
            "-b", "PVEAuthCookie=" + (ticket.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ticket), "-H",
            "CSRFPreventionToken: \(csrf)",
        ]
        return (node, Int(node.boundPorts[0]))
    }

    nonisolated(unsafe) static var session: [String] = []

    /// curl as root@pam (the suite's session), started now and awaited with `result()`.
    static func curl(_ arguments: [String]) throws -> RunningCommand {
        try RunningCommand("/usr/bin/curl", ["-s", "-k"] + session + arguments)
    }

    @Test func eventStreamDeliversTaskStartAndFinish() async throws {
        let (node, port) = try Self.startNode()
        let stream = try Self.curl(["-N", "--max-time", "4", "https://127.0.0.1:\(port)/api2/json/events"])
        try await Task.sleep(for: .milliseconds(500))
        let upid = try node.services.tasks.start(type: "demo", id: "7", user: "root@pam") { log in
            log.log("doing it")
            try await Task.sleep(for: .milliseconds(100))
        }
        let text = await stream.result().stdout
        #expect(text.contains("event: ready"))
        #expect(text.contains("event: task-started\ndata: {") && text.contains(upid.description))
        #expect(text.contains("event: task-finished") && text.contains(#""status":"OK""#))
        await node.shutdown(grace: 1)
    }

    @Test func badBodiesAndPathsAreCleanErrors() async throws {
        let (node, port) = try Self.startNode()
        let base = "https://127.0.0.1:\(port)/api2/json"
        for (args, expected) in [
            (["-X", "POST", "-H", "Content-Type: application/json", "--data", "{\"a\":", "\(base)/version"], "400"),
            (["-X", "POST", "--data-binary", "a=%ZZ", "\(base)/version"], "400"),
            (["-X", "POST", "--data-binary", "a=%FF%FE", "\(base)/version"], "400"),
            (["-X", "PUT", "-H", "Content-Type: text/xml", "--data", "<a/>", "\(base)/version"], "415"),
            (["\(base)/nodes/h1/tasks?limit=1&limit=2"], "400"),
            (["\(base)/nodes/%FF/status"], "400"),
            (["-X", "PATCH", "\(base)/version"], "501"),
        ] {
            let code = try await Self.curl(["-o", "/dev/null", "-w", "%{http_code}"] + args).result().stdout
            #expect(code == expected, "\(args): \(code)")
        }
        let text = try await Self.curl(["-i", "\(base)/nodes/h1/tasks?limit=1&limit=2"]).result().stdout
        #expect(text.contains(#""limit":"duplicate parameter (the schema allows a single value)""#))
        await node.shutdown(grace: 1)
    }

    static func json(_ arguments: [String]) async throws -> (code: String, body: [String: Any]) {
        let text = try await Self.curl(["-w", "\n%{http_code}"] + arguments).result().stdout
        let code = String(text.split(separator: "\n").last ?? "")
        let body = String(text.dropLast(code.count))
        let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        return (code, object)
    }

    /// What third-party tools read first (prometheus-pve-exporter, Ansible's inventory, proxmoxer
    /// scripts): answered in PVE's shapes.
    @Test func standaloneNodeAnswersAsPVEDoes() async throws {
        let (node, port) = try Self.startNode()
        let base = "https://127.0.0.1:\(port)/api2/json"
        var (code, body) = try await Self.json(["\(base)/cluster/status"])
        #expect(code == "200")
        let rows = body["data"] as? [[String: Any]] ?? []
        #expect(rows.count == 1)
        #expect(rows.first?["type"] as? String == "node" && rows.first?["name"] as? String == "h1" && rows.first?["id"] as? String == "node/h1")
        #expect(rows.first?["nodeid"] as? Int == 0 && rows.first?["local"] as? Int == 1 && rows.first?["online"] as? Int == 1)
        (code, body) = try await Self.json(["\(base)/nodes/h1/status"])
        let status = body["data"] as? [String: Any] ?? [:]
        let pveversion = status["pveversion"] as? String ?? ""
        #expect(pveversion.wholeMatch(of: /pve-manager\/\d+\.\d+\.\d+\/[0-9a-f]{16}/) != nil, "\(pveversion)")
        #expect((status["corral-version"] as? String)?.hasPrefix("corral/") == true)
        (code, body) = try await Self.json(["\(base)/version"])
        #expect(((body["data"] as? [String: Any])?["version"] as? String)?.wholeMatch(of: /\d+\.\d+\.\d+/) != nil)
        (code, body) = try await Self.json(["\(base)/access/domains/pam"])
        #expect(code == "200", "\(body)")
        let realm = body["data"] as? [String: Any] ?? [:]
        #expect(realm["type"] as? String == "pam" && (realm["digest"] as? String)?.count == 40)
        (code, _) = try await Self.json(["\(base)/access/domains/nosuch"])
        #expect(code == "500")
        // a volume ID sent with its '/' unencoded reaches the handler (which finds no such volume);
        // elsewhere a '/' in a value is no route, as on PVE
        (code, body) = try await Self.json(["\(base)/nodes/h1/storage/local/content/local:iso/nothing-here.iso"])
        #expect(code != "501" && code != "200", "\(code) \(body)")
        (code, _) = try await Self.json(["\(base)/pools/a/b"])
        #expect(code == "501")
        // a used VMID: create is a plain 500, nextid names the parameter; a stale digest is a 500
        (code, body) = try await Self.json(["-X", "POST", "-d", "vmid=150", "-d", "memory=64", "\(base)/nodes/h1/qemu"])
        let upid = try #require(body["data"] as? String)
        for _ in 0..<100 {
            let (_, status) = try await Self.json([
                "\(base)/nodes/h1/tasks/\(upid.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)/status"
            ])
            if (status["data"] as? [String: Any])?["status"] as? String == "stopped" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        (code, body) = try await Self.json(["-X", "POST", "-d", "vmid=150", "-d", "memory=64", "\(base)/nodes/h1/qemu"])
        #expect(code == "500" && body["message"] as? String == "unable to create VM 150 - VM 150 already exists on node 'h1'\n", "\(code) \(body)")
        (code, body) = try await Self.json(["\(base)/cluster/nextid?vmid=150"])
        #expect(code == "400" && (body["errors"] as? [String: String])?["vmid"] == "VM 150 already exists", "\(code) \(body)")
        (code, body) = try await Self.json([
            "-X", "PUT", "-d", "memory=96", "-d", "digest=0000000000000000000000000000000000000000", "\(base)/nodes/h1/qemu/150/config",
        ])
        #expect(code == "500" && (body["message"] as? String)?.hasPrefix("detected modified configuration") == true, "\(code) \(body)")
        // no corosync.conf: no members and no join information; with one, its nodelist and totem
        (code, body) = try await Self.json(["\(base)/cluster/config/nodes"])
        #expect(code == "200" && (body["data"] as? [Any])?.isEmpty == true)
        (code, _) = try await Self.json(["\(base)/cluster/config/join"])
        #expect(code == "500")
        let corosync =
            "nodelist {\n  node {\n    name: h1\n    nodeid: 1\n    quorum_votes: 1\n    ring0_addr: 192.0.2.1\n  }\n}\n\ntotem {\n  cluster_name: lab\n  config_version: 3\n}\n"
        try node.clusterFS.write("corosync.conf", Array(corosync.utf8))
        (code, body) = try await Self.json(["\(base)/cluster/config/nodes"])
        let members = body["data"] as? [[String: Any]] ?? []
        #expect(members.count == 1 && members.first?["node"] as? String == "h1" && members.first?["nodeid"] as? Int == 1)
        (code, body) = try await Self.json(["\(base)/cluster/config/totem"])
        #expect((body["data"] as? [String: Any])?["cluster_name"] as? String == "lab")
        (code, body) = try await Self.json(["\(base)/cluster/config/join"])
        let join = body["data"] as? [String: Any] ?? [:]
        let entry = (join["nodelist"] as? [[String: Any]])?.first ?? [:]
        #expect(join["preferred_node"] as? String == "h1" && entry["pve_addr"] as? String == "192.0.2.1")
        #expect((entry["pve_fp"] as? String)?.wholeMatch(of: /([0-9A-F]{2}:){31}[0-9A-F]{2}/) != nil, "\(entry)")
        try node.clusterFS.delete("corosync.conf")
        // an unknown task is bad input naming the UPID
        (code, body) = try await Self.json(["\(base)/nodes/h1/tasks/UPID:h1:00000001:00000001:00000001:x::root@pam:/status"])
        #expect(code == "400" && (body["errors"] as? [String: String])?["upid"] == "no such task", "\(code) \(body)")
        // its log is one line saying there is none (PVE answers it so, not as an error)
        (code, body) = try await Self.json(["\(base)/nodes/h1/tasks/UPID:h1:00000001:00000001:00000001:x::root@pam:/log"])
        #expect(code == "200" && (body["data"] as? [[String: Any]])?.first?["n"] as? Int == 1 && body["total"] as? Int == 1, "\(body)")
        (code, body) = try await Self.json(["\(base)/version"])
        #expect((body["data"] as? [String: Any])?["console"] == nil)
        await node.shutdown(grace: 1)
    }

    /// PVE's API-viewer data, from the node's own declarations, open to anyone as on PVE.
    @Test func apiViewerDataIsPVEsShape() async throws {
        let (node, port) = try Self.startNode()
        let text = try await RunningCommand("/usr/bin/curl", ["-s", "-k", "https://127.0.0.1:\(port)/pve-docs/api-viewer/apidoc.js"]).result().stdout
        #expect(text.hasPrefix("const apiSchema = ") && text.hasSuffix(";\n"))
        let json = String(text.dropFirst("const apiSchema = ".count).dropLast(2))
        let tree = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(tree.map { $0["path"] as? String } == ["/access", "/cluster", "/events", "/nodes", "/pools", "/storage", "/version"])
        let nodes = try #require(tree.first { $0["path"] as? String == "/nodes" })
        let node1 = try #require((nodes["children"] as? [[String: Any]])?.first)
        #expect(node1["path"] as? String == "/nodes/{node}" && node1["text"] as? String == "{node}" && node1["leaf"] as? Int == 0)
        let dns = try #require((node1["children"] as? [[String: Any]])?.first { $0["text"] as? String == "dns" })
        let get = try #require((dns["info"] as? [String: Any])?["GET"] as? [String: Any])
        #expect(get["method"] as? String == "GET" && get["proxyto"] as? String == "node" && dns["leaf"] as? Int == 1)
        #expect(((get["parameters"] as? [String: Any])?["properties"] as? [String: Any])?["node"] != nil)
        await node.shutdown(grace: 1)
    }

    /// DNS and hosts as telegraf, Ansible and the console read and set them: on a test node, files of
    /// its own data directory (never the machine's).
    @Test func dnsAndHostsAreReadAndSet() async throws {
        let (node, port) = try Self.startNode()
        let base = "https://127.0.0.1:\(port)/api2/json/nodes/h1"
        let resolv = node.settings.dataDirectory + "/resolv.conf", hosts = node.settings.dataDirectory + "/hosts"
        #expect(resolv != "/etc/resolv.conf" && hosts != "/etc/hosts")
        try "# managed elsewhere\nsearch example.org\nnameserver 192.0.2.53\noptions edns0\n".write(toFile: resolv, atomically: true, encoding: .utf8)
        var (code, body) = try await Self.json(["\(base)/dns"])
        var dns = body["data"] as? [String: String] ?? [:]
        #expect(code == "200" && dns == ["search": "example.org", "dns1": "192.0.2.53"], "\(body)")
        (code, body) = try await Self.json(["-X", "PUT", "-d", "search=lab.example", "-d", "dns1=192.0.2.1", "-d", "dns2=2001:db8::1", "\(base)/dns"])
        #expect(code == "200", "\(body)")
        let written = try String(contentsOfFile: resolv, encoding: .utf8)
        #expect(written == "search lab.example\nnameserver 192.0.2.1\nnameserver 2001:db8::1\n# managed elsewhere\noptions edns0\n", "\(written)")
        (code, body) = try await Self.json(["\(base)/dns"])
        dns = body["data"] as? [String: String] ?? [:]
        #expect(dns == ["search": "lab.example", "dns1": "192.0.2.1", "dns2": "2001:db8::1"])
        (code, body) = try await Self.json(["-X", "PUT", "-d", "search=x", "-d", "dns1=not-an-ip", "\(base)/dns"])
        #expect(code == "400" && (body["errors"] as? [String: String])?["dns1"] != nil)
        // hosts: a write names the digest it read; a stale one is refused and changes nothing
        try "127.0.0.1 localhost\n".write(toFile: hosts, atomically: true, encoding: .utf8)
        (code, body) = try await Self.json(["\(base)/hosts"])
        let digest = try #require((body["data"] as? [String: Any])?["digest"] as? String)
        (code, body) = try await Self.json([
            "-X", "POST", "--data-urlencode", "data=127.0.0.1 localhost\n192.0.2.7 h1.lab h1", "-d", "digest=\(digest)", "\(base)/hosts",
        ])
        #expect(code == "200", "\(body)")
        #expect(try String(contentsOfFile: hosts, encoding: .utf8) == "127.0.0.1 localhost\n192.0.2.7 h1.lab h1\n")
        (code, _) = try await Self.json(["-X", "POST", "--data-urlencode", "data=nothing", "-d", "digest=\(digest)", "\(base)/hosts"])
        #expect(code == "500")
        #expect(try String(contentsOfFile: hosts, encoding: .utf8) == "127.0.0.1 localhost\n192.0.2.7 h1.lab h1\n")
        await node.shutdown(grace: 1)
    }

    @Test func runningTasksAreListedAndStoppedOverHTTP() async throws {
        let (node, port) = try Self.startNode()
        let upid = try node.services.tasks.start(type: "wait", id: "", user: "root@pam") { _ in try await Task.sleep(for: .seconds(30)) }
        let encoded = upid.description.replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: "@", with: "%40")
        let base = "https://127.0.0.1:\(port)/api2/json/nodes/h1/tasks"
        var text = try await Self.curl(["\(base)?source=active"]).result().stdout
        #expect(text.contains(upid.description) && text.contains(#""total":1"#))
        text = try await Self.curl(["-X", "DELETE", "\(base)/\(encoded)"]).result().stdout
        #expect(text == #"{"data":null}"#)
        let record = await node.services.tasks.wait(upid)
        #expect(record.exit == .error("received interrupt"))
        text = try await Self.curl(["\(base)/\(encoded)/status"]).result().stdout
        #expect(text.contains(#""status":"stopped""#) && text.contains(#""exitstatus":"received interrupt""#))
        await node.shutdown(grace: 1)
    }
}

/// The shared-threads policy, end to end: handlers that block (here, on a taken cluster lock, as a
/// config write does) hold neither the loop thread that accepted them nor the cooperative pool.
/// (In the serialized suite: tests of the suite share the session cookie.)
extension NodeHTTPTests {
    static func timed(_ arguments: [String]) throws -> RunningCommand {
        try NodeHTTPTests.curl(["-o", "/dev/null", "-w", "%{http_code} %{time_total}"] + arguments)
    }

    static func result(_ started: RunningCommand) async -> (code: String, seconds: Double) {
        let text = await started.result().stdout
        let parts = text.split(separator: " ")
        return (parts.first.map(String.init) ?? "", parts.count > 1 ? Double(parts[1]) ?? 99 : 99)
    }

    @Test func aBlockedHandlerDelaysNeitherVersionNorLogin() async throws {
        let (node, port) = try NodeHTTPTests.startNode()
        let base = "https://127.0.0.1:\(port)/api2/json"
        var created = await Self.result(
            try Self.timed(["-X", "POST", "-d", "userid=bob@pve", "-d", "password=bob-secret-1", "\(base)/access/users"]))
        #expect(created.code == "200")
        // every user.cfg writer now waits on the lock, polling, until the test lets go 2 s later
        try node.clusterFS.acquireLock("user_cfg")
        let writers = try (0..<3).map { i in
            try Self.timed(["-X", "POST", "-d", "userid=w\(i)@pve", "\(base)/access/users"])
        }
        try await Task.sleep(for: .milliseconds(200))
        var versions: [Double] = []
        for _ in 0..<20 {
            let v = await Self.result(try Self.timed(["\(base)/version"]))
            #expect(v.code == "200")
            versions.append(v.seconds)
        }
        let login = await Self.result(try Self.timed(["-d", "username=bob@pve", "-d", "password=bob-secret-1", "\(base)/access/ticket"]))
        try await Task.sleep(for: .milliseconds(max(0, 2000 - 200 - Int(versions.reduce(0, +) * 1000) - Int(login.seconds * 1000))))
        try node.clusterFS.releaseLock("user_cfg")
        for writer in writers {
            created = await Self.result(writer)
            #expect(created.code == "200")
            // the writers really did wait for the lock: the test is not passing for want of a blocked handler
            #expect(created.seconds >= 1.5, "a writer finished in \(created.seconds) s")
        }
        #expect(login.code == "200")
        #expect(login.seconds < 0.5, "login took \(login.seconds) s while handlers were blocked")
        #expect(versions.max()! < 0.2, "slowest /version took \(versions.max()!) s while handlers were blocked")
        await node.shutdown(grace: 1)
    }
}

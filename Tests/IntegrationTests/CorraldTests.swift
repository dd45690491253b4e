import Foundation
import TestSupport
import Testing

@testable import TLS

/// The real corrald binary on loopback with TLS, and pvesh on the same node state.
@Suite(.serialized) struct CorraldTests {
    @Test func servesTheAPIOverVerifiedTLS() throws {
        let node = try NodeProcess()
        defer { _ = node.terminate() }
        let version = try curl(node, "/api2/json/version")
        #expect(version.status == 200)
        #expect(version.body.contains(#""release":"9.0""#))
        let nodes = try curl(node, "/api2/json/nodes")
        #expect(nodes.body.contains(#""node":"it1""#) && nodes.body.contains(#""status":"online""#))
        let bad = try runCommand(
            "/usr/bin/curl",
            [
                "-s", "-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}", "--cacert", node.caFile, "-H", "Accept-Encoding: gzip",
                "-b", node.cookie ?? "", "\(node.url)/api2/json/nodes/it1/tasks?limit=abc",
            ])
        #expect(bad.stdout == "400 0")
        let notImplemented = try runCommand("/usr/bin/curl", ["-s", "-i", "--cacert", node.caFile, "\(node.url)/api2/json/nodes/it1/nothing"])
        #expect(notImplemented.stdout.hasPrefix("HTTP/1.1 501 Method 'GET /nodes/it1/nothing' not implemented"))
        let console = try curl(node, "/")
        #expect(console.status == 200 && console.body.contains("<html"))
        let openapi = try curl(node, "/api2/openapi.json")
        #expect(openapi.body.contains(#""openapi":"3.1.0""#))
        // the certificate is ECDSA P-256 and names the node
        let cert = try runCommand("/usr/bin/openssl", ["x509", "-in", node.dataDirectory + "/pve/nodes/it1/pve-ssl.pem", "-noout", "-text"])
        #expect(cert.stdout.contains("prime256v1") && cert.stdout.contains("DNS:it1") && cert.stdout.contains("IP Address:127.0.0.1"))
        // malformed input never crashes the daemon
        // (closing stdin ends s_client: no timers, whose signals the test runner may block)
        for junk in ["GET / HTTP/9.9\r\n\r\n", "POST /api2/json/nodes HTTP/1.1\r\nContent-Length: 5\r\n\r\n{\"a\":", "GET /\u{0} HTTP/1.1\r\n\r\n"] {
            _ = try runCommand(
                "/bin/sh", ["-c", "printf '%s' \"$0\" | openssl s_client -no_ign_eof -connect 127.0.0.1:\(node.port) >/dev/null 2>&1; true", junk])
        }
        // garbage instead of a TLS handshake
        _ = try runCommand("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(node.port); printf '\\x16\\x03\\x01\\xff\\xffgarbage' >&3; exec 3>&-"])
        #expect(try curl(node, "/api2/json/version").status == 200)
        #expect(node.terminate() == 0)
    }

    @Test func pveshUsesTheSameNodeState() throws {
        let node = try NodeProcess(name: "it2")
        defer { _ = node.terminate() }
        let env = ["CORRAL_DATA_DIR": node.dataDirectory, "CORRAL_NODENAME": "it2", "CORRAL_CONFIG": "/dev/null"]
        let pvesh = NodeProcess.buildDirectory + "/corral"
        let ls = try runCommand(pvesh, ["pvesh", "ls", "/nodes/it2"], environment: env)
        #expect(ls.status == 0)
        #expect(ls.stdout.contains("-r-c-        status") && ls.stdout.contains("Dr---        tasks"), "\(ls.stdout)")
        let json = try runCommand(pvesh, ["pvesh", "get", "/nodes/it2/version", "--output-format", "json"], environment: env)
        #expect(json.stdout.hasPrefix("{") && json.stdout.contains(#""release":"9.0""#))
        let yaml = try runCommand(pvesh, ["pvesh", "get", "/version", "--output-format", "yaml"], environment: env)
        #expect(yaml.stdout.contains("release: '9.0'") || yaml.stdout.contains("release: \"9.0\"") || yaml.stdout.contains("release: 9.0"))
        let text = try runCommand(pvesh, ["pvesh", "get", "/nodes"], environment: env)
        #expect(text.stdout.contains("│ it2"))
        let bad = try runCommand(pvesh, ["pvesh", "get", "/nodes/it2/tasks", "--limit", "x"], environment: env)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("limit: type check ('integer') failed - got 'x'"))
        let missing = try runCommand(pvesh, ["pvesh", "get", "/nope"], environment: env)
        #expect(missing.status == 1 && missing.stderr.contains("not implemented"))
        let usage = try runCommand(pvesh, ["pvesh", "usage", "/nodes/{node}/tasks"], environment: env)
        #expect(usage.stdout.hasPrefix("USAGE: pvesh get /nodes/{node}/tasks"))
    }

    @Test func tasksInterruptedByARestartShowAsStopped() throws {
        let data = NSTemporaryDirectory() + "corral-it-\(UUID().uuidString)"
        // a task whose worker process is gone, as a crash or restart leaves it
        let upid = "UPID:it3:0098967F:00000001:6560A000:qmstart:100:root@pam:"
        try FileManager.default.createDirectory(atPath: data + "/tasks/0", withIntermediateDirectories: true)
        try "\(upid)\n".write(toFile: data + "/tasks/active", atomically: true, encoding: .utf8)
        try "starting VM 100\n".write(toFile: data + "/tasks/0/\(upid)", atomically: true, encoding: .utf8)
        let node = try NodeProcess(name: "it3", dataDirectory: data)
        defer { _ = node.terminate() }
        let encoded = upid.replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: "@", with: "%40")
        let status = try curl(node, "/api2/json/nodes/it3/tasks/\(encoded)/status")
        #expect(status.status == 200)
        #expect(status.body.contains(#""status":"stopped""#) && status.body.contains("unexpected status"))
        let log = try curl(node, "/api2/json/nodes/it3/tasks/\(encoded)/log")
        #expect(log.body.contains(#""t":"starting VM 100""#) && log.body.contains("TASK ERROR: unexpected status"))
        #expect(log.body.contains(#""total":2"#))
        let list = try curl(node, "/api2/json/nodes/it3/tasks?errors=1")
        #expect(list.body.contains(upid))
    }

    @Test func sigtermShutsDownCleanly() throws {
        let node = try NodeProcess(name: "it4")
        #expect(try curl(node, "/api2/json/version").status == 200)
        #expect(node.terminate() == 0)
        #expect(try runCommand("/usr/bin/curl", ["-s", "-k", "\(node.url)/api2/json/version"]).status != 0)
        let log = try String(contentsOfFile: node.dataDirectory + "/access.log", encoding: .utf8)
        #expect(log.contains("\"GET /api2/json/version HTTP/1.1\" 200"))
    }
}

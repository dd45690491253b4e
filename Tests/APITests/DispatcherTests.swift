import Composition
import Daemon
import Foundation
import Testing

@testable import API
@testable import Schema

func makeDispatcher(node: String = "t1") throws -> Dispatcher {
    var settings = Settings()
    settings.dataDirectory = NSTemporaryDirectory() + "corral-api-\(UUID().uuidString)"
    settings.nodeName = node
    return try NodeComposition.makeDispatcher(settings: settings)
}

func call(_ d: Dispatcher, _ method: String, _ path: String, _ params: [String: RawParameter] = [:]) async -> APIOutcome {
    await d.call(APICall(method: method, segments: path.split(separator: "/").map(String.init), parameters: params))
}

@Suite struct DispatcherTests {
    @Test func unknownPathOrMethodIs501InPVEWords() async throws {
        let d = try makeDispatcher()
        let outcome = await call(d, "GET", "/nodes/t1/bogus")
        #expect(outcome.result == .failure(APIError(501, "Method 'GET /nodes/t1/bogus' not implemented")))
        let post = await call(d, "POST", "/version")
        #expect(post.result == .failure(APIError(501, "Method 'POST /version' not implemented")))
    }

    @Test func parameterErrorsAre400WithPerParameterMessages() async throws {
        let d = try makeDispatcher()
        let outcome = await call(d, "GET", "/nodes/t1/tasks", ["limit": .text("-1"), "vmid": .text("42"), "nope": .text("1")])
        guard case .failure(let error) = outcome.result else { Issue.record("accepted"); return }
        #expect(error.status == 400)
        #expect(error.message == "Parameter verification failed.")
        #expect(error.errors?["limit"] == "value must have a minimum value of 0")
        #expect(error.errors?["vmid"] == "value must have a minimum value of 100")
        #expect(error.errors?["nope"]?.hasPrefix("property is not defined in schema") == true)
    }

    @Test func anotherNodeIsNotAnsweredFromHere() async throws {
        let d = try makeDispatcher()
        let outcome = await call(d, "GET", "/nodes/other/status")
        #expect(outcome.result == .failure(APIError(404, "no such cluster node 'other'")))
    }

    @Test func statusReportsTheKernelsFigures() async throws {
        let d = try makeDispatcher()
        let data = try await call(d, "GET", "/nodes/t1/status").result.get()
        let meminfo = try String(contentsOfFile: "/proc/meminfo", encoding: .utf8)
        let totalKiB = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }!.split(separator: " ")[1]
        #expect(data["memory"]?["total"]?.intValue == Int64(totalKiB)! * 1024)
        #expect(data["cpuinfo"]?["cpus"]?.intValue == Int64(ProcessInfo.processInfo.activeProcessorCount))
        #expect((data["uptime"]?.intValue ?? 0) > 0)
        #expect(data["loadavg"]?.arrayValue?.count == 3)
        #expect((data["rootfs"]?["total"]?.intValue ?? 0) > 0)
        let cpu = try #require(data["cpu"]?.doubleValue)
        #expect(cpu >= 0 && cpu <= 1)
        let time = try await call(d, "GET", "/nodes/t1/time").result.get()
        #expect(abs((time["time"]?.intValue ?? 0) - Int64(Date().timeIntervalSince1970)) < 5)
    }

    @Test func indexesListWhatIsDeclared() async throws {
        let d = try makeDispatcher()
        let root = try await call(d, "GET", "/").result.get()
        #expect(root.arrayValue?.compactMap { $0["subdir"]?.stringValue } == ["cluster", "events", "nodes", "version"])
        let node = try await call(d, "GET", "/nodes/t1").result.get()
        #expect(
            node.arrayValue?.compactMap { $0["name"]?.stringValue } == [
                "apt", "capabilities", "disks", "dns", "hardware", "hosts", "journal", "netstat", "network", "replication", "report", "rrd", "rrddata",
                "services", "status",
                "subscription", "syslog", "tasks", "termproxy", "time", "version", "vncwebsocket",
            ])
        let version = try await call(d, "GET", "/version").result.get()
        #expect(version["release"] == "9.0")
        #expect(version["repoid"]?.stringValue?.count == 16)
    }

    @Test func envelopesMatchPVE() {
        let ok = ResponseFormat.json.render(APIOutcome(.success(["a": 1]), attributes: ["total": 3]))
        #expect(ok.status == 200)
        #expect(String(decoding: ok.body, as: UTF8.self) == #"{"data":{"a":1},"total":3}"#)
        let bad = ResponseFormat.json.render(APIOutcome(.failure(.parameters(["vmid": "nope"]))))
        #expect(bad.status == 400)
        #expect(bad.reason == "Parameter verification failed.")
        #expect(String(decoding: bad.body, as: UTF8.self) == #"{"data":null,"errors":{"vmid":"nope"},"message":"Parameter verification failed.\n"}"#)
        let failed = ResponseFormat.json.render(APIOutcome(.failure(APIError(500, "storage 'x' does not exist"))))
        #expect(failed.reason == "storage 'x' does not exist")
        #expect(String(decoding: failed.body, as: UTF8.self) == #"{"data":null,"message":"storage 'x' does not exist\n"}"#)
        let extjs = ResponseFormat.extjs.render(APIOutcome(.failure(APIError(500, "boom"))))
        #expect(extjs.status == 200)
        #expect(String(decoding: extjs.body, as: UTF8.self) == #"{"data":null,"message":"boom","status":500,"success":0}"#)
    }

    @Test func registryRefusesAmbiguousDeclarations() {
        let h = EndpointHandler.sync { _ in .null }
        #expect(throws: APIError.self) {
            try Registry([
                Endpoint(.GET, "/a/{x}", name: "a", description: "", permission: .anyUser, handler: h),
                Endpoint(.GET, "/a/{y}/b", name: "b", description: "", permission: .anyUser, handler: h),
            ])
        }
        #expect(throws: APIError.self) {
            try Registry([
                Endpoint(.GET, "/a", name: "a", description: "", permission: .anyUser, handler: h),
                Endpoint(.GET, "/a", name: "b", description: "", permission: .anyUser, handler: h),
            ])
        }
    }

    @Test(arguments: [
        ("/s/local/content/local:iso/x.iso", "volume", "local:iso/x.iso"),
        ("/s/local/content/local:100/vm-100-disk-0.qcow2", "volume", "local:100/vm-100-disk-0.qcow2"),
        ("/s/local/content/local:iso%2Fx.iso", "volume", "local:iso%2Fx.iso"),
        ("/f/ipset/net/192.0.2.0/24", "cidr", "192.0.2.0/24"),
        ("/f/ipset/net/192.0.2.1", "cidr", "192.0.2.1"),
    ])
    func aFinalPathParameterTakesRawSlashes(path: String, name: String, value: String) throws {
        let h = EndpointHandler.sync { _ in .null }
        let registry = try Registry([
            Endpoint(.GET, "/s/{storage}/content/{volume}", name: "v", description: "", permission: .anyUser, handler: h),
            Endpoint(.GET, "/s/{storage}/status", name: "st", description: "", permission: .anyUser, handler: h),
            Endpoint(.GET, "/f/ipset/{name}", name: "set", description: "", permission: .anyUser, handler: h),
            Endpoint(.GET, "/f/ipset/{name}/{cidr}", name: "cidr", description: "", permission: .anyUser, handler: h),
        ])
        let found = registry.route("GET", path.split(separator: "/").map(String.init))
        #expect(found?.1[name] == value)
        // literal routes still win, and a parameter inside a path never swallows what follows it
        #expect(registry.route("GET", ["s", "local", "status"])?.0.name == "st")
        #expect(registry.route("GET", ["s", "a", "b", "status"]) == nil)
    }
}

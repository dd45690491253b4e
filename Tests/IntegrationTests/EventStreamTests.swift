import Foundation
import Glibc
import TestSupport
import Testing

/// `/events` on a real corrald: a VM made, renamed, started and deleted through the API appears on
/// the stream as resource events, with ids a reconnecting client resumes from.
@Suite(.serialized) struct EventStreamTests {
    struct Event {
        let id: String?
        let name: String
        let data: [String: Any]
    }

    /// A server-sent event stream read by curl into a file, parsed on demand.
    final class Stream {
        let process = Process()
        let file: String

        init(_ node: NodeProcess, query: String = "", lastEventID: String? = nil) throws {
            file = NSTemporaryDirectory() + "corral-events-\(UUID().uuidString)"
            _ = FileManager.default.createFile(atPath: file, contents: nil)
            var arguments = ["-s", "-N", "--max-time", "300", "--cacert", node.caFile, "-o", file]
            if let cookie = node.cookie { arguments += ["-b", cookie] }
            if let lastEventID { arguments += ["-H", "Last-Event-ID: \(lastEventID)"] }
            process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            process.arguments = arguments + [node.url + "/api2/json/events" + query]
            try process.run()
        }

        var events: [Event] {
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            return text.components(separatedBy: "\n\n").compactMap { block in
                var id: String?, name: String?, data: [String: Any] = [:]
                for line in block.split(separator: "\n") {
                    if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
                    if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                    if line.hasPrefix("data: ") { data = VMTests.json(String(line.dropFirst(6))) }
                }
                return name.map { Event(id: id, name: $0, data: data) }
            }
        }

        /// The first event after `after` events that `match`es, waiting up to `timeout` seconds.
        func wait(after: Int = 0, timeout: Double = 20, _ match: (Event) -> Bool) -> (Event, Date)? {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if let hit = events.dropFirst(after).first(where: match) { return (hit, Date()) }
                usleep(20_000)
            }
            return nil
        }

        func close() {
            // SIGKILL: a blocked SIGTERM is inherited through exec, and curl would not end
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: file)
        }
    }

    static func isGuest(_ e: Event, _ vmid: Int, _ check: ([String: Any]) -> Bool = { _ in true }) -> Bool {
        e.name == "resource" && e.data["id"] as? String == "qemu/\(vmid)" && check(e.data)
    }

    @Test func resourceChangesArriveAndAClientResumes() throws {
        _ = try VMTests.prepare()
        let data = NSTemporaryDirectory() + "corral-it-events-\(UUID().uuidString)"
        let node = try NodeProcess(name: "ev", dataDirectory: data, extraArguments: ["--local", "--set", "domain-prefix=corral-test-ev-"])
        defer {
            _ = try? VMTests.task(node, "POST", "/nodes/ev/qemu/973/status/stop")
            _ = try? VMTests.task(node, "DELETE", "/nodes/ev/qemu/973")
            _ = node.terminate()
            try? FileManager.default.removeItem(atPath: data)
        }
        let stream = try Stream(node)
        defer { stream.close() }
        let ready = try #require(stream.wait { $0.name == "ready" }?.0)
        #expect(ready.data["node"] as? String == "ev" && ready.id != nil && ready.id == ready.data["id"] as? String, "\(ready.data)")

        // a new VM is a row of /cluster/resources at once: the create task's end compares the list
        #expect(try VMTests.task(node, "POST", "/nodes/ev/qemu", ["vmid=973", "memory=64", "name=before"]) == "OK")
        let created = try #require(stream.wait { Self.isGuest($0, 973) { $0["name"] as? String == "before" && $0["lock"] == nil } }?.0)
        #expect(created.data["status"] as? String == "stopped" && created.data["maxmem"] as? Double == 64 * 1_048_576, "\(created.data)")
        #expect(stream.events.contains { $0.name == "task-finished" && ($0.data["upid"] as? String ?? "").contains(":qmcreate:973:") })

        // a client that drops resumes: what changed meanwhile arrives, and nothing before it
        let resumePoint = try #require(stream.events.last?.id)
        stream.close()
        #expect(try curl(node, "/api2/json/nodes/ev/qemu/973/config", ["-X", "PUT", "-d", "name=after"]).status == 200)
        // the comparison after a config change is asynchronous; the every-second one has run by now
        Thread.sleep(forTimeInterval: 1.5)
        let resumed = try Stream(node, query: "?since=\(resumePoint)")
        defer { resumed.close() }
        let renamed = try #require(resumed.wait { Self.isGuest($0, 973) { $0["name"] as? String == "after" } }?.0)
        let back = resumed.events.first { $0.name == "ready" }
        #expect(back?.data["missed"] as? Int ?? 0 >= 1 && back?.data["resync"] == nil, "\(String(describing: back?.data))")
        #expect(!resumed.events.contains { Self.isGuest($0, 973) { $0["name"] as? String == "before" } }, "only what came after the point")
        #expect(renamed.id != nil && renamed.id != resumePoint)
        // EventSource's own reconnect sends Last-Event-ID instead
        let byHeader = try Stream(node, lastEventID: resumePoint)
        defer { byHeader.close() }
        #expect(byHeader.wait { Self.isGuest($0, 973) { $0["name"] as? String == "after" } } != nil)

        // a point this process never gave out (an earlier corrald's) asks the client to reload
        let stale = try Stream(node, query: "?since=zz-5")
        defer { stale.close() }
        #expect(stale.wait { $0.name == "ready" }?.0.data["resync"] as? Int == 1)
        let bad = try curl(node, "/api2/json/events?since=not%20an%20id")
        #expect(bad.status == 400 && bad.body.contains("since"), "\(bad.body)")

        // a start: the running row arrives promptly after the task ended
        let seen = resumed.events.count
        #expect(try VMTests.task(node, "POST", "/nodes/ev/qemu/973/status/start") == "OK")
        let ended = Date()
        let running = try #require(resumed.wait(after: seen) { Self.isGuest($0, 973) { $0["status"] as? String == "running" } })
        #expect(running.1.timeIntervalSince(ended) < 2, "the running row came \(running.1.timeIntervalSince(ended)) s after the task")

        // a deleted guest leaves the list
        #expect(try VMTests.task(node, "POST", "/nodes/ev/qemu/973/status/stop") == "OK")
        #expect(try VMTests.task(node, "DELETE", "/nodes/ev/qemu/973") == "OK")
        #expect(resumed.wait { $0.name == "resource-removed" && $0.data["id"] as? String == "qemu/973" } != nil)
    }
}

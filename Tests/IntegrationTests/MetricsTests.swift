import Foundation
import TestSupport
import Testing

/// RRD history on a real corrald: the node's, a VM's and a storage's figures are in `rrddata`
/// within a sampling cycle or two, agree with the live status, and survive a restart of corrald.
@Suite(.serialized) struct MetricsTests {
    static func rows(_ node: NodeProcess, _ path: String) -> [[String: Any]] {
        VMTests.json((try? curl(node, "/api2/json" + path))?.body ?? "")["data"] as? [[String: Any]] ?? []
    }

    @Test func figuresAreRecordedAndSurviveARestart() throws {
        let data = NSTemporaryDirectory() + "corral-it-rrd-\(UUID().uuidString)"
        var node: NodeProcess? = try NodeProcess(
            name: "rrd", dataDirectory: data, extraArguments: ["--local", "--set", "domain-prefix=corral-test-rrd-"])
        defer {
            _ = node?.terminate()
            try? FileManager.default.removeItem(atPath: data)
        }
        let n = node!
        #expect(try VMTests.task(n, "POST", "/nodes/rrd/qemu", ["vmid=971", "memory=96", "scsi0=local:0.01"]) == "OK")
        var nodeRows: [[String: Any]] = [], vmRows: [[String: Any]] = [], storageRows: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(25)
        while Date() < deadline {
            nodeRows = Self.rows(n, "/nodes/rrd/rrddata?timeframe=hour").filter { $0["memtotal"] != nil }
            vmRows = Self.rows(n, "/nodes/rrd/qemu/971/rrddata?timeframe=hour").filter { $0["maxmem"] != nil }
            storageRows = Self.rows(n, "/nodes/rrd/storage/local/rrddata?timeframe=hour&cf=MAX").filter { $0["total"] != nil }
            if !nodeRows.isEmpty && !vmRows.isEmpty && !storageRows.isEmpty { break }
            usleep(500_000)
        }
        // the node's memory as /nodes/{node}/status gives it
        let status = VMTests.json(try curl(n, "/api2/json/nodes/rrd/status").body)["data"] as? [String: Any] ?? [:]
        let total = (status["memory"] as? [String: Any])?["total"] as? Double
        #expect(nodeRows.last?["memtotal"] as? Double == total && total != nil, "\(nodeRows.suffix(2)) \(String(describing: total))")
        #expect((nodeRows.last?["maxcpu"] as? Double ?? 0) >= 1 && nodeRows.last?["cpu"] != nil, "\(nodeRows.suffix(1))")
        // a stopped VM: its size is known, its usage is not
        #expect(vmRows.last?["maxmem"] as? Double == 96 * 1_048_576 && vmRows.last?["cpu"] == nil, "\(vmRows.suffix(1))")
        let storage = VMTests.json(try curl(n, "/api2/json/nodes/rrd/storage/local/status").body)["data"] as? [String: Any] ?? [:]
        #expect(storageRows.last?["total"] as? Double == storage["total"] as? Double, "\(storageRows.suffix(1)) \(storage)")
        // every row has a time, a step of 10 s apart in the hour
        let times = Self.rows(n, "/nodes/rrd/rrddata?timeframe=hour").compactMap { $0["time"] as? Double }
        #expect(times.count >= 300 && zip(times, times.dropFirst()).allSatisfy { $1 - $0 == 10 }, "\(times.prefix(3))")
        #expect(!Self.rows(n, "/nodes/rrd/rrddata?timeframe=year").isEmpty)
        let bad = try curl(n, "/api2/json/nodes/rrd/rrddata?timeframe=fortnight")
        #expect(bad.status == 400 && bad.body.contains("timeframe"), "\(bad.body)")

        // the PNG graphs (rrd): the JSON answer names the file, /api2/png sends the image and removes it
        let drawn = VMTests.json(try curl(n, "/api2/json/nodes/rrd/rrd?ds=cpu,memused&timeframe=hour").body)["data"] as? [String: Any]
        let file = drawn?["filename"] as? String ?? ""
        #expect(FileManager.default.contents(atPath: file)?.starts(with: [0x89, 0x50, 0x4E, 0x47]) == true, "\(String(describing: drawn))")
        let image = try runCommand(
            "/bin/sh",
            [
                "-c",
                "curl -s --cacert \(n.caFile) -b '\(n.cookie ?? "")' '\(n.url)/api2/png/nodes/rrd/qemu/971/rrd?ds=maxmem&timeframe=day&cf=MAX' | head -c 8 | od -An -tx1",
            ])
        #expect(image.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "89 50 4e 47 0d 0a 1a 0a", "\(image.stdout)")
        let png = try curl(n, "/api2/png/nodes/rrd/storage/local/rrd?ds=total,used&timeframe=week", ["-o", "/dev/null", "-D", "-"])
        #expect(png.body.lowercased().contains("content-type: image/png"), "\(png.body)")
        let unknown = try curl(n, "/api2/json/nodes/rrd/rrd?ds=cpu,nosuch&timeframe=hour")
        #expect(unknown.status == 400 && unknown.body.contains("nosuch") && unknown.body.contains("\"ds\""), "\(unknown.body)")
        #expect(try curl(n, "/api2/json/nodes/rrd/rrd?timeframe=hour").status == 400, "ds is required")
        #expect(try curl(n, "/api2/png/nodes/rrd/status").status == 400, "only rrd answers as an image")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: data + "/rrd/png")) ?? []
        #expect(left == [(file as NSString).lastPathComponent], "only the graph nobody fetched is left: \(left)")

        // history is in files: a restarted corrald answers with what it recorded before
        let recorded = nodeRows.compactMap { $0["time"] as? Double }.min() ?? 0
        #expect(node?.terminate() == 0)
        node = try NodeProcess(name: "rrd", dataDirectory: data, extraArguments: ["--local", "--set", "domain-prefix=corral-test-rrd-"])
        let again = Self.rows(node!, "/nodes/rrd/rrddata?timeframe=hour").filter { ($0["time"] as? Double ?? 0) == recorded }
        #expect(again.first?["memtotal"] != nil, "the row of \(recorded) is still there")
        #expect(try VMTests.task(node!, "DELETE", "/nodes/rrd/qemu/971") == "OK")
    }
}

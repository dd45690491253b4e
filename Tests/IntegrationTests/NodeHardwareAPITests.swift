import Foundation
import TestSupport
import Testing

/// The node's hardware, QEMU capabilities and disks through the API, read from this machine.
@Suite struct NodeHardwareAPITests {
    @Test func theNodesHardwareAndQEMUAreListed() throws {
        let node = try NodeProcess(name: "hw", extraArguments: ["--local"])
        defer { _ = node.terminate() }
        func list(_ path: String) throws -> [[String: Any]] {
            let r = try curl(node, "/api2/json/nodes/hw/" + path)
            #expect(r.status == 200, "\(path): \(r.status) \(r.body)")
            return VMTests.json(r.body)["data"] as? [[String: Any]] ?? []
        }
        #expect(try list("hardware").compactMap { $0["type"] as? String } == ["pci", "usb"])
        #expect(try list("hardware/pci?pci-class-blacklist=").allSatisfy { ($0["id"] as? String)?.contains(":") == true && $0["iommugroup"] != nil })
        #expect(try list("capabilities/qemu/cpu").contains { $0["name"] as? String == "host" })
        #expect(try list("capabilities/qemu/machines").contains { $0["type"] as? String == "q35" })
        let disks = try list("disks/list?include-partitions=1")
        #expect(disks.allSatisfy { ($0["devpath"] as? String)?.hasPrefix("/dev/") == true && ($0["size"] as? Int ?? -1) >= 0 }, "\(disks)")
        let bad = try curl(node, "/api2/json/nodes/hw/capabilities/qemu/cpu?arch=sparc")
        #expect(bad.status == 400 && bad.body.contains("\"arch\""), "\(bad.body)")
    }

    /// The time zone is set in the node's own files (a test node's, never the machine's) and read back.
    @Test func theTimeZoneIsSetAndReadBack() throws {
        let node = try NodeProcess(name: "tz", extraArguments: ["--local"])
        defer { _ = node.terminate() }
        #expect(try curl(node, "/api2/json/nodes/tz/time", ["-X", "PUT", "-d", "timezone=Europe/Vienna"]).status == 200)
        let time = VMTests.json(try curl(node, "/api2/json/nodes/tz/time").body)["data"] as? [String: Any] ?? [:]
        #expect(time["timezone"] as? String == "Europe/Vienna", "\(time)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: node.dataDirectory + "/localtime") == "/usr/share/zoneinfo/Europe/Vienna")
        for zone in ["Mars/Olympus", "../../etc/passwd", "Europe"] {
            let bad = try curl(node, "/api2/json/nodes/tz/time", ["-X", "PUT", "--data-urlencode", "timezone=\(zone)"])
            #expect(bad.status == 400 && bad.body.contains("\"timezone\""), "\(zone): \(bad.body)")
        }
        #expect((try? String(contentsOfFile: node.dataDirectory + "/timezone", encoding: .utf8)) == "Europe/Vienna\n")
        #expect((try? String(contentsOfFile: "/etc/timezone", encoding: .utf8)) != "Europe/Vienna\n")
    }
}

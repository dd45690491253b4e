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
}

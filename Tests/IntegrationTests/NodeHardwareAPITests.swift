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

    /// Logs, versions, services and power through the API; a test node never powers the machine off.
    @Test func logsVersionsServicesAndPower() throws {
        let node = try NodeProcess(name: "sys", extraArguments: ["--local"])
        defer { _ = node.terminate() }
        func data(_ path: String) throws -> Any? {
            let r = try curl(node, "/api2/json/nodes/sys/" + path)
            #expect(r.status == 200, "\(path): \(r.status) \(r.body)")
            return VMTests.json(r.body)["data"]
        }
        let syslog = try data("syslog?limit=5") as? [[String: Any]] ?? []
        #expect(!syslog.isEmpty && syslog.count <= 5 && syslog.first?["n"] as? Int == 1 && syslog.first?["t"] is String, "\(syslog)")
        #expect((try data("journal?lastentries=3") as? [String])?.isEmpty == false)
        let versions = try data("apt/versions") as? [[String: Any]] ?? []
        #expect(versions.first?["Package"] as? String == "corral" && versions.first?["RunningKernel"] as? String != nil, "\(versions.prefix(2))")
        #expect(versions.contains { $0["Package"] as? String == "corosync" && $0["CurrentState"] as? String == "Installed" })
        let services = try data("services") as? [[String: Any]] ?? []
        #expect(services.first?["service"] as? String == "corrald" && services.allSatisfy { $0["active-state"] is String })
        #expect(try data("netstat") is [Any])
        let power = try curl(node, "/api2/json/nodes/sys/status", ["-d", "command=reboot"])
        #expect(power.status == 500 && power.body.contains("shares its machine"), "\(power.body)")
        let bogus = try curl(node, "/api2/json/nodes/sys/status", ["-d", "command=explode"])
        #expect(bogus.status == 400 && bogus.body.contains("\"command\""), "\(bogus.body)")
    }

    /// The node's options in `nodes/<node>/config`, PVE's layout: description lines first.
    @Test func theNodesOptionsAreKeptInItsConfigFile() throws {
        let node = try NodeProcess(name: "cfg", extraArguments: ["--local"])
        defer { _ = node.terminate() }
        let set = try curl(
            node, "/api2/json/nodes/cfg/config",
            ["-X", "PUT", "--data-urlencode", "description=rack 4\nspare PSU", "-d", "wakeonlan=aa:bb:cc:dd:ee:ff", "-d", "startall-onboot-delay=10"])
        #expect(set.status == 200, "\(set.body)")
        #expect(
            (try? String(contentsOfFile: node.mountpoint + "/nodes/cfg/config", encoding: .utf8))
                == "#rack 4\n#spare PSU\nstartall-onboot-delay: 10\nwakeonlan: aa:bb:cc:dd:ee:ff\n")
        let config = VMTests.json(try curl(node, "/api2/json/nodes/cfg/config").body)["data"] as? [String: Any] ?? [:]
        #expect(config["description"] as? String == "rack 4\nspare PSU" && config["wakeonlan"] as? String == "aa:bb:cc:dd:ee:ff", "\(config)")
        let one = VMTests.json(try curl(node, "/api2/json/nodes/cfg/config?property=wakeonlan").body)["data"] as? [String: Any] ?? [:]
        #expect(Set(one.keys) == ["wakeonlan", "digest"], "\(one)")
        let stale = try curl(node, "/api2/json/nodes/cfg/config", ["-X", "PUT", "-d", "delete=wakeonlan", "-d", "digest=0000"])
        #expect(stale.status == 500 && stale.body.contains("modified"), "\(stale.body)")
        let badMAC = try curl(node, "/api2/json/nodes/cfg/config", ["-X", "PUT", "-d", "wakeonlan=not-a-mac"])
        #expect(badMAC.status == 400 && badMAC.body.contains("\"wakeonlan\""), "\(badMAC.body)")
        let digest = config["digest"] as? String ?? ""
        #expect(
            try curl(node, "/api2/json/nodes/cfg/config", ["-X", "PUT", "-d", "delete=wakeonlan,description", "-d", "digest=\(digest)"]).status == 200
        )
        #expect((try? String(contentsOfFile: node.mountpoint + "/nodes/cfg/config", encoding: .utf8)) == "startall-onboot-delay: 10\n")
    }
}

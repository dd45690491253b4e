import Foundation
import TestSupport
import Testing

/// The node network through the API against a real kernel: corrald in a network namespace of its
/// own (so nothing touches the machine's interfaces), its interfaces file in its data directory.
/// A bridge is created, refused with a port that does not exist, applied (the kernel has it, with
/// its address and port), tried with a deadline that passes (rolled back), and confirmed.
@Suite(.serialized) struct NodeNetworkAPITests {
    static let namespace = "crlnet-node"

    static func sh(_ script: String) throws -> CommandResult { try runCommand("/bin/bash", ["-c", script]) }

    static func inNode(_ command: String) throws -> String { try sh("ip netns exec \(namespace) \(command) 2>&1").stdout }

    @Test func createApplyTrialAndConfirm() throws {
        _ = try? Self.sh("ip netns del \(Self.namespace) 2>/dev/null; ip link del crlneth0 2>/dev/null")
        let setup = try Self.sh(
            """
            set -e
            ip netns add \(Self.namespace)
            ip link add crlneth0 type veth peer name crlnetn0
            ip link set crlnetn0 netns \(Self.namespace)
            ip addr add 10.217.0.1/24 dev crlneth0 && ip link set crlneth0 up
            ip -n \(Self.namespace) addr add 10.217.0.2/24 dev crlnetn0 && ip -n \(Self.namespace) link set crlnetn0 up
            ip -n \(Self.namespace) link set lo up
            ip -n \(Self.namespace) link add portA type veth peer name portB
            """)
        #expect(setup.status == 0, "\(setup)")
        defer { _ = try? Self.sh("ip netns del \(Self.namespace); ip link del crlneth0 2>/dev/null") }
        let data = NSTemporaryDirectory() + "corral-it-net-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: data + "/etc/network", withIntermediateDirectories: true)
        try "nameserver 127.0.0.1\n".write(toFile: data + "/etc/resolv.conf", atomically: true, encoding: .utf8)
        let original = "auto lo\niface lo inet loopback\n\n# the uplink\niface crlnetn0 inet manual\n"
        try original.write(toFile: data + "/etc/network/interfaces", atomically: true, encoding: .utf8)
        #expect(try Self.sh("mount --bind \(data) \(data) && mount --make-shared \(data)").status == 0)
        defer { _ = try? Self.sh("umount -l \(data)") }
        let node = try NodeProcess(
            name: "nett", dataDirectory: data, networkNamespace: Self.namespace, host: "10.217.0.2",
            extraArguments: ["--local", "--set", "resolv-conf=\(data)/etc/resolv.conf"], ownSysfs: true)
        defer { _ = node.terminate() }
        func call(_ method: String, _ path: String, _ form: [String] = []) throws -> (status: Int, body: String) {
            try curl(node, "/api2/json/nodes/nett/network" + path, ["-X", method] + form.flatMap { ["--data-urlencode", $0] })
        }

        // a port that does not exist: 400 naming bridge_ports, nothing pending
        let refused = try call("POST", "", ["iface=vmbr9", "type=bridge", "bridge_ports=nosuchport"])
        #expect(refused.status == 400 && refused.body.contains("bridge_ports"), "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: data + "/etc/network/interfaces.new"))

        // create: pending in interfaces.new, listed, shown as a diff; the kernel untouched
        let created = try call(
            "POST", "", ["iface=vmbr9", "type=bridge", "bridge_ports=portA", "cidr=10.218.0.1/24", "autostart=1", "comments=test"])
        #expect(created.status == 200, "\(created)")
        let pending = (try? String(contentsOfFile: data + "/etc/network/interfaces.new", encoding: .utf8)) ?? ""
        #expect(
            pending.hasPrefix(original) && pending.contains("iface vmbr9 inet static\n\taddress 10.218.0.1/24\n\tbridge-ports portA"), "\(pending)")
        #expect(try call("GET", "/changes").body.contains("+iface vmbr9 inet static"))
        #expect(try call("GET", "/vmbr9").body.contains("\"cidr\":\"10.218.0.1/24\""))
        #expect(!(try Self.inNode("ip link show vmbr9")).contains("vmbr9:"))
        let twice = try call("POST", "", ["iface=vmbr9", "type=bridge"])
        #expect(twice.status == 400 && twice.body.contains("iface"), "\(twice)")

        // apply: the file is in place, the kernel has the bridge with its address and port
        #expect(try VMTests.task(node, "PUT", "/nodes/nett/network") == "OK")
        #expect(!FileManager.default.fileExists(atPath: data + "/etc/network/interfaces.new"))
        #expect(try Self.inNode("ip -br addr show vmbr9").contains("10.218.0.1/24"))
        #expect(try Self.inNode("ip -br link show portA").contains("vmbr9") || (try Self.inNode("ip link show portA")).contains("master vmbr9"))

        // a trial whose deadline passes goes back by itself
        #expect(try call("PUT", "/vmbr9", ["type=bridge", "cidr=10.219.0.1/24"]).status == 200)
        #expect(try VMTests.task(node, "POST", "/nodes/nett/network/trial", ["timeout=5"]) == "OK")
        #expect(try Self.inNode("ip -br addr show vmbr9").contains("10.219.0.1/24"))
        #expect(try call("GET", "/changes").body.contains("rollback-at"))
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline, !(try Self.inNode("ip -br addr show vmbr9")).contains("10.218.0.1/24") { usleep(250_000) }
        #expect(try Self.inNode("ip -br addr show vmbr9").contains("10.218.0.1/24"), "rolled back to the old address")
        #expect(try String(contentsOfFile: data + "/etc/network/interfaces", encoding: .utf8).contains("10.218.0.1/24"))
        #expect(!(try call("GET", "/changes").body.contains("rollback-at")))

        // a confirmed trial stays; removing the bridge and applying takes it out of the kernel
        #expect(try call("PUT", "/vmbr9", ["type=bridge", "cidr=10.219.0.1/24"]).status == 200)
        #expect(try VMTests.task(node, "POST", "/nodes/nett/network/trial", ["timeout=5"]) == "OK")
        #expect(try call("POST", "/confirm").status == 200)
        sleep(6)
        #expect(try Self.inNode("ip -br addr show vmbr9").contains("10.219.0.1/24"), "a confirmed change stays")
        #expect(try call("POST", "/confirm").status == 500, "nothing is waiting any more")
        #expect(try call("DELETE", "/vmbr9").status == 200)
        #expect(try VMTests.task(node, "PUT", "/nodes/nett/network") == "OK")
        #expect(!(try Self.inNode("ip link show vmbr9")).contains("vmbr9:"), "a removed bridge leaves the kernel")
        #expect(try String(contentsOfFile: data + "/etc/network/interfaces", encoding: .utf8) == original, "back to the file as it was")

        // revert drops what is pending
        #expect(try call("POST", "", ["iface=vmbr8", "type=bridge"]).status == 200)
        #expect(try call("DELETE", "").status == 200)
        #expect(try call("GET", "/changes").body.contains("\"diff\":\"\""))
    }
}

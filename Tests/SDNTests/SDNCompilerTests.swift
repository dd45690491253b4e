import Testing

@testable import SDN

/// The SDN plan as a pure function: configuration in, devices, PVE's interfaces text, dnsmasq
/// files and SNAT rules out (goldens), and the checks that keep a bad configuration from applying.
@Suite struct SDNCompilerTests {
    static func config(
        zones: [String: SDNObject], vnets: [String: SDNObject] = [:], subnets: [String: SDNObject] = [:], version: Int = 7
    ) -> SDNConfig {
        SDNConfig(objects: ["zones": zones, "vnets": vnets, "subnets": subnets, "ipams": ["pve": SDNObject(type: "pve")]], version: version)
    }

    static let simple = config(
        zones: ["z1": SDNObject(type: "simple", values: ["ipam": "pve", "dhcp": "dnsmasq"])],
        vnets: ["vn1": SDNObject(type: "vnet", values: ["zone": "z1", "alias": "lab"])],
        subnets: [
            "z1-10.77.0.0-24": SDNObject(
                type: "subnet", values: ["vnet": "vn1", "gateway": "10.77.0.1", "snat": "1"],
                lists: ["dhcp-range": ["start-address=10.77.0.100,end-address=10.77.0.150"]])
        ])

    static func plan(
        _ config: SDNConfig, node: String = "n1", local: Set<String> = [], mappings: [(zone: String, mac: String, ip: String)] = []
    )
        -> SDNCompiler.Plan
    {
        SDNCompiler.plan(
            config, node: node, localAddresses: local, mappings: mappings, dnsmasqDirectory: { "/etc/dnsmasq.d/\($0)" },
            leaseFile: { "/run/sdn/\($0).leases" })
    }

    @Test func simpleZoneWithGatewaySNATAndDHCP() {
        let plan = Self.plan(Self.simple, mappings: [(zone: "z1", mac: "BC:24:11:00:00:01", ip: "10.77.0.100")])
        #expect(plan.zones.keys.sorted() == ["z1"] && plan.zones["z1"]! == nil)
        #expect(
            plan.interfaces == """
                #version:7

                auto vn1
                iface vn1
                \taddress 10.77.0.1/24
                \tbridge_ports none
                \tbridge_stp off
                \tbridge_fd 0
                \tip-forward on
                \talias lab

                """)
        #expect(plan.devices.count == 1 && plan.devices[0].kind == .bridge && plan.devices[0].addresses == ["10.77.0.1/24"])
        #expect(plan.routed == ["vn1"] && plan.snat)
        #expect(plan.nat.contains("type nat hook postrouting priority srcnat"))
        #expect(plan.nat.contains("ip saddr 10.77.0.0/24 ip daddr != 10.77.0.0/24 oifname != \"vn1\" masquerade"))
        let dhcp = plan.dhcp["z1"] ?? [:]
        #expect(dhcp["ethers"] == "bc:24:11:00:00:01,10.77.0.100\n", "MACs lower-case, one mapping per line")
        #expect(
            dhcp["10-vn1-z1-10.77.0.0-24.conf"] == """
                dhcp-range=set:z1-10.77.0.0-24,10.77.0.0,static,255.255.255.0,infinite
                dhcp-option=tag:z1-10.77.0.0-24,option:router,10.77.0.1
                dhcp-option=tag:z1-10.77.0.0-24,option:dns-server,10.77.0.1

                """)
        let main = dhcp["00-default.conf"] ?? ""
        #expect(
            main.contains("port=0\n") && main.contains("interface=vn1\n") && main.contains("dhcp-hostsfile=/etc/dnsmasq.d/z1/ethers\n"), "\(main)")
        #expect(main.contains("dhcp-leasefile=/run/sdn/z1.leases\n"))
    }

    @Test func vxlanTunnelsToTheOtherPeersOnly() {
        let config = Self.config(
            zones: ["vx": SDNObject(type: "vxlan", values: ["peers": "10.0.0.1, 10.0.0.2,10.0.0.3", "vxlan-port": "4790"])],
            vnets: ["vxn1": SDNObject(type: "vnet", values: ["zone": "vx", "tag": "4242"])])
        let plan = Self.plan(config, local: ["10.0.0.2", "127.0.0.1"])
        #expect(
            plan.interfaces == """
                #version:7

                auto vxlan_vxn1
                iface vxlan_vxn1
                \tvxlan-id 4242
                \tvxlan_remoteip 10.0.0.1
                \tvxlan_remoteip 10.0.0.3
                \tvxlan-port 4790
                \tmtu 1450

                auto vxn1
                iface vxn1
                \tbridge_ports vxlan_vxn1
                \tbridge_stp off
                \tbridge_fd 0
                \tmtu 1450

                """)
        let tunnel = plan.devices.first { $0.kind == .vxlan }
        #expect(tunnel?.remotes == ["10.0.0.1", "10.0.0.3"] && tunnel?.vni == 4242 && tunnel?.port == 4790 && tunnel?.master == "vxn1")
        #expect(plan.routed.isEmpty && !plan.snat && !plan.nat.contains("masquerade"))
    }

    @Test func vlanAndQinQZonesAsGoldens() {
        let config = Self.config(
            zones: [
                "vl": SDNObject(type: "vlan", values: ["bridge": "vmbr0"]),
                "qq": SDNObject(type: "qinq", values: ["bridge": "vmbr1", "tag": "20", "mtu": "1496"]),
            ],
            vnets: [
                "a": SDNObject(type: "vnet", values: ["zone": "vl", "tag": "100"]),
                "b": SDNObject(type: "vnet", values: ["zone": "qq", "tag": "30"]),
                "c": SDNObject(type: "vnet", values: ["zone": "qq", "tag": "31"]),
            ])
        let plan = Self.plan(config)
        #expect(
            plan.devices.map(\.name) == ["vmbr1.20", "vmbr1.20.30", "b", "vmbr1.20.31", "c", "vmbr0.100", "a"],
            "the service VLAN once, before the customer VLANs")
        #expect(plan.interfaces.contains("auto vmbr1.20\niface vmbr1.20\n\tvlan-raw-device vmbr1\n\tvlan-id 20\n\tvlan-protocol 802.1ad\n"))
        #expect(plan.interfaces.contains("auto vmbr0.100\niface vmbr0.100\n\tvlan-raw-device vmbr0\n\tvlan-id 100\n"))
        #expect(plan.interfaces.contains("auto b\niface b\n\tbridge_ports vmbr1.20.30\n\tbridge_stp off\n\tbridge_fd 0\n\tmtu 1496\n"))
        let commands = SDNApply.commands(old: [], new: plan.devices, exists: { _ in false })
        #expect(commands.contains(["ip", "link", "add", "link", "vmbr1", "name", "vmbr1.20", "type", "vlan", "protocol", "802.1ad", "id", "20"]))
        #expect(commands.contains(["ip", "link", "add", "link", "vmbr1.20", "name", "vmbr1.20.30", "type", "vlan", "id", "30"]))
        #expect(commands.contains(["ip", "link", "set", "vmbr0.100", "master", "a"]))
    }

    @Test func zonesLimitedToNodesAndUnsupportedTypes() {
        let config = Self.config(
            zones: ["z1": SDNObject(type: "simple", values: ["nodes": "n2,n3"]), "ev": SDNObject(type: "evpn")],
            vnets: ["v1": SDNObject(type: "vnet", values: ["zone": "z1"])])
        #expect(Self.plan(config, node: "n1").devices.isEmpty)
        #expect(Self.plan(config, node: "n2").devices.map(\.name) == ["v1"])
        #expect((Self.plan(config, node: "n2").zones["ev"] ?? nil)?.contains("FRR") == true)
    }

    @Test func checksNameTheField() {
        let config = Self.config(
            zones: [
                "vx": SDNObject(type: "vxlan", values: ["peers": "10.0.0.1,nothost"]),
                "z1": SDNObject(type: "simple", values: ["dhcp": "dnsmasq", "ipam": "pve"]),
            ],
            vnets: [
                "a": SDNObject(type: "vnet", values: ["zone": "vx"]),
                "b": SDNObject(type: "vnet", values: ["zone": "nozone"]),
                "c": SDNObject(type: "vnet", values: ["zone": "z1"]),
            ],
            subnets: [
                "z1-10.1.0.0-24": SDNObject(type: "subnet", values: ["vnet": "c", "gateway": "10.2.0.1"]),
                "z1-10.1.0.128-25": SDNObject(type: "subnet", values: ["vnet": "c"]),
                "z1-10.3.0.0-24": SDNObject(
                    type: "subnet", values: ["vnet": "c"], lists: ["dhcp-range": ["start-address=10.3.0.50,end-address=10.3.0.10"]]),
            ])
        let errors = SDNCompiler.check(config)
        #expect(errors["zones/vx/peers"]?.contains("nothost") == true)
        #expect(errors["vnets/a/tag"] != nil, "a vxlan vnet needs its VNI")
        #expect(errors["vnets/b/zone"] != nil)
        #expect(errors["subnets/z1-10.1.0.0-24/gateway"] != nil)
        #expect(errors["subnets/z1-10.1.0.128-25/subnet"]?.contains("overlaps") == true)
        #expect(errors["subnets/z1-10.3.0.0-24/dhcp-range"]?.contains("ends before") == true)
        #expect(SDNCompiler.check(SDNCompilerTests.simple).isEmpty)
    }

    @Test func applyChangesABridgeInPlace() {
        var bridge = SDNDevice(name: "vn1", kind: .bridge, zone: "z1")
        bridge.addresses = ["10.77.0.1/24"]
        let fresh = SDNApply.commands(old: [], new: [bridge], exists: { _ in false })
        #expect(
            fresh == [
                ["ip", "link", "add", "vn1", "type", "bridge", "stp_state", "0", "forward_delay", "0"],
                ["ip", "address", "add", "10.77.0.1/24", "dev", "vn1"],
                ["ip", "link", "set", "vn1", "up"],
            ])
        var moved = bridge
        moved.addresses = ["10.78.0.1/24"]
        moved.mtu = 1400
        // guests' ports stay on a bridge that stays: no delete, no add
        #expect(
            SDNApply.commands(old: [bridge], new: [moved], exists: { _ in true }) == [
                ["ip", "link", "set", "vn1", "mtu", "1400"],
                ["ip", "address", "del", "10.77.0.1/24", "dev", "vn1"],
                ["ip", "address", "add", "10.78.0.1/24", "dev", "vn1"],
            ])
        #expect(SDNApply.commands(old: [bridge], new: [], exists: { _ in true }) == [["ip", "link", "del", "vn1"]])
        #expect(SDNApply.commands(old: [bridge], new: [bridge], exists: { _ in true }).isEmpty, "nothing to do is nothing done")
        #expect(
            SDNApply.commands(old: [bridge], new: [bridge], exists: { _ in false }).first?.starts(with: ["ip", "link", "add"]) == true,
            "made again after a reboot")
    }

    @Test func applyRemakesATunnelWhoseVNIChanged() {
        var tunnel = SDNDevice(name: "vxlan_a", kind: .vxlan, zone: "vx")
        tunnel.vni = 10
        tunnel.port = 4789
        tunnel.master = "a"
        tunnel.remotes = ["10.0.0.1"]
        var peers = tunnel
        peers.remotes = ["10.0.0.3"]
        #expect(
            SDNApply.commands(old: [tunnel], new: [peers], exists: { _ in true }) == [
                ["bridge", "fdb", "del", "00:00:00:00:00:00", "dev", "vxlan_a", "dst", "10.0.0.1"],
                ["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vxlan_a", "dst", "10.0.0.3"],
            ])
        var renumbered = tunnel
        renumbered.vni = 11
        let commands = SDNApply.commands(old: [tunnel], new: [renumbered], exists: { _ in true })
        #expect(
            commands.prefix(2) == [
                ["ip", "link", "del", "vxlan_a"], ["ip", "link", "add", "vxlan_a", "type", "vxlan", "id", "11", "dstport", "4789"],
            ])
        #expect(commands.contains(["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vxlan_a", "dst", "10.0.0.1"]))
        #expect(commands.contains(["ip", "link", "set", "vxlan_a", "master", "a"]))
    }

    @Test func ipamHandsOutTheFirstFreeAddress() {
        let entries = [
            SDNIPAM.Entry(zone: "z1", subnet: "10.0.0.0/24", ip: "10.0.0.10", values: ["mac": "a"]),
            SDNIPAM.Entry(zone: "z1", subnet: "10.0.0.0/24", ip: "10.0.0.11", values: ["mac": "b"]),
            SDNIPAM.Entry(zone: "z1", subnet: "10.9.0.0/24", ip: "10.0.0.12", values: ["mac": "c"]),
        ]
        let ranges = [(start: "10.0.0.10", end: "10.0.0.11"), (start: "10.0.0.12", end: "10.0.0.20")]
        #expect(SDNIPAM.firstFree(ranges, subnet: "10.0.0.0/24", in: entries) == "10.0.0.12", "the next range; other subnets do not count")
        #expect(SDNIPAM.firstFree([(start: "10.0.0.10", end: "10.0.0.11")], subnet: "10.0.0.0/24", in: entries) == nil)
    }

    @Test func subnetIDsAndRunningConfig() {
        #expect(Subnet(cidr: "10.77.0.9/24")?.id(zone: "z1") == "z1-10.77.0.0-24", "the network address names it")
        #expect(Subnet.fromID("z1-fd00::-64")?.subnet.cidr == "fd00::/64")
        #expect(Subnet(cidr: "fd00::/64")?.contains("fd00::5") == true && Subnet(cidr: "fd00::/64")?.contains("fd01::5") == false)
        let text = Self.simple.runningText()
        #expect(text.contains("\"dhcp-range\":[\"start-address=10.77.0.100,end-address=10.77.0.150\"]") && text.contains("\"version\":7"))
        #expect(text.contains("\"snat\":1"), "numbers as numbers, as PVE writes them")
    }
}

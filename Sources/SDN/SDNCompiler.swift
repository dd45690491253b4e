import Schema

/// What one node runs for an SDN configuration: a pure function of the applied configuration, the
/// node's name and addresses, and the IPAM's MAC mappings, so goldens test it without a kernel.
public enum SDNCompiler {
    public struct Plan: Equatable, Sendable {
        /// PVE's `/etc/network/interfaces.d/sdn` text for this node.
        public var interfaces = ""
        public var devices: [SDNDevice] = []
        /// Per DHCP zone: dnsmasq's files (name → text).
        public var dhcp: [String: [String: String]] = [:]
        /// The `table ip corral-sdn` ruleset (SNAT), or the removal when no subnet asks for it.
        public var nat = ""
        /// Zones this node runs, with the reason one cannot run (nil when it can).
        public var zones: [String: String?] = [:]
        /// Vnets that route (they hold a gateway: PVE's `ip-forward on`, forwarding on that device).
        public var routed: [String] = []
        /// A subnet is SNATed: replies from the uplink are routed back, so forwarding is on everywhere.
        public var snat = false
    }

    public static let natTable = "corral-sdn"
    static let vxlanPort = 4789

    /// Per-field problems of a configuration (empty when it can be applied), keyed `kind/id/field`
    /// for the apply, or by field for one object (`object`).
    public static func check(_ config: SDNConfig) -> [String: String] {
        var errors: [String: String] = [:]
        for (id, zone) in config.zones {
            if ["vlan", "qinq"].contains(zone.type), zone["bridge"] == nil { errors["zones/\(id)/bridge"] = "a \(zone.type) zone needs a bridge" }
            if zone["dhcp"] != nil, zone.type != "simple" { errors["zones/\(id)/dhcp"] = "only simple zones serve DHCP" }
            for peer in (zone["peers"] ?? "").split(whereSeparator: { $0 == "," || $0 == " " || $0 == ";" }) where !IPAddress.isIP(String(peer)) {
                errors["zones/\(id)/peers"] = "'\(peer)' is not an IP address"
            }
            if zone.type == "vxlan", (zone["peers"] ?? "").isEmpty { errors["zones/\(id)/peers"] = "a vxlan zone needs peers" }
        }
        // (zone, tag) → the first vnet (by id) that has it: later ones are the duplicates
        var firstWithTag: [String: String] = [:]
        for (id, vnet) in config.vnets.sorted(by: { $0.key < $1.key }) {
            if let zone = vnet["zone"], let tag = vnet["tag"], firstWithTag["\(zone) \(tag)"] == nil { firstWithTag["\(zone) \(tag)"] = id }
        }
        for (id, vnet) in config.vnets {
            guard let zoneID = vnet["zone"], let zone = config.zones[zoneID] else {
                errors["vnets/\(id)/zone"] = "zone '\(vnet["zone"] ?? "")' does not exist"
                continue
            }
            let tag = vnet["tag"].flatMap { Int($0) }
            switch zone.type {
            case "vxlan":
                if tag == nil || !(1...16_777_215).contains(tag!) { errors["vnets/\(id)/tag"] = "a vxlan zone's vnet needs a tag (VNI 1-16777215)" }
            case "vlan", "qinq":
                if tag == nil || !(1...4094).contains(tag!) { errors["vnets/\(id)/tag"] = "a \(zone.type) zone's vnet needs a tag (1-4094)" }
            case "simple":
                if vnet["tag"] != nil { errors["vnets/\(id)/tag"] = "a simple zone's vnet has no tag" }
            default: break
            }
            if let tag = vnet["tag"], let first = firstWithTag["\(zoneID) \(tag)"], first != id {
                errors["vnets/\(id)/tag"] = "tag \(tag) is already used by vnet '\(first)'"
            }
        }
        for (id, subnet) in config.subnets {
            guard let (zoneID, cidr) = Subnet.fromID(id) else {
                errors["subnets/\(id)/subnet"] = "'\(id)' is not a subnet id"
                continue
            }
            guard let vnetID = subnet["vnet"], let vnet = config.vnets[vnetID] else {
                errors["subnets/\(id)/vnet"] = "vnet '\(subnet["vnet"] ?? "")' does not exist"
                continue
            }
            if vnet["zone"] != zoneID { errors["subnets/\(id)/subnet"] = "the subnet's zone '\(zoneID)' is not vnet \(vnetID)'s" }
            if let gateway = subnet["gateway"] {
                if !cidr.contains(gateway) {
                    errors["subnets/\(id)/gateway"] = "gateway \(gateway) is not in \(cidr)"
                } else if gateway == cidr.address {
                    errors["subnets/\(id)/gateway"] = "gateway \(gateway) is the network address"
                }
            }
            for range in subnet.dhcpRanges {
                if !cidr.contains(range.start) || !cidr.contains(range.end) {
                    errors["subnets/\(id)/dhcp-range"] = "range \(range.start)-\(range.end) is not inside \(cidr)"
                } else if let a = IPv4(range.start), let b = IPv4(range.end), a > b {
                    errors["subnets/\(id)/dhcp-range"] = "range \(range.start)-\(range.end) ends before it starts"
                } else if let gateway = subnet["gateway"].flatMap(IPv4.init), let a = IPv4(range.start), let b = IPv4(range.end),
                    a <= gateway && gateway <= b
                {
                    errors["subnets/\(id)/dhcp-range"] = "range \(range.start)-\(range.end) holds the gateway \(gateway)"
                }
            }
            if !subnet.dhcpRanges.isEmpty, config.zones[zoneID]?["dhcp"] != nil, subnet["gateway"] == nil {
                errors["subnets/\(id)/gateway"] = "DHCP needs the subnet's gateway (dnsmasq answers from it)"
            }
        }
        // overlapping subnets of a zone, the later id named: IPv4 sorted by first address against the widest
        // range before (n log n: hundreds of vnets), IPv6 pairwise (few)
        var ranges: [String: [(id: String, cidr: Subnet, first: UInt32, last: UInt32)]] = [:]
        var v6: [String: [(id: String, cidr: Subnet)]] = [:]
        for id in config.subnets.keys {
            guard let (zone, cidr) = Subnet.fromID(id) else { continue }
            if let start = IPv4(cidr.address), let mask = cidr.mask {
                ranges[zone, default: []].append((id, cidr, start.value, start.value | ~mask.value))
            } else {
                v6[zone, default: []].append((id, cidr))
            }
        }
        for (zone, list) in ranges {
            var widest: (id: String, cidr: Subnet, first: UInt32, last: UInt32)?
            for range in list.sorted(by: { ($0.first, $0.id) < ($1.first, $1.id) }) {
                if let before = widest, range.first <= before.last {
                    let (later, other) = range.id > before.id ? (range, before) : (before, range)
                    errors["subnets/\(later.id)/subnet"] = "\(later.cidr) overlaps \(other.cidr) in zone \(zone)"
                }
                if widest == nil || range.last > widest!.last { widest = range }
            }
        }
        for (zone, list) in v6 {
            for a in list {
                for b in list where b.id < a.id && (b.cidr.contains(a.cidr.address) || a.cidr.contains(b.cidr.address)) {
                    errors["subnets/\(a.id)/subnet"] = "\(a.cidr) overlaps \(b.cidr) in zone \(zone)"
                }
            }
        }
        return errors
    }

    /// Does `zone` run on `node`? (`nodes` unset means every node.)
    static func runs(_ zone: SDNObject, on node: String) -> Bool {
        guard let nodes = zone["nodes"], !nodes.isEmpty else { return true }
        return nodes.split(whereSeparator: { $0 == "," || $0 == " " || $0 == ";" }).contains { $0 == node }
    }

    /// The node's plan. `mappings` are the IPAM's `(zone, mac, ip)` entries; `paths` name where
    /// dnsmasq keeps its leases and host file.
    public static func plan(
        _ config: SDNConfig, node: String, localAddresses: Set<String>, mappings: [(zone: String, mac: String, ip: String)],
        dnsmasqDirectory: (String) -> String, leaseFile: (String) -> String
    ) -> Plan {
        var plan = Plan()
        let problems = check(config)
        var stanzas: [String] = []
        var natRules: [String] = []
        // subnets by vnet (ids sorted), and the objects a problem keeps out
        var subnetsOf: [String: [String]] = [:]
        for id in config.subnets.keys.sorted() { if let vnet = config.subnets[id]!["vnet"] { subnetsOf[vnet, default: []].append(id) } }
        let broken = Set(
            problems.keys.compactMap { key -> String? in
                let parts = key.split(separator: "/")
                return parts.count == 3 && parts[0] != "zones" ? String(parts[1]) : nil
            })
        for zoneID in config.zones.keys.sorted() {
            let zone = config.zones[zoneID]!
            guard runs(zone, on: node) else { continue }
            let zoneProblem = problems.first { $0.key.hasPrefix("zones/\(zoneID)/") }.map { "\($0.key.split(separator: "/").last!): \($0.value)" }
            var zoneError: String? = zoneProblem
            if zone.type == "evpn" || zone.type == "faucet" { zoneError = "\(zone.type) zones need FRR, which this node does not run" }
            plan.zones[zoneID] = zoneError
            guard zoneError == nil else { continue }
            let mtu = zone["mtu"].flatMap { Int($0) } ?? (zone.type == "vxlan" ? 1450 : nil)
            var dhcpInterfaces: [String] = []
            var dhcpFiles: [String: String] = [:]
            for vnetID in config.vnets.keys.sorted() where config.vnets[vnetID]!["zone"] == zoneID {
                let vnet = config.vnets[vnetID]!
                if broken.contains(vnetID) { continue }
                let tag = vnet["tag"].flatMap { Int($0) }
                var bridge = SDNDevice(name: vnetID, kind: .bridge, zone: zoneID)
                bridge.mtu = mtu
                var lines = ["bridge_ports none", "bridge_stp off", "bridge_fd 0"]
                let subnets = (subnetsOf[vnetID] ?? []).filter { !broken.contains($0) }
                switch zone.type {
                case "simple":
                    for id in subnets {
                        let subnet = config.subnets[id]!
                        guard let (_, cidr) = Subnet.fromID(id) else { continue }
                        if let gateway = subnet["gateway"] {
                            bridge.addresses.append("\(gateway)/\(cidr.prefix)")
                            if !plan.routed.contains(vnetID) { plan.routed.append(vnetID) }
                            if subnet.flag("snat"), cidr.isIPv4 {
                                plan.snat = true
                                natRules.append("\t\tip saddr \(cidr) ip daddr != \(cidr) oifname != \"\(vnetID)\" masquerade")
                            }
                        }
                        if zone["dhcp"] == "dnsmasq", cidr.isIPv4, let gateway = subnet["gateway"], !subnet.dhcpRanges.isEmpty {
                            var text = "dhcp-range=set:\(id),\(cidr.address),static,\(cidr.mask!),infinite\n"
                            text += "dhcp-option=tag:\(id),option:router,\(gateway)\n"
                            text += "dhcp-option=tag:\(id),option:dns-server,\(subnet["dhcp-dns-server"] ?? gateway)\n"
                            dhcpFiles["10-\(vnetID)-\(id).conf"] = text
                            if !dhcpInterfaces.contains(vnetID) { dhcpInterfaces.append(vnetID) }
                        }
                    }
                    lines = bridge.addresses.map { "address \($0)" } + lines
                    if !bridge.addresses.isEmpty { lines.append("ip-forward on") }
                case "vxlan":
                    var tunnel = SDNDevice(name: "vxlan_\(vnetID)", kind: .vxlan, zone: zoneID)
                    tunnel.vni = tag
                    tunnel.port = zone["vxlan-port"].flatMap { Int($0) } ?? vxlanPort
                    tunnel.remotes = (zone["peers"] ?? "").split(whereSeparator: { $0 == "," || $0 == " " || $0 == ";" }).map(String.init)
                        .filter { !localAddresses.contains($0) }
                    tunnel.mtu = mtu
                    tunnel.master = vnetID
                    var tunnelLines = ["vxlan-id \(tag!)"] + tunnel.remotes.map { "vxlan_remoteip \($0)" }
                    if tunnel.port != vxlanPort { tunnelLines.append("vxlan-port \(tunnel.port!)") }
                    if let mtu { tunnelLines.append("mtu \(mtu)") }
                    stanzas.append(stanza(tunnel.name, tunnelLines))
                    plan.devices.append(tunnel)
                    lines[0] = "bridge_ports \(tunnel.name)"
                case "vlan", "qinq":
                    let base = zone["bridge"]!
                    var lowest = base
                    if zone.type == "qinq", let stag = zone["tag"].flatMap({ Int($0) }) {
                        var outer = SDNDevice(name: "\(base).\(stag)", kind: .vlan, zone: zoneID)
                        outer.lower = base
                        outer.vlan = stag
                        outer.vlanProtocol = zone["vlan-protocol"] ?? "802.1ad"
                        if !plan.devices.contains(where: { $0.name == outer.name }) {
                            stanzas.append(
                                stanza(outer.name, ["vlan-raw-device \(base)", "vlan-id \(stag)", "vlan-protocol \(outer.vlanProtocol!)"]))
                            plan.devices.append(outer)
                        }
                        lowest = outer.name
                    }
                    var link = SDNDevice(name: "\(lowest).\(tag!)", kind: .vlan, zone: zoneID)
                    link.lower = lowest
                    link.vlan = tag
                    link.vlanProtocol = "802.1q"
                    link.master = vnetID
                    link.mtu = mtu
                    stanzas.append(stanza(link.name, ["vlan-raw-device \(lowest)", "vlan-id \(tag!)"] + (mtu.map { ["mtu \($0)"] } ?? [])))
                    plan.devices.append(link)
                    lines[0] = "bridge_ports \(link.name)"
                default: break
                }
                if let mtu { lines.append("mtu \(mtu)") }
                if vnet.flag("isolate-ports") { lines.append("bridge-ports-isolation on") }
                if let alias = vnet["alias"] { lines.append("alias \(alias)") }
                stanzas.append(stanza(vnetID, lines))
                plan.devices.append(bridge)
            }
            if !dhcpInterfaces.isEmpty {
                let dir = dnsmasqDirectory(zoneID)
                var text = "# dnsmasq for SDN zone \(zoneID): DHCP only, answers only MACs the IPAM maps\n"
                text += "port=0\nbind-interfaces\nexcept-interface=lo\n"
                text += dhcpInterfaces.map { "interface=\($0)\n" }.joined()
                text += "dhcp-leasefile=\(leaseFile(zoneID))\ndhcp-hostsfile=\(dir)/ethers\ndhcp-authoritative\n"
                dhcpFiles["00-default.conf"] = text
                let hosts = mappings.filter { $0.zone == zoneID }.sorted { $0.ip < $1.ip }.map { "\($0.mac.lowercased()),\($0.ip)\n" }.joined()
                dhcpFiles["ethers"] = hosts
                plan.dhcp[zoneID] = dhcpFiles
            }
        }
        plan.interfaces = "#version:\(config.version)\n" + stanzas.map { "\n" + $0 }.joined()
        if natRules.isEmpty {
            plan.nat = "table ip \(natTable)\ndelete table ip \(natTable)\n"
        } else {
            plan.nat =
                "table ip \(natTable)\ndelete table ip \(natTable)\ntable ip \(natTable) {\n\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
                + natRules.map { $0 + "\n" }.joined() + "\t}\n}\n"
        }
        return plan
    }

    static func stanza(_ name: String, _ lines: [String]) -> String {
        "auto \(name)\niface \(name)\n" + lines.map { "\t\($0)\n" }.joined()
    }
}

/// Turns the firewall configuration of one node into one nftables ruleset, a pure function (golden
/// tests feed it files and compare text). The text replaces Corral's tables atomically under
/// `nft -f`: it first declares and deletes them, then builds them again.
///
/// Shape (see README.md for why):
/// - `table inet corral`: `input`/`output` hook chains with the host's rules (this node's, then the
///   cluster's), the management and cluster ports, then the policy; a `forward` chain that accepts
///   established flows and sends new ones through the chains of the guest ports they come from and
///   go to, then the forward rules and policy.
/// - `table bridge corral`: marks each bridged packet with the ids of its guest ports (in: bits
///   0–14, out: bits 16–30), because the inet hooks see only the bridge and the bridge family has no
///   conntrack here; bit 31 carries "accepted by the sender's rules" out of group chains.
public struct FirewallCompiler {
    public static let table = "corral"

    /// The ruleset that removes Corral's tables (firewall off).
    public static let removal = "table inet corral {}\ndelete table inet corral\ntable bridge corral {}\ndelete table bridge corral\n"

    enum Context: Equatable {
        case hostIn, hostOut, forward
        /// A guest NIC's traffic towards the guest / from the guest.
        case guestIn(vmid: Int, nic: String), guestOut(vmid: Int, nic: String)

        var direction: FirewallRule.Direction {
            switch self {
            case .hostIn, .guestIn: .in
            case .hostOut, .guestOut: .out
            case .forward: .forward
            }
        }
        var isGuestOut: Bool { if case .guestOut = self { true } else { false } }
    }

    let input: FirewallInput
    var sets: [String] = []
    var chains: [(name: String, body: [String])] = []
    var groupChains: Set<String> = []
    /// Named sets for port and address lists (see `namedSet`).
    var listSets: [String: String] = [:]
    var logLimit: String?

    init(_ input: FirewallInput) {
        self.input = input
        let rate = input.cluster.option("log_ratelimit").map(Self.ratelimit) ?? "limit rate 1/second burst 5 packets "
        logLimit = rate.isEmpty ? nil : rate
    }

    /// `enable=0` turns rate limiting off; otherwise `rate`/`burst` as given or PVE's defaults.
    static func ratelimit(_ text: String) -> String {
        var enable = true, rate = "1/second", burst = "5"
        for item in text.split(separator: ",") {
            let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 1 {
                enable = kv[0] != "0"
            } else if kv[0] == "enable" {
                enable = kv[1] != "0"
            } else if kv[0] == "rate" {
                rate = kv[1]
            } else if kv[0] == "burst" {
                burst = kv[1]
            }
        }
        return enable ? "limit rate \(rate) burst \(burst) packets " : ""
    }

    /// The ruleset for `input`; throws naming the file and field at fault.
    public static func compile(_ input: FirewallInput) throws -> String {
        guard input.cluster.option("enable") == "1" else { return removal }
        var compiler = FirewallCompiler(input)
        return try compiler.build()
    }

    static func bool(_ value: String?, _ fallback: Bool) -> Bool { value.map { $0 == "1" } ?? fallback }

    mutating func build() throws -> String {
        let host = input.host
        let hostOn = Self.bool(host.option("enable"), true)
        try declareSets(input.cluster, prefix: "dc", scope: FirewallAddresses(cluster: input.cluster, guest: nil, vmid: nil))
        // guests whose firewall is on, with their firewalled NICs and port ids
        var ports: [(guest: FirewallInput.Guest, nic: FirewallInput.NIC, id: Int)] = []
        for guest in input.guests where Self.bool(guest.file.option("enable"), false) {
            try declareSets(
                guest.file, prefix: "g\(guest.vmid)", scope: FirewallAddresses(cluster: input.cluster, guest: guest.file, vmid: guest.vmid))
            for nic in guest.nics where nic.firewall {
                ports.append((guest, nic, ports.count + 1))
            }
        }

        // host
        var inputChain = ["type filter hook input priority filter; policy accept;"]
        var outputChain = ["type filter hook output priority filter; policy accept;"]
        if hostOn {
            let allowInvalid = Self.bool(host.option("nf_conntrack_allow_invalid"), false)
            inputChain += ["iifname \"lo\" accept"]
            if !allowInvalid { inputChain.append("ct state invalid drop") }
            inputChain.append("ct state established,related accept")
            if Self.bool(host.option("tcpflags"), false) {
                inputChain.append("tcp flags & (fin|syn|rst|ack) == fin|syn drop")
                inputChain.append("tcp flags & (syn|rst) == syn|rst drop")
            }
            let scope = FirewallAddresses(cluster: input.cluster, guest: nil, vmid: nil)
            for (file, rules) in [("host.fw", host.rules), ("cluster.fw", input.cluster.rules)] {
                for rule in rules where rule.enable && (rule.type == .in || rule.type == .group) {
                    inputChain += try compile(rule, context: .hostIn, scope: scope, where_: file)
                }
            }
            let tcp = input.managementTCP.map(String.init).joined(separator: ", ")
            inputChain.append("tcp dport { \(tcp) } accept")
            inputChain.append("udp dport \(input.clusterUDP.lowerBound)-\(input.clusterUDP.upperBound) accept")
            inputChain += policy(input.cluster.option("policy_in") ?? "DROP", log: host.option("log_level_in"), prefix: "0 host-in")

            outputChain += ["oifname \"lo\" accept", "ct state established,related accept"]
            for (file, rules) in [("host.fw", host.rules), ("cluster.fw", input.cluster.rules)] {
                for rule in rules where rule.enable && (rule.type == .out || rule.type == .group) {
                    outputChain += try compile(rule, context: .hostOut, scope: scope, where_: file)
                }
            }
            outputChain.append("udp dport \(input.clusterUDP.lowerBound)-\(input.clusterUDP.upperBound) accept")
            outputChain += policy(input.cluster.option("policy_out") ?? "ACCEPT", log: host.option("log_level_out"), prefix: "0 host-out")
        }
        chains.append(("input", inputChain))
        chains.append(("output", outputChain))

        // guests: one chain per port and direction, picked by the marks the bridge table sets
        var forward = ["type filter hook forward priority filter; policy accept;", "ct state established,related accept"]
        if !ports.isEmpty {
            forward.append("meta mark & 0x7fff7fff != 0 ct state invalid drop")
            let outMap = ports.map { "\($0.id) : jump \(chainName($0.guest.vmid, $0.nic.name, "out"))" }.joined(separator: ", ")
            let inMap = ports.map { "\($0.id << 16) : jump \(chainName($0.guest.vmid, $0.nic.name, "in"))" }.joined(separator: ", ")
            forward.append("meta mark & 0x7fff vmap { \(outMap) }")
            forward.append("meta mark set meta mark & 0x7fffffff")
            forward.append("meta mark & 0x7fff0000 vmap { \(inMap) }")
        }
        for port in ports { try guestChains(port.guest, port.nic) }
        // vnets: what crosses a vnet (bridged or routed through its gateway) meets its forward rules, then its policy
        let scope = FirewallAddresses(cluster: input.cluster, guest: nil, vmid: nil)
        for (vnet, file) in input.vnets.sorted(by: { $0.key < $1.key }) where Self.bool(file.option("enable"), false) {
            var chain: [String] = []
            for rule in file.rules where rule.enable && rule.type == .forward {
                chain += try compile(rule, context: .forward, scope: scope, where_: "sdn/firewall/\(vnet).fw")
            }
            chain += policy(file.option("policy_forward") ?? "ACCEPT", log: file.option("log_level_forward"), prefix: "0 vnet-\(vnet)")
            chains.append(("vnet-\(vnet)", chain))
            forward.append("iifname \"\(vnet)\" jump vnet-\(vnet)")
            forward.append("oifname \"\(vnet)\" jump vnet-\(vnet)")
        }
        if hostOn {
            let scope = FirewallAddresses(cluster: input.cluster, guest: nil, vmid: nil)
            for (file, rules) in [("host.fw", host.rules), ("cluster.fw", input.cluster.rules)] {
                for rule in rules where rule.enable && rule.type == .forward {
                    forward += try compile(rule, context: .forward, scope: scope, where_: file)
                }
            }
            forward += policy(input.cluster.option("policy_forward") ?? "ACCEPT", log: host.option("log_level_forward"), prefix: "0 forward")
        }
        chains.insert(("forward", forward), at: 2)
        var out = Self.removal
        out += "table inet \(Self.table) {\n"
        for set in sets { out += set }
        for chain in chains {
            out += "\tchain \(chain.name) {\n" + chain.body.map { "\t\t\($0)\n" }.joined() + "\t}\n"
        }
        out += "}\n"
        if !ports.isEmpty { out += bridgeTable(ports.map { ($0.guest, $0.nic, $0.id) }) }
        return out
    }

    func chainName(_ vmid: Int, _ nic: String, _ direction: String) -> String { "g\(vmid)-\(nic)-\(direction)" }

    /// The bridge table: marks by port, and the MAC filter of ports whose guests keep it on.
    func bridgeTable(_ ports: [(FirewallInput.Guest, FirewallInput.NIC, Int)]) -> String {
        var out = "table bridge \(Self.table) {\n"
        let from = ports.map { "\"\($0.1.device)\" : jump from-\($0.2)" }.joined(separator: ", ")
        let to = ports.map { "\"\($0.1.device)\" : jump to-\($0.2)" }.joined(separator: ", ")
        out += "\tchain prerouting {\n\t\ttype filter hook prerouting priority -300; policy accept;\n\t\tiifname vmap { \(from) }\n\t}\n"
        out += "\tchain forward {\n\t\ttype filter hook forward priority -1; policy accept;\n\t\toifname vmap { \(to) }\n\t}\n"
        for (guest, nic, id) in ports {
            out += "\tchain from-\(id) {\n"
            if Self.bool(guest.file.option("macfilter"), true), let mac = nic.mac?.lowercased() {
                out += "\t\tether saddr != \(mac) drop\n"
            }
            out += "\t\tmeta mark set \(id)\n\t}\n"
            out += "\tchain to-\(id) {\n\t\tmeta mark set meta mark & 0x8000ffff | \(id << 16)\n\t}\n"
        }
        return out + "}\n"
    }

    mutating func guestChains(_ guest: FirewallInput.Guest, _ nic: FirewallInput.NIC) throws {
        let file = guest.file
        let scope = FirewallAddresses(cluster: input.cluster, guest: file, vmid: guest.vmid)
        let path = "firewall/\(guest.vmid).fw"
        // towards the guest
        var inChain: [String] = []
        if Self.bool(file.option("dhcp"), false) {
            inChain.append("udp sport 67 udp dport 68 accept")
            inChain.append("udp sport 547 udp dport 546 accept")
        }
        if Self.bool(file.option("ndp"), true) { inChain.append("jump \(ndpChain("in"))") }
        for rule in file.rules where rule.enable && (rule.type == .in || rule.type == .group) && (rule.iface == nil || rule.iface == nic.name) {
            inChain += try compile(rule, context: .guestIn(vmid: guest.vmid, nic: nic.name), scope: scope, where_: path)
        }
        inChain += policy(file.option("policy_in") ?? "DROP", log: file.option("log_level_in"), prefix: "\(guest.vmid) \(nic.name)-in")
        chains.append((chainName(guest.vmid, nic.name, "in"), inChain))

        // from the guest
        var outChain: [String] = []
        if Self.bool(file.option("dhcp"), false) {
            outChain.append("udp sport 68 udp dport 67 return")
            outChain.append("udp sport 546 udp dport 547 return")
        }
        // before NDP is let through: router advertisements only from guests allowed to send them
        if !Self.bool(file.option("radv"), false) { outChain.append("icmpv6 type nd-router-advert drop") }
        if Self.bool(file.option("ndp"), true) { outChain.append("jump \(ndpChain("out"))") }
        if Self.bool(file.option("ipfilter"), false) {
            let name = "ipfilter-\(nic.name)"
            if let set = file.ipsets.first(where: { $0.name.lowercased() == name }) {
                let ref = try scope.ref(set, prefix: "g\(guest.vmid)", field: "ipfilter")
                for family in [FirewallAddresses.Family.v4, .v6] {
                    outChain.append(
                        ref.families.contains(family)
                            ? "meta nfproto \(family == .v4 ? "ipv4" : "ipv6") \(family.rawValue) saddr != @\(ref.name)-\(family == .v4 ? "v4" : "v6") drop"
                            : "meta nfproto \(family == .v4 ? "ipv4" : "ipv6") drop")
                }
            } else if !nic.addresses.isEmpty {
                let v4 = nic.addresses.filter { FirewallAddresses.family(ofLiteral: $0) == .v4 }
                let v6 = nic.addresses.filter { FirewallAddresses.family(ofLiteral: $0) == .v6 }
                outChain.append(
                    v4.isEmpty
                        ? "meta nfproto ipv4 drop" : "ip saddr != \(v4.count == 1 ? v4[0] : "@" + namedSet("ipv4_addr", v4)) drop")
                // link-local addresses are the guest's own too
                outChain.append("ip6 saddr != @\(namedSet("ipv6_addr", ["fe80::/10"] + v6)) drop")
            }
        }
        for rule in file.rules where rule.enable && (rule.type == .out || rule.type == .group) && (rule.iface == nil || rule.iface == nic.name) {
            outChain += try compile(rule, context: .guestOut(vmid: guest.vmid, nic: nic.name), scope: scope, where_: path)
        }
        outChain += policy(
            file.option("policy_out") ?? "ACCEPT", log: file.option("log_level_out"), prefix: "\(guest.vmid) \(nic.name)-out", guestOut: true)
        chains.append((chainName(guest.vmid, nic.name, "out"), outChain))
    }

    /// One shared chain per direction that lets neighbour discovery through (a jump per guest,
    /// not a set per guest). Outgoing NDP is accepted outright: the receiver would accept it too.
    mutating func ndpChain(_ direction: String) -> String {
        let name = "ndp-\(direction)"
        if !groupChains.contains(name) {
            groupChains.insert(name)
            let types =
                direction == "in"
                ? "nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert" : "nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit"
            chains.append((name, ["icmpv6 type { \(types) } accept"]))
        }
        return name
    }

    /// The closing lines of a chain: its policy, logged at `log` when that is not `nolog`.
    func policy(_ verdict: String, log: String?, prefix: String, guestOut: Bool = false) -> [String] {
        var lines: [String] = []
        if let log, log != "nolog" {
            lines.append("\(logLimit ?? "")log prefix \"fw \(prefix) policy \(verdict): \" level \(Self.nftLevel(log))")
        }
        lines.append(Self.verdict(verdict, guestOut: guestOut))
        return lines
    }

    static func nftLevel(_ level: String) -> String { level == "warning" ? "warn" : level }

    static func verdict(_ action: String, guestOut: Bool) -> String {
        switch action {
        case "ACCEPT": guestOut ? "return" : "accept"
        case "REJECT": "reject"
        default: "drop"
        }
    }

    /// nft names IP sets `<scope>-<name>-v4|v6` (and `-nm` for `!` entries, which PVE calls nomatch).
    mutating func declareSets(_ file: FirewallFile, prefix: String, scope: FirewallAddresses) throws {
        for set in file.ipsets {
            let elements = try scope.elements(set, field: "ipset \(set.name)")
            for family in [FirewallAddresses.Family.v4, .v6] {
                for nomatch in [false, true] {
                    let items = elements.filter { $0.1 == family && $0.0.nomatch == nomatch }.map(\.0.cidr)
                    if nomatch && items.isEmpty { continue }
                    let name = "\(prefix)-\(set.name.lowercased())-\(family == .v4 ? "v4" : "v6")\(nomatch ? "-nm" : "")"
                    var text = "\tset \(name) {\n\t\ttype \(family == .v4 ? "ipv4_addr" : "ipv6_addr")\n\t\tflags interval\n\t\tauto-merge\n"
                    if !items.isEmpty { text += "\t\telements = { \(items.joined(separator: ", ")) }\n" }
                    sets.append(text + "\t}\n")
                }
            }
        }
    }
}

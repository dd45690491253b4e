import ClusterFS
import Foundation
import Schema

/// Everything the compiler reads: the cluster's and this node's files and this node's guests with
/// their firewalled NICs. Made from the cluster filesystem by `load`; made by hand in tests.
public struct FirewallInput: Sendable {
    public struct NIC: Sendable, Equatable {
        /// `net0`
        public var name: String
        /// The host side: `tap100i0` (VM) or `veth100i0` (container).
        public var device: String
        public var mac: String?
        /// The NIC's `firewall=1`.
        public var firewall: Bool
        /// Addresses the config gives the NIC (containers' `ip=`/`ip6=`), for `ipfilter`.
        public var addresses: [String] = []

        public init(name: String, device: String, mac: String?, firewall: Bool, addresses: [String] = []) {
            self.name = name
            self.device = device
            self.mac = mac
            self.firewall = firewall
            self.addresses = addresses
        }
    }

    public struct Guest: Sendable {
        public var vmid: Int
        public var nics: [NIC]
        public var file: FirewallFile

        public init(vmid: Int, nics: [NIC], file: FirewallFile) {
            self.vmid = vmid
            self.nics = nics
            self.file = file
        }
    }

    public var cluster = FirewallFile()
    public var host = FirewallFile()
    public var guests: [Guest] = []
    /// SDN vnets' firewall files (`sdn/firewall/<vnet>.fw`), by vnet.
    public var vnets: [String: FirewallFile] = [:]
    /// Ports that stay open on the host unless a rule says otherwise: the API, SSH, the peer port.
    public var managementTCP: [Int] = [8006, 22]
    /// Cluster traffic (corosync's knet/udp ports).
    public var clusterUDP: ClosedRange<Int> = 5405...5412

    public init() {}

    /// Reads the firewall files and this node's guests from the tree; a file that cannot be read is
    /// an error naming it (so a broken file never replaces a working ruleset).
    public static func load(tree: any ConfigTree, node: String) throws -> FirewallInput {
        var input = FirewallInput()
        input.cluster = try file(tree, "firewall/cluster.fw")
        input.host = try file(tree, "nodes/\(node)/host.fw")
        if let text = try? tree.readString("sdn/vnets.cfg"), let vnets = try? SectionConfig.parse(text, file: "sdn/vnets.cfg") {
            for section in vnets.sections where tree.exists("sdn/firewall/\(section.id).fw") {
                input.vnets[section.id] = try file(tree, "sdn/firewall/\(section.id).fw")
            }
        }
        guard let data = try? tree.read(".vmlist"), let ids = (try? JSONParser.parse(data))?["ids"]?.objectValue else { return input }
        for (id, entry) in ids where entry["node"]?.stringValue == node {
            guard let vmid = Int(id), let type = entry["type"]?.stringValue else { continue }
            let path = "nodes/\(node)/\(type == "qemu" ? "qemu-server" : "lxc")/\(vmid).conf"
            guard let text = try? tree.readString(path) else { continue }
            input.guests.append(
                Guest(vmid: vmid, nics: nics(config: text, vmid: vmid, qemu: type == "qemu"), file: try file(tree, "firewall/\(vmid).fw")))
        }
        input.guests.sort { $0.vmid < $1.vmid }
        return input
    }

    static func file(_ tree: any ConfigTree, _ path: String) throws -> FirewallFile {
        guard let text = try? tree.readString(path) else { return FirewallFile() }
        return try FirewallFile.parse(text, file: path)
    }

    /// The `netN` lines of a guest config's current section.
    public static func nics(config: String, vmid: Int, qemu: Bool) -> [NIC] {
        var out: [NIC] = []
        for line in config.split(separator: "\n") {
            if line.hasPrefix("[") { break }
            guard line.hasPrefix("net"), let colon = line.firstIndex(of: ":"), let index = Int(line[line.index(line.startIndex, offsetBy: 3)..<colon])
            else { continue }
            var props: [String: String] = [:]
            var mac: String?
            for item in line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces).split(separator: ",") {
                let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2 else { continue }
                props[kv[0]] = kv[1]
                // a VM's model key carries its MAC (`virtio=BC:24:…`)
                if qemu, kv[1].count == 17, kv[1].filter({ $0 == ":" }).count == 5 { mac = kv[1] }
            }
            if !qemu { mac = props["hwaddr"] }
            guard props["bridge"] != nil else { continue }
            var addresses: [String] = []
            for key in ["ip", "ip6"] {
                guard let value = props[key], !["dhcp", "auto", "manual"].contains(value) else { continue }
                addresses.append(String(value.split(separator: "/").first ?? Substring(value)))
            }
            out.append(
                NIC(
                    name: "net\(index)", device: "\(qemu ? "tap" : "veth")\(vmid)i\(index)", mac: mac, firewall: props["firewall"] == "1",
                    addresses: addresses))
        }
        return out.sorted { Int($0.name.dropFirst(3)) ?? 0 < Int($1.name.dropFirst(3)) ?? 0 }
    }
}

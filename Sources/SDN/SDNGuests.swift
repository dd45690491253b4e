import ClusterFS
import Foundation

/// Gives this node's guests their addresses in the IPAM: a NIC on a vnet whose zone serves DHCP
/// gets the first free address of its subnet's DHCP ranges (kept while the NIC keeps its MAC),
/// and the entry goes when the NIC or the guest does. dnsmasq then answers that MAC with it.
struct SDNGuests {
    let tree: any ConfigTree
    let node: String

    struct NIC: Equatable {
        var vmid: String
        var mac: String
        var bridge: String
        var hostname: String?
    }

    /// `.vmlist`: vmid → (node, type), or nil when it cannot be read.
    func vmlist() -> [String: (node: String, type: String)]? {
        guard let data = try? tree.read(".vmlist"), let json = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any],
            let ids = json["ids"] as? [String: Any]
        else { return nil }
        var out: [String: (node: String, type: String)] = [:]
        for (vmid, raw) in ids {
            guard let entry = raw as? [String: Any] else { continue }
            out[vmid] = ((entry["node"] as? String) ?? "", (entry["type"] as? String) ?? "")
        }
        return out
    }

    /// The NICs of this node's guests (`list` is `.vmlist`).
    func nics(_ list: [String: (node: String, type: String)]) -> [NIC] {
        var out: [NIC] = []
        let models = ["virtio", "e1000", "e1000e", "rtl8139", "vmxnet3", "ne2k_pci", "pcnet", "i82551"]
        for (vmid, entry) in list.sorted(by: { $0.key < $1.key }) where entry.node == node {
            let lxc = entry.type == "lxc"
            guard let text = try? tree.readString("nodes/\(node)/\(lxc ? "lxc" : "qemu-server")/\(vmid).conf") else { continue }
            let macKeys = lxc ? ["hwaddr"] : models
            var hostname: String?
            var found: [NIC] = []
            for line in text.split(separator: "\n") {
                if line.hasPrefix("[") { break }  // snapshots follow
                let kv = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2 else { continue }
                if kv[0] == "hostname" || kv[0] == "name" { hostname = kv[1] }
                guard kv[0].hasPrefix("net"), Int(kv[0].dropFirst(3)) != nil else { continue }
                var options: [String: String] = [:]
                for part in kv[1].split(separator: ",") {
                    let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
                    if pair.count == 2 { options[pair[0]] = pair[1] }
                }
                if let bridge = options["bridge"], let mac = macKeys.lazy.compactMap({ options[$0] }).first {
                    found.append(NIC(vmid: vmid, mac: mac.lowercased(), bridge: bridge))
                }
            }
            out += found.map { nic in
                var nic = nic
                nic.hostname = hostname
                return nic
            }
        }
        return out
    }

    func sync(_ config: SDNConfig) {
        // vnet → (zone, subnet id, ranges) for the vnets that hand out addresses
        var serving: [String: (zone: String, subnet: String, ranges: [(start: String, end: String)])] = [:]
        for (id, subnet) in config.subnets.sorted(by: { $0.key < $1.key }) {
            guard let vnet = subnet["vnet"], serving[vnet] == nil, let zoneID = config.vnets[vnet]?["zone"],
                config.zones[zoneID]?["dhcp"] != nil, let (_, cidr) = Subnet.fromID(id), cidr.isIPv4, !subnet.dhcpRanges.isEmpty
            else { continue }
            serving[vnet] = (zoneID, cidr.cidr, subnet.dhcpRanges)
        }
        guard let list = vmlist() else { return }
        let nics = nics(list)
        let localIDs = Set(list.filter { $0.value.node == node }.keys)
        let everyone: Set<String>? = Set(list.keys)
        let wanted = nics.compactMap { nic in serving[nic.bridge].map { (nic, $0) } }
        let ipam = SDNIPAM(tree: tree)
        // nothing to do: no guest wants an address and no entry belongs to one of ours
        let entries = ipam.entries()
        if wanted.isEmpty && !entries.contains(where: { $0.vmid.map { localIDs.contains($0) || !(everyone?.contains($0) ?? true) } ?? false }) {
            return
        }
        _ = try? ipam.modify { entries in
            entries.removeAll { entry in
                guard let vmid = entry.vmid else { return false }
                if let everyone, !everyone.contains(vmid) { return true }
                guard localIDs.contains(vmid) else { return false }
                return !wanted.contains {
                    $0.0.vmid == vmid && $0.0.mac == entry.mac?.lowercased() && $0.1.zone == entry.zone && $0.1.subnet == entry.subnet
                }
            }
            for (nic, target) in wanted
            where !entries.contains(where: { $0.vmid == nic.vmid && $0.mac?.lowercased() == nic.mac && $0.subnet == target.subnet }) {
                guard let ip = SDNIPAM.firstFree(target.ranges, subnet: target.subnet, in: entries) else { continue }
                var values = ["vmid": nic.vmid, "mac": nic.mac]
                if let hostname = nic.hostname { values["hostname"] = hostname }
                entries.append(SDNIPAM.Entry(zone: target.zone, subnet: target.subnet, ip: ip, values: values))
            }
        }
    }
}

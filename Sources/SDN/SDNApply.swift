/// The `ip` and `bridge` commands that take the kernel from the devices of the last apply to the
/// devices of this one: a pure function (goldens cover VLAN and QinQ, which these test kernels
/// cannot create). A bridge that stays is changed in place, so guests' ports on it stay attached.
public enum SDNApply {
    static let anyMAC = "00:00:00:00:00:00"

    public static func commands(old: [SDNDevice], new: [SDNDevice], exists: (String) -> Bool) -> [[String]] {
        var out: [[String]] = []
        let newNames = Set(new.map(\.name))
        // gone: ports before the bridges they sit in
        for device in old.reversed() where !newNames.contains(device.name) && exists(device.name) {
            out.append(["ip", "link", "del", device.name])
        }
        let previous = Dictionary(old.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        // bridges first, so ports have a master to join
        let ordered = new.filter { $0.kind == .bridge } + new.filter { $0.kind != .bridge }
        for device in ordered {
            var before = previous[device.name]
            if let old = before, exists(device.name), !old.sameIdentity(device) {
                out.append(["ip", "link", "del", device.name])
                before = nil
            }
            if before == nil || !exists(device.name) {
                before = nil
                switch device.kind {
                case .bridge:
                    out.append(["ip", "link", "add", device.name, "type", "bridge", "stp_state", "0", "forward_delay", "0"])
                case .vxlan:
                    out.append(["ip", "link", "add", device.name, "type", "vxlan", "id", "\(device.vni ?? 0)", "dstport", "\(device.port ?? 4789)"])
                case .vlan:
                    var add = ["ip", "link", "add", "link", device.lower ?? "", "name", device.name, "type", "vlan"]
                    if let proto = device.vlanProtocol, proto != "802.1q" { add += ["protocol", proto] }
                    out.append(add + ["id", "\(device.vlan ?? 0)"])
                }
            }
            let oldRemotes = before?.remotes ?? []
            for remote in oldRemotes where !device.remotes.contains(remote) {
                out.append(["bridge", "fdb", "del", anyMAC, "dev", device.name, "dst", remote])
            }
            for remote in device.remotes where !oldRemotes.contains(remote) {
                out.append(["bridge", "fdb", "append", anyMAC, "dev", device.name, "dst", remote])
            }
            if let mtu = device.mtu, before?.mtu != mtu || before == nil { out.append(["ip", "link", "set", device.name, "mtu", "\(mtu)"]) }
            if let master = device.master, before?.master != master || before == nil {
                out.append(["ip", "link", "set", device.name, "master", master])
            }
            let oldAddresses = before?.addresses ?? []
            for address in oldAddresses where !device.addresses.contains(address) {
                out.append(["ip", "address", "del", address, "dev", device.name])
            }
            for address in device.addresses where !oldAddresses.contains(address) {
                out.append(["ip", "address", "add", address, "dev", device.name])
            }
            if before == nil { out.append(["ip", "link", "set", device.name, "up"]) }
        }
        return out
    }
}

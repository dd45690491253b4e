import ClusterFS
import Foundation

/// PVE's built-in IPAM: `priv/ipam.db`, JSON `{zones: {zone: {subnets: {cidr: {ips: {ip: {…}}}}}}}`.
/// Gateways are entered when a subnet is made; guests' addresses when a guest's NIC joins a vnet
/// whose subnet hands out addresses (DHCP ranges), first free address first.
public struct SDNIPAM: Sendable {
    public static let path = "priv/ipam.db"
    public let tree: any ConfigTree

    public init(tree: any ConfigTree) { self.tree = tree }

    public struct Entry: Equatable, Sendable {
        public var zone: String
        public var subnet: String
        public var ip: String
        public var values: [String: String]
        public var mac: String? { values["mac"] }
        public var vmid: String? { values["vmid"] }
    }

    func load() -> [String: Any] {
        guard let data = try? tree.read(Self.path), let json = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any] else {
            return ["zones": [String: Any]()]
        }
        return json
    }

    public func entries() -> [Entry] {
        var out: [Entry] = []
        for (zone, zoneValue) in (load()["zones"] as? [String: Any]) ?? [:] {
            for (subnet, subnetValue) in ((zoneValue as? [String: Any])?["subnets"] as? [String: Any]) ?? [:] {
                for (ip, raw) in ((subnetValue as? [String: Any])?["ips"] as? [String: Any]) ?? [:] {
                    let values = ((raw as? [String: Any]) ?? [:]).mapValues { "\($0)" }
                    out.append(Entry(zone: zone, subnet: subnet, ip: ip, values: values))
                }
            }
        }
        return out.sorted { ($0.zone, $0.subnet, IPv4($0.ip)?.value ?? 0, $0.ip) < ($1.zone, $1.subnet, IPv4($1.ip)?.value ?? 0, $1.ip) }
    }

    /// Changes the entries under the cluster-wide IPAM lock; writes only when something changed.
    public func modify<T>(_ change: (inout [Entry]) throws -> T) throws -> T {
        try tree.withLock("sdn-ipam", timeout: 10) {
            let before = entries()
            var entries = before
            let result = try change(&entries)
            if entries != before { try write(entries) }
            return result
        }
    }

    func write(_ entries: [Entry]) throws {
        var zones: [String: Any] = [:]
        for entry in entries {
            var zone = zones[entry.zone] as? [String: Any] ?? ["subnets": [String: Any]()]
            var subnets = zone["subnets"] as? [String: Any] ?? [:]
            var subnet = subnets[entry.subnet] as? [String: Any] ?? ["ips": [String: Any]()]
            var ips = subnet["ips"] as? [String: Any] ?? [:]
            ips[entry.ip] = entry.values.mapValues { Int($0).map { $0 as Any } ?? $0 }
            subnet["ips"] = ips
            subnets[entry.subnet] = subnet
            zone["subnets"] = subnets
            zones[entry.zone] = zone
        }
        let data = try JSONSerialization.data(withJSONObject: ["zones": zones], options: [.sortedKeys])
        if !tree.exists("priv") { try? tree.mkdir("priv") }
        try tree.write(Self.path, Array(data))
    }

    /// The first address of `ranges` no entry of `subnet` holds.
    public static func firstFree(_ ranges: [(start: String, end: String)], subnet: String, in entries: [Entry]) -> String? {
        let taken = Set(entries.filter { $0.subnet == subnet }.compactMap { IPv4($0.ip) })
        for range in ranges {
            guard let start = IPv4(range.start), let end = IPv4(range.end), start <= end else { continue }
            var candidate = start.value
            while candidate <= end.value {
                if !taken.contains(IPv4(candidate)) { return IPv4(candidate).description }
                if candidate == UInt32.max { break }
                candidate += 1
            }
        }
        return nil
    }
}

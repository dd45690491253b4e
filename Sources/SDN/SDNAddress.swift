import Glibc

/// IPv4 arithmetic for subnets, gateways and DHCP ranges (IPv6 subnets are kept and listed, but
/// addresses are only handed out from IPv4 ranges).
public struct IPv4: Comparable, Hashable, Sendable, CustomStringConvertible {
    public let value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init?(_ text: String) {
        guard !text.utf8.contains(0) else { return nil }
        var addr = in_addr()
        guard inet_pton(AF_INET, text, &addr) == 1 else { return nil }
        value = UInt32(bigEndian: addr.s_addr)
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    public static func < (a: IPv4, b: IPv4) -> Bool { a.value < b.value }
}

/// A subnet as `address/prefix`, either family; `network` is the address with host bits cleared.
public struct Subnet: Hashable, Sendable, CustomStringConvertible {
    public let address: String
    public let prefix: Int

    public init?(cidr: String) {
        let parts = cidr.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Int(parts[1]) else { return nil }
        let address = String(parts[0])
        if let v4 = IPv4(address), (0...32).contains(prefix) {
            let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
            self.address = IPv4(v4.value & mask).description
        } else if address.contains(":"), (0...128).contains(prefix), Self.isIPv6(address) {
            self.address = address.lowercased()
        } else {
            return nil
        }
        self.prefix = prefix
    }

    /// PVE's subnet id: `zone-address-prefix`.
    public func id(zone: String) -> String { "\(zone)-\(address)-\(prefix)" }

    /// The CIDR a subnet id (`zone-address-prefix`) names.
    public static func fromID(_ id: String) -> (zone: String, subnet: Subnet)? {
        let parts = id.split(separator: "-")
        guard parts.count >= 3, let subnet = Subnet(cidr: "\(parts[1...(parts.count - 2)].joined(separator: "-"))/\(parts.last!)") else {
            return nil
        }
        return (String(parts[0]), subnet)
    }

    public var cidr: String { "\(address)/\(prefix)" }
    public var description: String { cidr }
    public var isIPv4: Bool { IPv4(address) != nil }

    public var mask: IPv4? {
        guard isIPv4 else { return nil }
        return IPv4(prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix))
    }

    public func contains(_ ip: String) -> Bool {
        if let v4 = IPv4(ip), let net = IPv4(address), let mask {
            return v4.value & mask.value == net.value
        }
        guard !isIPv4, Self.isIPv6(ip) else { return false }
        return Self.v6Bytes(ip).map { bytes in
            let net = Self.v6Bytes(address) ?? []
            for bit in 0..<prefix where (bytes[bit / 8] >> (7 - bit % 8)) & 1 != (net[bit / 8] >> (7 - bit % 8)) & 1 { return false }
            return true
        } ?? false
    }

    static func isIPv6(_ s: String) -> Bool { v6Bytes(s) != nil }

    static func v6Bytes(_ s: String) -> [UInt8]? {
        guard !s.utf8.contains(0) else { return nil }
        var addr = in6_addr()
        guard inet_pton(AF_INET6, s, &addr) == 1 else { return nil }
        return withUnsafeBytes(of: &addr) { Array($0) }
    }
}

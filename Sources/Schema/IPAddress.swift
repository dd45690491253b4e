import Glibc

/// Address checks through the C library's own parser (inet_pton), so we accept exactly what the
/// system's network stack will.
public enum IPAddress {
    // inet_pton reads a C string: a NUL inside would cut the text short and pass a prefix.
    public static func isIPv4(_ s: String) -> Bool {
        guard !s.utf8.contains(0) else { return false }
        var addr = in_addr()
        return inet_pton(AF_INET, s, &addr) == 1
    }

    public static func isIPv6(_ s: String) -> Bool {
        guard !s.utf8.contains(0) else { return false }
        var addr = in6_addr()
        return inet_pton(AF_INET6, s, &addr) == 1
    }

    public static func isIP(_ s: String) -> Bool { isIPv4(s) || isIPv6(s) }

    public static func isCIDR(_ s: String, v4: Bool, v6: Bool) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let bits = Int(parts[1]), parts[1].allSatisfy(\.isNumber) else { return false }
        let address = String(parts[0])
        if v4 && isIPv4(address) { return (0...32).contains(bits) }
        if v6 && isIPv6(address) { return (0...128).contains(bits) }
        return false
    }

    public static func isIPv4Mask(_ s: String) -> Bool {
        guard !s.utf8.contains(0) else { return false }
        var addr = in_addr()
        guard inet_pton(AF_INET, s, &addr) == 1 else { return false }
        let value = UInt32(bigEndian: addr.s_addr)
        let inverted = ~value
        return inverted & (inverted &+ 1) == 0  // ones then zeros
    }
}

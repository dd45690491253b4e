import Glibc

/// This machine's address for a new cluster's first link when none is given: the first IPv4 address
/// of an interface that is up and not loopback (then IPv6), as an administrator would pick.
enum LocalAddress {
    static func primary() throws -> String {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { throw ClusterError("cannot list this machine's addresses") }
        defer { freeifaddrs(list) }
        var v4: String?, v6: String?
        var entry: UnsafeMutablePointer<ifaddrs>? = first
        while let item = entry {
            entry = item.pointee.ifa_next
            let flags = Int32(item.pointee.ifa_flags)
            guard let address = item.pointee.ifa_addr, flags & Int32(IFF_UP) != 0, flags & Int32(IFF_LOOPBACK) == 0 else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let family = Int32(address.pointee.sa_family)
            guard family == AF_INET || family == AF_INET6 else { continue }
            let length = socklen_t(family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
            guard getnameinfo(address, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { continue }
            let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if family == AF_INET, v4 == nil { v4 = text }
            if family == AF_INET6, v6 == nil, !text.hasPrefix("fe80") { v6 = text }
        }
        guard let address = v4 ?? v6 else { throw ClusterError("this machine has no address besides loopback: give link0") }
        return address
    }
}

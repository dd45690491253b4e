import ClusterFS

/// MAC addresses for new guest NICs.
public enum MACAddress {
    /// A unicast MAC: under `prefix`, or locally administered (never a vendor's range).
    public static func random(prefix: String?) -> String {
        var bytes = (0..<6).map { _ in UInt8.random(in: 0...255) }
        bytes[0] = (bytes[0] & 0xFC) | 0x02
        if let prefix {
            let given = prefix.split(separator: ":").compactMap { UInt8($0, radix: 16) }
            for (i, b) in given.prefix(6).enumerated() { bytes[i] = b }
        }
        return bytes.map { hex($0) }.joined(separator: ":")
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }

    /// `datacenter.cfg`'s `mac_prefix`, if set.
    public static func datacenterPrefix(_ fs: any ConfigTree) -> String? {
        guard let text = try? fs.read("datacenter.cfg") else { return nil }
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n") where line.hasPrefix("mac_prefix:") {
            return String(line.dropFirst("mac_prefix:".count).drop { $0 == " " })
        }
        return nil
    }

    /// A new MAC with the datacenter's prefix.
    public static func new(_ fs: any ConfigTree) -> String { random(prefix: datacenterPrefix(fs)) }
}

import Foundation

/// Port lists of `-dport`/`-sport`: numbers, ranges `a:b` and service names from /etc/services,
/// separated by commas.
enum FirewallPorts {
    /// Each item as a single port or an inclusive range; throws naming `field`.
    static func parse(_ text: String, field: String) throws -> [ClosedRange<Int>] {
        var out: [ClosedRange<Int>] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            let ends = item.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard (1...2).contains(ends.count) else { throw FirewallError.field(field, "'\(item)' is not a port or range") }
            let numbers = try ends.map { end -> Int in
                if let n = Int(end), (0...65535).contains(n) { return n }
                if let n = service(end) { return n }
                throw FirewallError.field(field, "'\(end)' is not a port number or service name")
            }
            guard numbers[0] <= numbers[numbers.count - 1] else { throw FirewallError.field(field, "range '\(item)' runs backwards") }
            out.append(numbers[0]...numbers[numbers.count - 1])
        }
        return out
    }

    static let services: [String: Int] = {
        var out: [String: Int] = [:]
        let text = (try? String(contentsOfFile: "/etc/services", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let words = line.split(separator: "#", maxSplits: 1).first?.split(whereSeparator: \.isWhitespace) ?? []
            guard words.count >= 2, let port = Int(words[1].split(separator: "/").first ?? "") else { continue }
            for name in [words[0]] + words.dropFirst(2) where out[String(name)] == nil { out[String(name)] = port }
        }
        return out
    }()

    static func service(_ name: String) -> Int? {
        guard name.first?.isLetter == true else { return nil }
        return services[name]
    }
}

/// Protocol names and numbers, and ICMP type names, as nftables spells them.
enum FirewallProtocols {
    static let known: [String: Int] = [
        "icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132,
        "udplite": 136, "dccp": 33, "ospf": 89, "vrrp": 112, "pim": 103, "l2tp": 115,
    ]

    static func number(_ name: String) -> Int? {
        if let n = Int(name), (0...255).contains(n) { return n }
        return known[name.lowercased()]
    }

    static let icmpTypes: [String: Int] = [
        "echo-reply": 0, "destination-unreachable": 3, "source-quench": 4, "redirect": 5, "echo-request": 8, "router-advertisement": 9,
        "router-solicitation": 10, "time-exceeded": 11, "parameter-problem": 12, "timestamp-request": 13, "timestamp-reply": 14,
        "info-request": 15, "info-reply": 16, "address-mask-request": 17, "address-mask-reply": 18, "any": -1,
    ]
    static let icmpv6Types: [String: Int] = [
        "destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3, "parameter-problem": 4, "echo-request": 128,
        "echo-reply": 129, "mld-listener-query": 130, "mld-listener-report": 131, "mld-listener-done": 132, "router-solicitation": 133,
        "router-advertisement": 134, "neighbor-solicitation": 135, "neighbour-solicitation": 135, "neighbor-advertisement": 136,
        "neighbour-advertisement": 136, "redirect": 137, "any": -1,
    ]

    /// The type's number (-1 for `any`), or nil for a name or number that is not one.
    static func icmpType(_ name: String, v6: Bool) -> Int? {
        if let n = Int(name), (0...255).contains(n) { return n }
        return (v6 ? icmpv6Types : icmpTypes)[name.lowercased()]
    }
}

extension FirewallCompiler {
    /// One configured rule as nft rule lines (more than one when a macro or both IP versions
    /// expand it); a group rule also emits the group's chain for this context the first time.
    mutating func compile(_ rule: FirewallRule, context: Context, scope: FirewallAddresses, where_: String) throws -> [String] {
        let ifaceMatch: String? = rule.iface.flatMap { iface in
            switch context {
            case .hostIn, .forward: "iifname \"\(iface)\""
            case .hostOut: "oifname \"\(iface)\""
            case .guestIn, .guestOut: nil  // the caller picked the NIC's chain
            }
        }
        if rule.type == .group { return try groupJump(rule, context: context, ifaceMatch: ifaceMatch) }
        do {
            return try lines(rule, context: context, scope: scope, ifaceMatch: ifaceMatch)
        } catch let error as FirewallError {
            // the field stays named; the message says which file's rule it was
            let (field, why) = error.errors.first ?? ("rule", error.message)
            throw FirewallError.field(field, "\(where_): \(rule.line): \(why)")
        }
    }

    mutating func groupJump(_ rule: FirewallRule, context: Context, ifaceMatch: String?) throws -> [String] {
        guard let group = input.cluster.groups.first(where: { $0.name.lowercased() == rule.action.lowercased() }) else {
            throw FirewallError.field("action", "no security group '\(rule.action)'")
        }
        let variant: String
        switch context {
        case .hostIn: variant = "hin"
        case .hostOut: variant = "hout"
        case .forward: variant = "fwd"
        case .guestIn: variant = "gin"
        case .guestOut: variant = "gout"
        }
        let name = "grp-\(group.name.lowercased())-\(variant)"
        if !groupChains.contains(name) {
            groupChains.insert(name)
            let scope = FirewallAddresses(cluster: input.cluster, guest: nil, vmid: nil)
            var body: [String] = []
            for inner in group.rules where inner.enable && inner.type == context.direction {
                var inner = inner
                if case .guestIn = context { inner.iface = nil }
                if case .guestOut = context { inner.iface = nil }
                body += try lines(inner, context: context, scope: scope, ifaceMatch: nil, inGroup: true)
            }
            chains.append((name, body))
        }
        let prefix = ifaceMatch.map { "\($0) " } ?? ""
        var out = ["\(prefix)jump \(name)"]
        if context.isGuestOut { out.append("meta mark & 0x80000000 != 0 return") }
        return out
    }

    mutating func lines(
        _ rule: FirewallRule, context: Context, scope: FirewallAddresses, ifaceMatch: String?, inGroup: Bool = false
    ) throws -> [String] {
        try rule.check()
        let source = try rule.source.map { try scope.resolve($0, field: "source") }
        let dest = try rule.dest.map { try scope.resolve($0, field: "dest") }
        var families: [FirewallAddresses.Family?] = [nil]
        if source != nil || dest != nil {
            var wanted: Set<FirewallAddresses.Family> = [.v4, .v6]
            if let source { wanted.formIntersection(source.families) }
            if let dest { wanted.formIntersection(dest.families) }
            if wanted.isEmpty, source?.ipset == nil, dest?.ipset == nil {
                throw FirewallError.field("dest", "source and destination are of different IP versions")
            }
            families = wanted.sorted()
        }
        typealias Match = (proto: String?, dport: String?, sport: String?, icmpType: String?)
        var matches: [Match] = []
        if let name = rule.macro, let macro = FirewallMacros.lookup(name) {
            for entry in macro.entries {
                let icmp = entry.proto == "icmp" || entry.proto == "icmpv6"
                matches.append((entry.proto, icmp ? nil : (rule.dport ?? entry.dport), rule.sport ?? entry.sport, icmp ? entry.dport : nil))
            }
        } else {
            matches.append((rule.proto, rule.dport, rule.sport, rule.icmpType))
        }
        var verdict = Self.verdict(rule.action, guestOut: context.isGuestOut)
        if inGroup, context.isGuestOut, rule.action == "ACCEPT" { verdict = "meta mark set meta mark | 0x80000000 return" }
        var out: [String] = []
        for match in matches {
            let proto = match.proto?.lowercased()
            let protoNumber = proto.flatMap(FirewallProtocols.number)
            for family in families {
                if protoNumber == 1, family == .v6 { continue }
                if protoNumber == 58, family == .v4 { continue }
                var parts: [String] = []
                if let ifaceMatch { parts.append(ifaceMatch) }
                if let family {
                    if let source { parts += address(source, family: family, direction: "saddr") }
                    if let dest { parts += address(dest, family: family, direction: "daddr") }
                }
                parts += try protocolMatch(protoNumber, name: proto, match.dport, match.sport, match.icmpType)
                let head = parts.isEmpty ? "" : parts.joined(separator: " ") + " "
                if let level = rule.log, level != "nolog" {
                    let label: String
                    switch context {
                    case .hostIn: label = "0 host-in"
                    case .hostOut: label = "0 host-out"
                    case .forward: label = "0 forward"
                    case .guestIn(let vmid, let nic): label = "\(vmid) \(nic)-in"
                    case .guestOut(let vmid, let nic): label = "\(vmid) \(nic)-out"
                    }
                    let log = "log prefix \"fw \(label) \(rule.action): \" level \(Self.nftLevel(level))"
                    if let logLimit {
                        out.append(head + logLimit + log)
                        out.append(head + verdict)
                    } else {
                        out.append(head + log + " " + verdict)
                    }
                } else {
                    out.append(head + verdict)
                }
            }
        }
        return out
    }

    mutating func address(_ resolved: FirewallAddresses.Resolved, family: FirewallAddresses.Family, direction: String) -> [String] {
        let suffix = family == .v4 ? "v4" : "v6"
        if let set = resolved.ipset {
            var parts = ["\(family.rawValue) \(direction) @\(set.name)-\(suffix)"]
            if set.nomatch.contains(family) { parts.append("\(family.rawValue) \(direction) != @\(set.name)-\(suffix)-nm") }
            return parts
        }
        let items = resolved.literals[family] ?? []
        if items.count == 1 { return ["\(family.rawValue) \(direction) \(items[0])"] }
        return ["\(family.rawValue) \(direction) @\(namedSet(family == .v4 ? "ipv4_addr" : "ipv6_addr", items))"]
    }

    mutating func protocolMatch(_ number: Int?, name: String?, _ dport: String?, _ sport: String?, _ icmpType: String?) throws -> [String] {
        guard let number, let name else { return [] }
        func ports(_ text: String, _ field: String) throws -> String {
            let ranges = try FirewallPorts.parse(text, field: field)
            let items = ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            return items.count == 1 ? items[0] : "@" + namedSet("inet_service", items)
        }
        switch number {
        case 6, 17:
            let keyword = number == 6 ? "tcp" : "udp"
            var parts: [String] = []
            if let dport { parts.append("\(keyword) dport \(try ports(dport, "dport"))") }
            if let sport { parts.append("\(keyword) sport \(try ports(sport, "sport"))") }
            return parts.isEmpty ? ["meta l4proto \(keyword)"] : parts
        case 1, 58:
            let keyword = number == 1 ? "icmp" : "icmpv6"
            guard let icmpType, let type = FirewallProtocols.icmpType(icmpType, v6: number == 58), type >= 0 else {
                return ["meta l4proto \(number == 1 ? "icmp" : "ipv6-icmp")"]
            }
            return ["\(keyword) type \(type)"]
        default:
            var parts = ["meta l4proto \(number)"]
            if let dport { parts.append("th dport \(try ports(dport, "dport"))") }
            if let sport { parts.append("th sport \(try ports(sport, "sport"))") }
            _ = name
            return parts
        }
    }
}

extension FirewallCompiler {
    /// A named set for a list of ports or addresses, one per distinct list: nft makes a set object
    /// for every anonymous `{ … }`, and thousands of them cost seconds to load, so lists the
    /// guests share are declared once.
    mutating func namedSet(_ type: String, _ items: [String]) -> String {
        let key = type + " " + items.joined(separator: ",")
        if let name = listSets[key] { return name }
        let name = "list-\(listSets.count + 1)"
        listSets[key] = name
        sets.append(
            "\tset \(name) {\n\t\ttype \(type)\n\t\tflags interval\n\t\tauto-merge\n\t\telements = { \(items.joined(separator: ", ")) }\n\t}\n")
        return name
    }
}

import Foundation
import Schema

/// Address specs of `-source`/`-dest` and IP set entries: IPs, CIDRs, ranges `a-b`, aliases
/// (`name`, `dc/name`, `guest/name`) and IP sets (`+name`, `+dc/name`, `+guest/name`), resolved in
/// a scope (a guest's own names first, then the datacenter's).
struct FirewallAddresses {
    enum Family: String, Hashable, Comparable {
        case v4 = "ip", v6 = "ip6"
        static func < (a: Family, b: Family) -> Bool { a.rawValue < b.rawValue }
    }

    /// What a spec resolved to: literal elements per family, or one IP set.
    struct Resolved {
        var literals: [Family: [String]] = [:]
        var ipset: SetRef?
        var families: Set<Family> { ipset.map(\.families) ?? Set(literals.keys) }
    }

    struct SetRef {
        /// nft set name without its family suffix (`dc-admins`, `g100-ipfilter-net0`).
        var name: String
        var families: Set<Family>
        var nomatch: Set<Family>
    }

    let cluster: FirewallFile
    let guest: FirewallFile?
    let vmid: Int?

    static func family(ofLiteral item: String) -> Family? {
        if let dash = item.firstIndex(of: "-") {
            let a = String(item[..<dash]), b = String(item[item.index(after: dash)...])
            if IPAddress.isIPv4(a), IPAddress.isIPv4(b) { return .v4 }
            if IPAddress.isIPv6(a), IPAddress.isIPv6(b) { return .v6 }
            return nil
        }
        if IPAddress.isIPv4(item) || IPAddress.isCIDR(item, v4: true, v6: false) { return .v4 }
        if IPAddress.isIPv6(item) || IPAddress.isCIDR(item, v4: false, v6: true) { return .v6 }
        return nil
    }

    /// An alias's address, following aliases that name aliases (beyond PVE) and refusing cycles.
    func alias(_ reference: String, field: String, seen: [String] = []) throws -> (String, Family) {
        let (scope, name) = split(reference)
        var candidates: [(String, FirewallFile)] = []
        if scope != "dc", let guest { candidates.append(("guest", guest)) }
        if scope != "guest" { candidates.append(("dc", cluster)) }
        for (where_, file) in candidates {
            guard let found = file.aliases.first(where: { $0.name.lowercased() == name.lowercased() }) else { continue }
            let key = "\(where_)/\(found.name)"
            if seen.contains(key) { throw FirewallError.field(field, "aliases form a cycle: \((seen + [key]).joined(separator: " → "))") }
            if let family = Self.family(ofLiteral: found.cidr) { return (found.cidr, family) }
            return try alias(where_ == "guest" ? "guest/\(found.cidr)" : "dc/\(found.cidr)", field: field, seen: seen + [key])
        }
        throw FirewallError.field(field, "no IP alias '\(reference)'")
    }

    func split(_ reference: String) -> (scope: String?, name: String) {
        for scope in ["dc/", "guest/"] where reference.hasPrefix(scope) {
            return (String(scope.dropLast()), String(reference.dropFirst(scope.count)))
        }
        return (nil, reference)
    }

    /// An IP set reference's nft name and families.
    func ipset(_ reference: String, field: String) throws -> SetRef {
        let (scope, name) = split(reference)
        if scope != "dc", let guest, let vmid, let set = guest.ipsets.first(where: { $0.name.lowercased() == name.lowercased() }) {
            return try ref(set, prefix: "g\(vmid)", field: field)
        }
        if scope != "guest", let set = cluster.ipsets.first(where: { $0.name.lowercased() == name.lowercased() }) {
            return try ref(set, prefix: "dc", field: field)
        }
        throw FirewallError.field(field, "no IP set '\(reference)'")
    }

    func ref(_ set: FirewallFile.IPSet, prefix: String, field: String) throws -> SetRef {
        var out = SetRef(name: "\(prefix)-\(set.name.lowercased())", families: [], nomatch: [])
        for (entry, family) in try elements(set, field: field) {
            if entry.nomatch { out.nomatch.insert(family) } else { out.families.insert(family) }
        }
        return out
    }

    /// A set's entries with aliases resolved.
    func elements(_ set: FirewallFile.IPSet, field: String) throws -> [(FirewallFile.IPSetEntry, Family)] {
        try set.entries.map { entry in
            if let family = Self.family(ofLiteral: entry.cidr) { return (entry, family) }
            let (address, family) = try alias(entry.cidr, field: field)
            var resolved = entry
            resolved.cidr = address
            return (resolved, family)
        }
    }

    func resolve(_ spec: String, field: String) throws -> Resolved {
        let items = spec.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var out = Resolved()
        for item in items {
            guard !item.isEmpty else { throw FirewallError.field(field, "empty entry in '\(spec)'") }
            if item.hasPrefix("+") {
                guard items.count == 1 else { throw FirewallError.field(field, "an IP set stands alone in '\(spec)'") }
                out.ipset = try ipset(String(item.dropFirst()), field: field)
            } else if let family = Self.family(ofLiteral: item) {
                out.literals[family, default: []].append(item)
            } else if item.first?.isLetter == true || item.hasPrefix("dc/") || item.hasPrefix("guest/") {
                let (address, family) = try alias(item, field: field)
                out.literals[family, default: []].append(address)
            } else {
                throw FirewallError.field(field, "'\(item)' is not an address, range, alias or IP set")
            }
        }
        if out.literals.count > 1 { throw FirewallError.field(field, "'\(spec)' mixes IPv4 and IPv6") }
        return out
    }
}

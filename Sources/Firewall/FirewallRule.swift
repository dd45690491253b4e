import Foundation
import Schema

/// One line of a `[RULES]` or `[group …]` section, PVE's syntax:
/// `[|]IN|OUT|FORWARD ACTION|MACRO(ACTION) [-i net0] [-source …] [-dest …] [-p proto] [-dport …]
/// [-sport …] [-icmp-type …] [-log level] [# comment]`, or `[|]GROUP name [-i net0] [# comment]`.
/// A leading `|` disables the rule.
public struct FirewallRule: Sendable, Equatable {
    public enum Direction: String, Sendable, CaseIterable { case `in`, out, forward, group }

    public var type: Direction
    /// ACCEPT, DROP or REJECT; for a group rule the group's name.
    public var action: String
    public var macro: String?
    public var enable = true
    public var iface: String?
    public var source: String?
    public var dest: String?
    public var proto: String?
    public var dport: String?
    public var sport: String?
    public var icmpType: String?
    public var log: String?
    public var comment: String?

    public init(type: Direction, action: String) {
        self.type = type
        self.action = action
    }

    static func matches(_ pattern: String, _ text: String) -> Bool {
        guard let regex = try? Regex(pattern) else { return false }
        return text.wholeMatch(of: regex) != nil
    }

    static let logLevels = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog"]
    static let verdicts: Set<String> = ["ACCEPT", "DROP", "REJECT"]

    /// Reads one rule line; throws naming the part that is wrong.
    public static func parse(_ line: String) throws -> FirewallRule {
        var text = line.trimmingCharacters(in: .whitespaces)
        var comment: String?
        if let hash = text.firstIndex(of: "#") {
            comment = String(text[text.index(after: hash)...]).trimmingCharacters(in: .whitespaces)
            text = String(text[..<hash]).trimmingCharacters(in: .whitespaces)
        }
        var enable = true
        if text.hasPrefix("|") {
            enable = false
            text = String(text.dropFirst()).trimmingCharacters(in: .whitespaces)
        }
        var words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard words.count >= 2, let type = Direction(rawValue: words[0].lowercased()) else {
            throw FirewallError.field("type", "a rule starts with IN, OUT, FORWARD or GROUP: '\(line)'")
        }
        var rule = FirewallRule(type: type, action: words[1])
        rule.enable = enable
        rule.comment = comment?.isEmpty == false ? comment : nil
        if type != .group, let open = words[1].firstIndex(of: "("), words[1].hasSuffix(")") {
            rule.macro = String(words[1][..<open])
            rule.action = String(words[1][words[1].index(after: open)..<words[1].index(before: words[1].endIndex)])
        }
        words.removeFirst(2)
        while !words.isEmpty {
            let flag = words.removeFirst()
            guard flag.hasPrefix("-"), !words.isEmpty else { throw FirewallError.field("rule", "'\(flag)' needs a value in '\(line)'") }
            let value = words.removeFirst()
            switch flag {
            case "-i": rule.iface = value
            case "-source": rule.source = value
            case "-dest": rule.dest = value
            case "-p": rule.proto = value
            case "-dport": rule.dport = value
            case "-sport": rule.sport = value
            case "-icmp-type": rule.icmpType = value
            case "-log": rule.log = value
            default: throw FirewallError.field("rule", "unknown option '\(flag)' in '\(line)'")
            }
        }
        try rule.check()
        return rule
    }

    /// The line as PVE writes it.
    public var line: String {
        var parts = [(enable ? "" : "|") + type.rawValue.uppercased()]
        parts.append(macro.map { "\($0)(\(action))" } ?? action)
        let options: [(String, String?)] = [
            ("-i", iface), ("-source", source), ("-dest", dest), ("-p", proto), ("-dport", dport), ("-sport", sport),
            ("-icmp-type", icmpType), ("-log", log),
        ]
        for (flag, value) in options { if let value { parts += [flag, value] } }
        if let comment { parts.append("# \(comment)") }
        return parts.joined(separator: " ")
    }

    /// The checks that need no other configuration: words, verdicts, log levels, port syntax.
    public func check() throws {
        if type == .group {
            guard Self.matches("[A-Za-z][A-Za-z0-9\\-_]+", action) else {
                throw FirewallError.field("action", "'\(action)' is not a security group name")
            }
            if macro != nil || source != nil || dest != nil || proto != nil || dport != nil || sport != nil {
                throw FirewallError.field("type", "a group rule takes only an interface and a comment")
            }
            return
        }
        guard Self.verdicts.contains(action) else { throw FirewallError.field("action", "'\(action)' is not ACCEPT, DROP or REJECT") }
        if let macro, FirewallMacros.lookup(macro) == nil { throw FirewallError.field("macro", "unknown macro '\(macro)'") }
        if let log, !Self.logLevels.contains(log) { throw FirewallError.field("log", "unknown log level '\(log)'") }
        if let iface, !Self.matches("[a-zA-Z][a-zA-Z0-9_]{1,20}([:\\.]\\d+)?", iface) {
            throw FirewallError.field("iface", "'\(iface)' is not an interface name")
        }
        if let proto, FirewallProtocols.number(proto) == nil { throw FirewallError.field("proto", "unknown protocol '\(proto)'") }
        for (field, value) in [("dport", dport), ("sport", sport)] {
            guard let value else { continue }
            _ = try FirewallPorts.parse(value, field: field)
            let proto = proto?.lowercased()
            if macro == nil, proto != "tcp", proto != "udp", proto != "6", proto != "17", proto != "sctp", proto != "udplite", proto != "dccp" {
                throw FirewallError.field(field, "a port needs the protocol tcp or udp (-p)")
            }
        }
        if let icmpType {
            guard let proto = proto?.lowercased(), ["icmp", "icmpv6", "ipv6-icmp", "1", "58"].contains(proto) else {
                throw FirewallError.field("icmp-type", "an ICMP type needs the protocol icmp or icmpv6")
            }
            guard FirewallProtocols.icmpType(icmpType, v6: proto != "icmp" && proto != "1") != nil else {
                throw FirewallError.field("icmp-type", "unknown ICMP type '\(icmpType)'")
            }
        }
    }
}

import API
import Foundation
import Schema

extension FirewallRule {
    /// A rule as the API lists it.
    func json(pos: Int, digest: String) -> JSON {
        var out: [String: JSON] = [
            "pos": .int(Int64(pos)), "type": .string(type.rawValue), "action": .string(action), "enable": .int(enable ? 1 : 0),
            "digest": .string(digest),
        ]
        let fields: [(String, String?)] = [
            ("macro", macro), ("iface", iface), ("source", source), ("dest", dest), ("proto", proto), ("dport", dport), ("sport", sport),
            ("icmp-type", icmpType), ("log", log), ("comment", comment),
        ]
        for (key, value) in fields { if let value { out[key] = .string(value) } }
        return .object(out)
    }

    /// Sets the fields a request gives (and clears those its `delete` names); checks the result.
    mutating func update(from context: RequestContext) throws {
        if let value = context.parameters["type"]?.plainText {
            guard let direction = Direction(rawValue: value) else { throw FirewallError.field("type", "unknown rule type '\(value)'") }
            type = direction
        }
        if let value = context.parameters["action"]?.plainText { action = value }
        if let value = context.parameters["enable"]?.intValue { enable = value != 0 }
        func text(_ key: String) -> String?? {
            guard let value = context.parameters[key]?.plainText else { return nil }
            return .some(value.isEmpty ? nil : value)
        }
        if let v = text("macro") { macro = v }
        if let v = text("iface") { iface = v }
        if let v = text("source") { source = v }
        if let v = text("dest") { dest = v }
        if let v = text("proto") { proto = v }
        if let v = text("dport") { dport = v }
        if let v = text("sport") { sport = v }
        if let v = text("icmp-type") { icmpType = v }
        if let v = text("log") { log = v == "nolog" ? nil : v }
        if let v = text("comment") { comment = v.map { $0.replacingOccurrences(of: "\n", with: " ") } }
        for key in Formats.splitList(context.parameters["delete"]?.plainText ?? "") {
            switch key {
            case "macro": macro = nil
            case "iface": iface = nil
            case "source": source = nil
            case "dest": dest = nil
            case "proto": proto = nil
            case "dport": dport = nil
            case "sport": sport = nil
            case "icmp-type": icmpType = nil
            case "log": log = nil
            case "comment": comment = nil
            default: throw FirewallError.field("delete", "cannot delete '\(key)'")
            }
        }
        if let macro, let known = FirewallMacros.lookup(macro) { self.macro = known.name }
        try check()
    }
}

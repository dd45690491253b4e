import API
import Foundation
import Schema

extension NodeNetworkEndpoints {
    /// API parameters and the option lines they become (ifupdown2's spelling).
    static let optionKeys: [(parameter: String, option: String)] = [
        ("bridge_ports", "bridge-ports"), ("bridge_vlan_aware", "bridge-vlan-aware"), ("bridge_vids", "bridge-vids"),
        ("slaves", "bond-slaves"), ("bond_mode", "bond-mode"), ("bond_xmit_hash_policy", "bond-xmit-hash-policy"),
        ("bond-primary", "bond-primary"), ("mtu", "mtu"), ("vlan-raw-device", "vlan-raw-device"), ("vlan-id", "vlan-id"),
    ]

    static func bad(_ field: String, _ message: String) -> APIError { APIError(400, "Parameter verification failed.", errors: [field: message]) }

    /// An interface's stanzas after a create or update request, checked against the rest of the
    /// configuration and the kernel (ports and slaves must exist and be free, one default gateway).
    static func stanza(
        _ context: RequestContext, current: [NetworkInterfaces.Family], config: NetworkInterfaces, sysfs: String
    ) throws -> ([NetworkInterfaces.Family], Bool) {
        let name = try context.require("iface")
        let type = try context.require("type")
        let given = context.parameters
        let deleted = Set(Formats.splitList(given["delete"]?.plainText ?? ""))
        var inet = current.first { $0.family == "inet" } ?? NetworkInterfaces.Family(family: "inet", method: "manual", options: [], comments: [])
        var inet6 = current.first { $0.family == "inet6" }
        func set(_ family: inout NetworkInterfaces.Family, _ key: String, _ value: String?) {
            family.options.removeAll { $0.key.replacingOccurrences(of: "_", with: "-") == key }
            if let value, !value.isEmpty { family.options.append((key, value)) }
            family.raw = nil
        }
        // family-independent options live in the inet stanza
        for (parameter, option) in optionKeys {
            if deleted.contains(parameter) { set(&inet, option, nil) }
            guard let value = given[parameter] else { continue }
            var text = value.plainText
            if parameter == "bridge_vlan_aware" { text = value.boolValue == true ? "yes" : "" }
            set(&inet, option, text)
        }
        if current.isEmpty {
            if type == "bridge" {
                if inet["bridge-ports"] == nil { set(&inet, "bridge-ports", "none") }
                set(&inet, "bridge-stp", "off")
                set(&inet, "bridge-fd", "0")
            }
            if type == "bond", inet["bond-miimon"] == nil { set(&inet, "bond-miimon", "100") }
        }
        // addresses
        func address(_ cidr: String?, _ address: String?, _ netmask: String?) -> String? {
            if let cidr { return cidr }
            guard let address else { return nil }
            return netmask.map { "\(address)/\(NetworkApply.prefix($0))" } ?? address
        }
        if deleted.contains("cidr") || deleted.contains("address") { set(&inet, "address", nil); set(&inet, "netmask", nil) }
        if deleted.contains("gateway") { set(&inet, "gateway", nil) }
        if let v4 = address(given["cidr"]?.plainText, given["address"]?.plainText, given["netmask"]?.plainText) {
            set(&inet, "netmask", nil)
            set(&inet, "address", v4)
        }
        if let gateway = given["gateway"]?.plainText { set(&inet, "gateway", gateway) }
        inet.method = inet["address"] != nil ? "static" : "manual"
        if let comments = given["comments"]?.plainText {
            inet.comments = comments.split(separator: "\n").map(String.init)
            inet.raw = nil
        }
        if deleted.contains("comments") { inet.comments = []; inet.raw = nil }
        if let v6 = address(given["cidr6"]?.plainText, given["address6"]?.plainText, given["netmask6"]?.plainText) {
            var family = inet6 ?? NetworkInterfaces.Family(family: "inet6", method: "static", options: [], comments: [])
            set(&family, "netmask", nil)
            set(&family, "address", v6)
            family.method = "static"
            inet6 = family
        }
        if var family = inet6 {
            if let gateway = given["gateway6"]?.plainText { set(&family, "gateway", gateway) }
            if deleted.contains("gateway6") { set(&family, "gateway", nil) }
            if deleted.contains("cidr6") || deleted.contains("address6") { set(&family, "address", nil) }
            if let comments = given["comments6"]?.plainText {
                family.comments = comments.split(separator: "\n").map(String.init)
                family.raw = nil
            }
            family.method = family["address"] != nil ? "static" : "manual"
            inet6 = family.options.isEmpty && family.comments.isEmpty ? nil : family
        } else if given["gateway6"] != nil {
            throw bad("gateway6", "a gateway needs an address (cidr6)")
        }
        if inet["gateway"] != nil && inet["address"] == nil { throw bad("gateway", "a gateway needs an address (cidr)") }

        // addresses first, as PVE writes a stanza
        let rank = ["address": 0, "netmask": 1, "gateway": 2]
        inet.options = inet.options.enumerated().sorted { (rank[$0.element.key] ?? 3, $0.offset) < (rank[$1.element.key] ?? 3, $1.offset) }
            .map(\.element)
        try check(name: name, type: type, inet: inet, config: config, sysfs: sysfs)
        let autostart = given["autostart"]?.boolValue ?? (current.isEmpty ? false : config.autostart.contains(name))
        return ([inet] + (inet6.map { [$0] } ?? []), autostart)
    }

    static func check(name: String, type: String, inet: NetworkInterfaces.Family, config: NetworkInterfaces, sysfs: String) throws {
        func known(_ device: String) -> Bool {
            config.stanzas[device] != nil || FileManager.default.fileExists(atPath: "\(sysfs)/\(device)")
        }
        for (field, option) in [("bridge_ports", "bridge-ports"), ("slaves", "bond-slaves")] {
            let members = NetworkApply.list(inet[option])
            for member in members {
                guard known(member) else { throw bad(field, "interface '\(member)' does not exist") }
                guard member != name else { throw bad(field, "'\(name)' cannot be a port of itself") }
                // a port belongs to one bridge or bond
                for (other, families) in config.stanzas where other != name {
                    let theirs = families.flatMap { NetworkApply.list($0[option]) }
                    if theirs.contains(member) { throw bad(field, "interface '\(member)' is already used by '\(other)'") }
                }
            }
        }
        if type == "vlan" {
            let raw = inet["vlan-raw-device"] ?? (name.contains(".") ? String(name.split(separator: ".")[0]) : nil)
            guard let raw else { throw bad("vlan-raw-device", "a VLAN needs a raw device (vlan-raw-device or the name iface.ID)") }
            guard known(raw) else { throw bad("vlan-raw-device", "interface '\(raw)' does not exist") }
        }
        if inet["gateway"] != nil {
            for (other, families) in config.stanzas where other != name {
                if families.contains(where: { $0.family == "inet" && $0["gateway"] != nil }) {
                    throw bad("gateway", "Default gateway already exists on interface '\(other)'")
                }
            }
        }
    }
}

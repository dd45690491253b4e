import API
import Foundation
import Glibc
import Schema

/// `GET /nodes/{node}/network` and `…/{iface}`: the node's interfaces as its configuration
/// (`/etc/network/interfaces`) names them and the kernel has them (physical ports it has but the
/// file does not name are listed too, as PVE does). Changes: `NodeNetworkEndpoints+Write.swift`.
enum NodeNetworkEndpoints {
    static func all(interfacesFile: String, sysfs: String = "/sys/class/net") -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /nodes/{node}/network", description: "The node's network interfaces (configuration and kernel).",
                returns: .array(of: .object(["iface": .string(), "type": .string()], additionalProperties: true)), permission: .anyUser,
                handler: .blocking { context in
                    let rows = interfaces(file: interfacesFile, sysfs: sysfs)
                    guard let wanted = context.string("type") else { return .array(rows) }
                    return .array(
                        rows.filter { row in
                            let type = row["type"]?.stringValue ?? ""
                            switch wanted {
                            case "any_bridge", "any_local_bridge": return type == "bridge" || type == "OVSBridge"
                            case "include_sdn": return true
                            default: return type == wanted
                            }
                        })
                }),
            Endpoint(
                pve: "GET /nodes/{node}/network/{iface}", description: "One network interface.",
                returns: .object(["method": .string(), "type": .string()], additionalProperties: true),
                permission: .privileges(path: "/nodes/{node}", ["Sys.Audit"]),
                handler: .blocking { context in
                    let name = try context.require("iface")
                    guard let row = interfaces(file: interfacesFile, sysfs: sysfs).first(where: { $0["iface"]?.stringValue == name }) else {
                        throw APIError(500, "interface '\(name)' does not exist")
                    }
                    return row
                }),
        ]
    }

    /// PVE's rows: the file's interfaces in its order, then the kernel's physical ports it does not name.
    static func interfaces(file: String, sysfs: String) -> [JSON] {
        // the pending configuration where there is one, as PVE lists it
        let text = (try? String(contentsOfFile: file + ".new", encoding: .utf8)) ?? (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        let config = NetworkInterfaces.parse(text)
        let kernel = ((try? FileManager.default.contentsOfDirectory(atPath: sysfs)) ?? []).sorted()
        let autostart = config.autostart
        var rows: [JSON] = []
        var priority = 1
        for name in config.order where name != "lo" {
            rows.append(row(name, families: config.stanzas[name] ?? [], autostart: autostart.contains(name), priority: priority, sysfs: sysfs))
            priority += 1
        }
        for name in kernel where config.stanzas[name] == nil && isPhysical(name, sysfs: sysfs) {
            rows.append(row(name, families: [], autostart: false, priority: priority, sysfs: sysfs))
            priority += 1
        }
        return rows
    }

    static func isPhysical(_ name: String, sysfs: String) -> Bool { FileManager.default.fileExists(atPath: "\(sysfs)/\(name)/device") }

    static func row(_ name: String, families: [NetworkInterfaces.Family], autostart: Bool, priority: Int, sysfs: String) -> JSON {
        let inet = families.first { $0.family == "inet" }, inet6 = families.first { $0.family == "inet6" }
        func option(_ key: String) -> String? { families.lazy.compactMap { $0[key] }.first }
        var out: [String: JSON] = [
            "iface": .string(name), "priority": .int(Int64(priority)),
            "families": .array((families.isEmpty ? ["inet"] : families.map(\.family)).map(JSON.string)),
            "method": .string(inet?.method ?? "manual"),
        ]
        if let inet6 { out["method6"] = .string(inet6.method) }
        if autostart { out["autostart"] = 1 }
        let exists = FileManager.default.fileExists(atPath: "\(sysfs)/\(name)")
        if exists { out["exists"] = 1 }
        let flags = (try? String(contentsOfFile: "\(sysfs)/\(name)/flags", encoding: .utf8)).flatMap {
            UInt32($0.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst(2), radix: 16)
        }
        if let flags, flags & 1 != 0 { out["active"] = 1 }  // IFF_UP
        // the type: what the options say, else what the kernel has, else PVE's name patterns
        let type: String
        if option("bridge-ports") != nil || option("bridge-vlan-aware") != nil
            || FileManager.default.fileExists(atPath: "\(sysfs)/\(name)/bridge")
        {
            type = "bridge"
        } else if option("bond-slaves") != nil || option("bond-mode") != nil || FileManager.default.fileExists(atPath: "\(sysfs)/\(name)/bonding") {
            type = "bond"
        } else if name.contains(":") {
            type = "alias"
        } else if name.contains(".") || option("vlan-raw-device") != nil || option("vlan-id") != nil {
            type = "vlan"
        } else if isPhysical(name, sysfs: sysfs) || (!exists && name.range(of: "^(eth|en|em|eno|ens|enp)", options: .regularExpression) != nil) {
            type = "eth"
        } else {
            type = "unknown"
        }
        out["type"] = .string(type)
        func cidr(_ address: String?, _ netmask: String?) -> (address: String, prefix: String)? {
            guard let address else { return nil }
            if let slash = address.firstIndex(of: "/") { return (String(address[..<slash]), String(address[address.index(after: slash)...])) }
            return netmask.map { (address, $0) }
        }
        if let (address, prefix) = cidr(inet?["address"], inet?["netmask"]) {
            out["address"] = .string(address)
            out["cidr"] = .string("\(address)/\(prefix)")
            if let bits = Int(prefix), (0...32).contains(bits) {
                let mask = bits == 0 ? UInt32(0) : UInt32.max << (32 - UInt32(bits))
                out["netmask"] = .string((0..<4).map { String((mask >> (24 - 8 * UInt32($0))) & 0xff) }.joined(separator: "."))
            } else {
                out["netmask"] = .string(prefix)
            }
        }
        if let gateway = inet?["gateway"] { out["gateway"] = .string(gateway) }
        if let (address, prefix) = cidr(inet6?["address"], inet6?["netmask"]) {
            out["address6"] = .string(address)
            out["netmask6"] = .string(prefix)
            out["cidr6"] = .string("\(address)/\(prefix)")
        }
        if let gateway = inet6?["gateway"] { out["gateway6"] = .string(gateway) }
        if type == "bridge" {
            // `none` is how the file says "no ports"
            out["bridge_ports"] = .string(NetworkApply.list(option("bridge-ports")).joined(separator: " "))
            for key in ["bridge-stp", "bridge-fd", "bridge-vlan-aware", "bridge-vids"] {
                if let value = option(key) { out[key.replacingOccurrences(of: "-", with: "_")] = .string(value) }
            }
        }
        if type == "bond" {
            if let slaves = option("bond-slaves") { out["slaves"] = .string(slaves) }
            if let mode = option("bond-mode") { out["bond_mode"] = .string(mode) }
            if let policy = option("bond-xmit-hash-policy") { out["bond_xmit_hash_policy"] = .string(policy) }
        }
        if type == "vlan" {
            if let device = option("vlan-raw-device") { out["vlan-raw-device"] = .string(device) }
            if let id = option("vlan-id") { out["vlan-id"] = .string(id) }
        }
        if let mtu = option("mtu") { out["mtu"] = .string(mtu) }
        let comments = (inet?.comments ?? []) + (inet6?.comments ?? [])
        if !comments.isEmpty { out["comments"] = .string(comments.joined(separator: "\n") + "\n") }
        return .object(out)
    }
}

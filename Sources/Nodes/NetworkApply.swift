import Foundation
import Schema
import Storage

/// How a changed `/etc/network/interfaces` reaches the kernel: ifupdown2's `ifreload -a` where it
/// is installed, otherwise the `ip` (netlink) commands `plan` derives from the old and new file, a
/// pure function (golden tests cover bonds and VLANs, which these test kernels cannot create).
public enum NetworkApply {
    static let ifreload = ["/usr/sbin/ifreload", "/sbin/ifreload"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The interface's kind as the node's rows show it.
    static func kind(_ name: String, _ config: NetworkInterfaces, sysfs: String) -> String {
        NodeNetworkEndpoints.row(name, families: config.stanzas[name] ?? [], autostart: false, priority: 0, sysfs: sysfs)["type"]?
            .stringValue ?? "unknown"
    }

    static func option(_ config: NetworkInterfaces, _ name: String, _ key: String) -> String? {
        config.stanzas[name]?.lazy.compactMap { $0[key] }.first
    }

    static func list(_ value: String?) -> [String] {
        (value ?? "").split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init).filter { $0 != "none" }
    }

    /// The commands that take the kernel from `old` to `new`. `exists` says whether the kernel has
    /// a device now; `kind` names a device's type.
    public static func plan(
        old: NetworkInterfaces, new: NetworkInterfaces, exists: (String) -> Bool, kind: (String, NetworkInterfaces) -> String
    ) -> [[String]] {
        var out: [[String]] = []
        let virtual: Set<String> = ["bridge", "bond", "vlan"]
        // gone: virtual devices the new file no longer has
        for name in old.order where new.stanzas[name] == nil && old.stanzas[name] != nil {
            if virtual.contains(kind(name, old)) && exists(name) { out.append(["ip", "link", "del", name]) }
        }
        // bonds and VLANs first: bridges may use them as ports
        let rank = ["bond": 0, "vlan": 1, "eth": 2, "alias": 3, "bridge": 4]
        let names = new.order.filter { $0 != "lo" && new.stanzas[$0] != nil }.sorted { (rank[kind($0, new)] ?? 5) < (rank[kind($1, new)] ?? 5) }
        for name in names {
            let type = kind(name, new)
            let families = new.stanzas[name] ?? []
            let changed = old.stanzas[name].map { $0 != families } ?? true
            let autoChanged = old.autostart.contains(name) != new.autostart.contains(name)
            if !changed && !autoChanged && exists(name) { continue }
            switch type {
            case "bond":
                if !exists(name) {
                    out.append(["ip", "link", "add", name, "type", "bond", "mode", option(new, name, "bond-mode") ?? "balance-rr"])
                }
                for slave in list(option(new, name, "bond-slaves")) {
                    out.append(["ip", "link", "set", slave, "down"])
                    out.append(["ip", "link", "set", slave, "master", name])
                }
            case "vlan":
                if !exists(name) {
                    let parts = name.split(separator: ".")
                    let raw = option(new, name, "vlan-raw-device") ?? (parts.count == 2 ? String(parts[0]) : "")
                    let id = option(new, name, "vlan-id") ?? (parts.count == 2 ? String(parts[1]) : "")
                    out.append(["ip", "link", "add", "link", raw, "name", name, "type", "vlan", "id", id])
                }
            case "bridge":
                let aware = ["yes", "1", "on"].contains(option(new, name, "bridge-vlan-aware") ?? "no")
                if !exists(name) {
                    out.append(["ip", "link", "add", name, "type", "bridge"] + (aware ? ["vlan_filtering", "1"] : []))
                }
                let stp = ["on", "yes", "1"].contains(option(new, name, "bridge-stp") ?? "off") ? "1" : "0"
                let fd = Int(option(new, name, "bridge-fd") ?? "0") ?? 0
                out.append(["ip", "link", "set", name, "type", "bridge", "stp_state", stp, "forward_delay", "\(fd * 100)"])
                let ports = list(option(new, name, "bridge-ports"))
                for port in list(option(old, name, "bridge-ports")) where !ports.contains(port) {
                    out.append(["ip", "link", "set", port, "nomaster"])
                }
                for port in ports {
                    out.append(["ip", "link", "set", port, "master", name])
                    out.append(["ip", "link", "set", port, "up"])
                }
            default: break
            }
            if let mtu = option(new, name, "mtu") { out.append(["ip", "link", "set", name, "mtu", mtu]) }
            out.append(["ip", "address", "flush", "dev", name, "scope", "global"])
            for family in families where family.method == "static" {
                guard var address = family["address"] else { continue }
                if !address.contains("/"), let mask = family["netmask"] { address += "/\(prefix(mask))" }
                out.append(["ip"] + (family.family == "inet6" ? ["-6"] : []) + ["address", "add", address, "dev", name])
            }
            if new.autostart.contains(name) { out.append(["ip", "link", "set", name, "up"]) }
            for family in families {
                guard let gateway = family["gateway"] else { continue }
                out.append(["ip"] + (family.family == "inet6" ? ["-6"] : []) + ["route", "replace", "default", "via", gateway, "dev", name])
            }
        }
        return out
    }

    /// A dotted netmask as a prefix length (a number stays as it is).
    static func prefix(_ mask: String) -> String {
        if Int(mask) != nil { return mask }
        let bits = mask.split(separator: ".").compactMap { UInt8($0) }.map { $0.nonzeroBitCount }.reduce(0, +)
        return "\(bits)"
    }

    /// Makes the kernel follow `new` (coming from `old`), logging each step.
    static func run(old: NetworkInterfaces, new: NetworkInterfaces, sysfs: String, log: (String) -> Void) throws {
        if let ifreload {
            log("running \(ifreload) -a")
            try Command.run([ifreload, "-a"])
            return
        }
        let commands = plan(
            old: old, new: new, exists: { FileManager.default.fileExists(atPath: "\(sysfs)/\($0)") },
            kind: { kind($0, $1, sysfs: sysfs) })
        for command in commands {
            log(command.joined(separator: " "))
            let result = try Command.execute(command)
            // flushing a device with no address and re-adding an address it has are not failures
            if result.status != 0, !(command.contains("flush")), !result.stderr.contains("File exists") {
                throw NetworkError("'\(command.joined(separator: " "))' failed: \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        }
    }
}

public struct NetworkError: Error, CustomStringConvertible {
    public let description: String
    init(_ message: String) { description = message }
}

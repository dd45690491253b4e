import Foundation

/// What the node's hardware and QEMU offer, read from sysfs and the tools' own listings: PCI and USB
/// devices (for passthrough), QEMU's CPU models and machine types, and the block devices. Pure
/// readers over a root directory (`/` on a node, a fake tree in tests) and over tool output.
public enum NodeHardware {
    static func attribute(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// PCI functions from `<root>/sys/bus/pci/devices`, leaving out classes whose first two hex digits
    /// are in `blacklist` (PVE's default: bridges, memory controllers, processors).
    public static func pciDevices(root: String = "", blacklist: Set<String> = ["05", "06", "0b"]) -> [[String: Any]] {
        let base = root + "/sys/bus/pci/devices"
        let fm = FileManager.default
        return ((try? fm.contentsOfDirectory(atPath: base)) ?? []).sorted().compactMap { id in
            let dir = base + "/" + id
            guard let cls = attribute(dir + "/class"), let vendor = attribute(dir + "/vendor"), let device = attribute(dir + "/device") else {
                return nil
            }
            let classCode = cls.hasPrefix("0x") ? String(cls.dropFirst(2)) : cls
            guard !blacklist.contains(String(classCode.prefix(2)).lowercased()) else { return nil }
            var entry: [String: Any] = ["id": id, "class": cls, "vendor": vendor, "device": device]
            if let v = attribute(dir + "/subsystem_vendor") { entry["subsystem_vendor"] = v }
            if let d = attribute(dir + "/subsystem_device") { entry["subsystem_device"] = d }
            let group = (try? fm.destinationOfSymbolicLink(atPath: dir + "/iommu_group")).flatMap { Int(($0 as NSString).lastPathComponent) }
            entry["iommugroup"] = group ?? -1
            if fm.fileExists(atPath: dir + "/mdev_supported_types") { entry["mdev"] = true }
            return entry
        }
    }

    /// USB devices from `<root>/sys/bus/usb/devices` (interfaces `1-1:1.0` left out).
    public static func usbDevices(root: String = "") -> [[String: Any]] {
        let base = root + "/sys/bus/usb/devices"
        return ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).sorted().compactMap { name in
            guard !name.contains(":") else { return nil }
            let dir = base + "/" + name
            guard let bus = attribute(dir + "/busnum").flatMap({ Int($0) }), let dev = attribute(dir + "/devnum").flatMap({ Int($0) }),
                let vendor = attribute(dir + "/idVendor"), let product = attribute(dir + "/idProduct")
            else { return nil }
            // `1-2.3`: bus 1, ports 2 then 3 (a root hub `usb1` has none)
            let ports = name.hasPrefix("usb") ? [] : (name.split(separator: "-").last ?? "").split(separator: ".").compactMap { Int($0) }
            var entry: [String: Any] = [
                "busnum": bus, "devnum": dev, "vendid": vendor, "prodid": product, "port": ports.last ?? 0, "level": ports.count,
                "class": Int(attribute(dir + "/bDeviceClass") ?? "", radix: 16) ?? 0, "speed": attribute(dir + "/speed") ?? "",
            ]
            if !ports.isEmpty { entry["usbpath"] = ports.map(String.init).joined(separator: ".") }
            for (key, file) in [("manufacturer", "manufacturer"), ("product", "product"), ("serial", "serial")] {
                if let value = attribute(dir + "/" + file) { entry[key] = value }
            }
            return entry
        }
    }

    /// `qemu-system-x86_64 -cpu help`: the `x86 NAME (…)` lines; the vendor from the model's family.
    public static func cpuModels(_ help: String) -> [[String: Any]] {
        let amd = ["EPYC", "Opteron", "phenom", "athlon", "Dhyana"]
        var seen = Set<String>()
        return help.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, fields[0] == "x86", seen.insert(String(fields[1])).inserted else { return nil }
            let name = String(fields[1])
            let vendor =
                amd.contains(where: { name.hasPrefix($0) })
                ? "AuthenticAMD"
                : ["host", "max", "base", "qemu32", "qemu64", "kvm32", "kvm64"].contains(name) ? "default" : "GenuineIntel"
            return ["name": name, "vendor": vendor, "custom": false]
        }
    }

    /// `qemu-system-x86_64 -machine help`: the versioned i440fx and q35 types (aliases left out).
    public static func machineTypes(_ help: String) -> [[String: Any]] {
        help.split(separator: "\n").compactMap { line in
            guard let id = line.split(separator: " ").first.map(String.init) else { return nil }
            for (prefix, type) in [("pc-i440fx-", "i440fx"), ("pc-q35-", "q35")] where id.hasPrefix(prefix) {
                return ["id": id, "type": type, "version": String(id.dropFirst(prefix.count))]
            }
            return nil
        }
    }

    /// `lsblk -J -b -o …` as PVE's disk list: whole disks (and their partitions when asked), with
    /// what uses them.
    public static func disks(lsblk json: String, includePartitions: Bool) -> [[String: Any]] {
        guard let root = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any],
            let devices = root["blockdevices"] as? [[String: Any]]
        else { return [] }
        func text(_ d: [String: Any], _ key: String) -> String? {
            (d[key] as? String)?.trimmingCharacters(in: .whitespaces).nilIfEmpty
        }
        func flag(_ d: [String: Any], _ key: String) -> Bool { (d[key] as? Bool) ?? ((d[key] as? String) == "1") }
        func used(_ d: [String: Any]) -> String? {
            if let children = d["children"] as? [[String: Any]], !children.isEmpty {
                return children.contains { $0["type"] as? String == "part" } ? "partitions" : "mounted"
            }
            switch text(d, "fstype") {
            case "LVM2_member": return "LVM"
            case "zfs_member": return "ZFS"
            case .some(let fs): return fs
            case .none: return text(d, "mountpoint") != nil ? "mounted" : nil
            }
        }
        var out: [[String: Any]] = []
        for d in devices where d["type"] as? String == "disk" {
            let name = text(d, "name") ?? ""
            guard !name.hasPrefix("loop"), !name.hasPrefix("ram"), !name.hasPrefix("zram") else { continue }
            let kind = name.hasPrefix("nvme") ? "nvme" : text(d, "tran") == "usb" ? "usb" : flag(d, "rota") ? "hdd" : "ssd"
            var entry: [String: Any] = [
                "devpath": text(d, "path") ?? "/dev/\(name)", "size": (d["size"] as? NSNumber)?.int64Value ?? 0, "type": kind,
                "gpt": text(d, "pttype") == "gpt", "mounted": text(d, "mountpoint") != nil, "osdid": -1, "health": "UNKNOWN",
            ]
            for key in ["model", "serial", "vendor", "wwn"] { if let value = text(d, key) { entry[key] = value } }
            if let u = used(d) { entry["used"] = u }
            out.append(entry)
            guard includePartitions else { continue }
            for p in (d["children"] as? [[String: Any]]) ?? [] where p["type"] as? String == "part" {
                var part: [String: Any] = [
                    "devpath": text(p, "path") ?? "/dev/\(text(p, "name") ?? "")", "size": (p["size"] as? NSNumber)?.int64Value ?? 0,
                    "type": "partition", "parent": entry["devpath"]!, "gpt": false, "mounted": text(p, "mountpoint") != nil, "osdid": -1,
                ]
                if let u = used(p) { part["used"] = u }
                out.append(part)
            }
        }
        return out
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}

import Foundation
import Schema

/// What `/nodes/{node}/disks/*` read from the system tools, as pure parsers: smartctl's JSON, LVM's
/// reports, `zpool list`, and the mount units of directory storages.
enum NodeDisks {
    /// `smartctl -a -j`: health and, for ATA disks, the attribute table in PVE's fields; others as text.
    static func smart(_ output: String, healthOnly: Bool) -> [String: JSON] {
        guard let report = try? JSONParser.parse(output) else { return ["health": "UNKNOWN"] }
        var out: [String: JSON] = [:]
        if let passed = report["smart_status"]?["passed"]?.boolValue {
            out["health"] = .string(passed ? "PASSED" : "FAILED")
        } else {
            out["health"] = "UNKNOWN"
        }
        if healthOnly { return out }
        if let table = report["ata_smart_attributes"]?["table"]?.arrayValue {
            out["type"] = "ata"
            out["attributes"] = .array(
                table.map { row in
                    let flags = row["flags"]
                    return [
                        "id": .string(String(format: "%3d", Int(row["id"]?.intValue ?? 0))), "name": row["name"] ?? "",
                        "value": .int(row["value"]?.intValue ?? 0), "worst": .int(row["worst"]?.intValue ?? 0),
                        "threshold": .int(row["thresh"]?.intValue ?? 0),
                        "fail": .string(row["when_failed"]?.plainText.isEmpty == false ? row["when_failed"]!.plainText : "-"),
                        "flags": .string(flags?["string"]?.plainText.trimmingCharacters(in: .whitespaces) ?? ""),
                        "raw": .string(row["raw"]?["string"]?.plainText ?? ""), "normalized": .int(row["value"]?.intValue ?? 0),
                    ]
                })
        } else {
            out["type"] = "text"
            let messages = report["smartctl"]?["messages"]?.arrayValue?.compactMap { $0["string"]?.stringValue } ?? []
            var lines = messages
            if let log = report["nvme_smart_health_information_log"]?.objectValue {
                lines += log.keys.sorted().map { "\($0): \(log[$0]!.plainText)" }
            }
            out["text"] = .string(lines.joined(separator: "\n"))
        }
        return out
    }

    /// `vgs` rows (vg, vg size, vg free, pv, pv size, pv free) as PVE's tree: volume groups with their
    /// physical volumes as leaves.
    static func lvmTree(_ output: String) -> JSON {
        var groups: [(name: String, size: Int64, free: Int64, pvs: [JSON])] = []
        for line in output.split(separator: "\n") {
            let f = line.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count >= 6, let size = Int64(f[1]), let free = Int64(f[2]) else { continue }
            let pv: JSON = ["name": .string(f[3]), "size": .int(Int64(f[4]) ?? 0), "free": .int(Int64(f[5]) ?? 0), "leaf": 1]
            if let i = groups.firstIndex(where: { $0.name == f[0] }) { groups[i].pvs.append(pv) } else { groups.append((f[0], size, free, [pv])) }
        }
        return [
            "leaf": 0,
            "children": .array(
                groups.map { ["name": .string($0.name), "size": .int($0.size), "free": .int($0.free), "leaf": 0, "children": .array($0.pvs)] }),
        ]
    }

    /// `lvs` rows (lv, vg, size, data %, metadata size, metadata %, segment type): the thin pools.
    static func thinPools(_ output: String) -> [JSON] {
        output.split(separator: "\n").compactMap { line in
            let f = line.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count >= 7, f[6] == "thin-pool", let size = Int64(f[2]) else { return nil }
            let metadata = Int64(f[4]) ?? 0
            let used = Double(f[3]).map { Int64(Double(size) * $0 / 100) } ?? 0
            let metadataUsed = Double(f[5]).map { Int64(Double(metadata) * $0 / 100) } ?? 0
            return [
                "lv": .string(f[0]), "vg": .string(f[1]), "lv_size": .int(size), "used": .int(used), "metadata_size": .int(metadata),
                "metadata_used": .int(metadataUsed),
            ]
        }
    }

    /// `zpool list -Hp -o name,size,alloc,free,frag,dedup,health`.
    static func zpools(_ output: String) -> [JSON] {
        output.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "\t").map(String.init)
            guard f.count >= 7 else { return nil }
            return [
                "name": .string(f[0]), "size": .int(Int64(f[1]) ?? 0), "alloc": .int(Int64(f[2]) ?? 0), "free": .int(Int64(f[3]) ?? 0),
                "frag": .int(Int64(f[4].replacingOccurrences(of: "%", with: "")) ?? 0),
                "dedup": .number(Double(f[5].replacingOccurrences(of: "x", with: "")) ?? 1),
                "health": .string(f[6]),
            ]
        }
    }

    /// A directory storage's mount unit (`mnt-pve-NAME.mount`): where, what, type and options.
    static func mountUnit(_ text: String, file: String) -> JSON? {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if kv.count == 2 { fields[kv[0]] = kv[1] }
        }
        guard let path = fields["Where"], let device = fields["What"] else { return nil }
        return [
            "path": .string(path), "device": .string(device), "type": .string(fields["Type"] ?? ""), "options": .string(fields["Options"] ?? ""),
            "unitfile": .string(file),
        ]
    }
}

import Foundation
import Schema

/// A cycle in the receivers' wire formats, as PVE writes them, so dashboards built for PVE's
/// metrics work unchanged: Graphite's plaintext lines and InfluxDB's line protocol.
enum MetricLines {
    /// Keys never sent: identifiers and flags that are no figures.
    static let skipped: Set<String> = ["template", "pid", "agent", "serial"]

    // MARK: Graphite

    /// `<path>.<object>.<key…> <value> <time>` for every number, nested groups flattened with dots
    /// (a dot inside a key becomes `-`).
    static func graphite(_ cycle: MetricCycle, path: String) -> [String] {
        var lines: [String] = []
        for object in cycle.objects {
            let prefix: String
            switch object.kind {
            case .node(let name): prefix = "\(path).nodes.\(name)"
            case .guest(let type, let vmid, _): prefix = "\(path).\(type).\(vmid)"
            case .storage(let node, let id): prefix = "\(path).storages.\(node).\(id)"
            }
            flatten(object.data, prefix, time: cycle.time, into: &lines)
        }
        return lines
    }

    private static func flatten(_ data: [String: JSON], _ prefix: String, time: Int, into lines: inout [String]) {
        for key in data.keys.sorted() where !skipped.contains(key) {
            let name = prefix + "." + (key.contains(".") ? key.replacingOccurrences(of: ".", with: "-") : key)
            switch data[key]! {
            case .object(let inner): flatten(inner, name, time: time, into: &lines)
            case let value:
                if let number = graphiteNumber(value) { lines.append("\(name) \(number) \(time)") }
            }
        }
    }

    /// Only plain decimal numbers go to Graphite (strings that are numbers too, no exponents).
    static func graphiteNumber(_ value: JSON) -> String? {
        let text: String
        switch value {
        case .int(let n): return String(n)
        case .number(let d): text = decimal(d)
        case .string(let s): text = s
        default: return nil
        }
        return isPlainNumber(text) ? text : nil
    }

    /// `[+-]?[0-9]*\.?[0-9]+` by hand (called for every figure of every guest, every cycle).
    static func isPlainNumber(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        if let first = bytes.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        let parts = bytes.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        guard let last = parts.last, !last.isEmpty else { return false }
        return parts.allSatisfy { $0.allSatisfy { (48...57).contains($0) } }
    }

    /// A double without an exponent, as short as it reads back exactly.
    static func decimal(_ d: Double) -> String { d.shortestText(exponent: false) ?? "nan" }

    // MARK: InfluxDB

    /// The line protocol: top-level figures go to measurement `system`, a group to a measurement of
    /// its name, a group of groups (a node's `nics`, a VM's `blockstat`) to one line per member with
    /// an `instance` tag. Times in nanoseconds.
    static func influx(_ cycle: MetricCycle) -> [String] {
        let stamp = "\(cycle.time)000000000"
        var lines: [String] = []
        for object in cycle.objects {
            let tags: String
            var data = object.data
            switch object.kind {
            case .node(let name): tags = "object=nodes,host=\(name)"
            case .guest(let type, let vmid, let node):
                let name = data["name"]?.stringValue.map { ",host=\(escapeTag($0))" } ?? ""
                tags = "object=\(type),vmid=\(vmid),nodename=\(escapeTag(node))\(name)"
                data["vmid"] = nil
            case .storage(let node, let id):
                let type = data["type"]?.stringValue.map { ",type=\(escapeTag($0))" } ?? ""
                tags = "object=storages,nodename=\(escapeTag(node)),host=\(escapeTag(id))\(type)"
            }
            var scalars: [String: JSON] = [:]
            for key in data.keys.sorted() where !skipped.contains(key) {
                guard case .object(let group) = data[key]! else {
                    scalars[key] = data[key]
                    continue
                }
                let members = group.values.allSatisfy { if case .object = $0 { true } else { false } }
                if members, !group.isEmpty {
                    for instance in group.keys.sorted() {
                        guard case .object(let fields) = group[instance]!, let set = fieldSet(fields) else { continue }
                        lines.append("\(key),\(tags),instance=\(escapeTag(instance)) \(set) \(stamp)")
                    }
                } else if let set = fieldSet(group) {
                    lines.append("\(key),\(tags) \(set) \(stamp)")
                }
            }
            if let set = fieldSet(scalars) { lines.append("system,\(tags) \(set) \(stamp)") }
        }
        return lines
    }

    /// `key=value,…` sorted by key: numbers bare, other text quoted, `name` and `tags` always text;
    /// empty text, nulls, lists and flags left out; deeper groups flattened by their own keys.
    static func fieldSet(_ fields: [String: JSON]) -> String? {
        var flat: [String: JSON] = [:]
        func collect(_ data: [String: JSON]) {
            for (key, value) in data {
                if case .object(let inner) = value { collect(inner) } else { flat[key] = value }
            }
        }
        collect(fields)
        var parts: [String] = []
        for key in flat.keys.sorted() where !skipped.contains(key) {
            let field = escapeTag(key)
            switch flat[key]! {
            case .int(let n): parts.append(key == "name" || key == "tags" ? "\(field)=\"\(n)\"" : "\(field)=\(n)")
            case .number(let d) where d.isFinite: parts.append("\(field)=\(decimal(d))")
            case .string(let s) where !s.isEmpty:
                let quoted =
                    s.contains(where: { $0 == "\\" || $0 == "\"" })
                    ? s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") : s
                parts.append("\(field)=\"\(quoted)\"")
            default: continue
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: ",")
    }

    /// Tag values: whitespace, commas and `=` escaped (line protocol's rule).
    static func escapeTag(_ text: String) -> String {
        guard text.contains(where: { $0 == " " || $0 == "," || $0 == "=" || $0.isWhitespace }) else { return text }
        var out = ""
        for c in text {
            if c == " " || c == "," || c == "=" { out.append("\\") }
            out.append(c.isWhitespace && c != " " ? " " : c)
        }
        return out
    }

    /// Lines in batches of at most `size` bytes (a line longer than that goes alone).
    static func batches(_ lines: [String], size: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var current: [UInt8] = []
        for line in lines {
            let bytes = Array((line + "\n").utf8)
            if !current.isEmpty, current.count + bytes.count > size {
                out.append(current)
                current = []
            }
            current += bytes
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}

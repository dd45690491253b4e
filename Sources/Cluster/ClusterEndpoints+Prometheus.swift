import API
import Foundation
import Schema

extension ClusterEndpoints {
    /// The cluster's figures in Prometheus' text format (beyond PVE, which needs an exporter in
    /// between): what `/cluster/resources` shows the caller, under prometheus-pve-exporter's metric
    /// names and `id` labels, so its dashboards and alerts work when Prometheus scrapes Corral
    /// directly. `/api2/prometheus/metrics` serves it as `text/plain; version=0.0.4`.
    static func prometheus(state: ClusterState, pools: @escaping @Sendable () -> [Int: String]) -> Endpoint {
        Endpoint(
            .GET, "/cluster/metrics/prometheus", name: "prometheus",
            description: "The cluster's figures in Prometheus' text format (what the caller may see of /cluster/resources).",
            returns: .string(), permission: .anyUser,
            handler: .blocking { context in
                let rows = visibleRows(context, state: state, type: nil, pools: pools)
                return .string(PrometheusText.render(rows, version: context.services.productVersion, repoID: context.services.repoID))
            })
    }
}

/// Prometheus' text exposition format for `/cluster/resources` rows.
enum PrometheusText {
    /// Metric, help, the row field it reads, and whether it counts up (a counter).
    static let figures: [(name: String, help: String, field: String, counter: Bool)] = [
        ("pve_cpu_usage_ratio", "CPU usage (1 = one full CPU's share of the maximum).", "cpu", false),
        ("pve_cpu_usage_limit", "Number of CPUs available.", "maxcpu", false),
        ("pve_memory_usage_bytes", "Memory in use, bytes.", "mem", false),
        ("pve_memory_size_bytes", "Memory available, bytes.", "maxmem", false),
        ("pve_disk_usage_bytes", "Disk space in use, bytes.", "disk", false),
        ("pve_disk_size_bytes", "Disk size, bytes.", "maxdisk", false),
        ("pve_network_receive_bytes", "Bytes received over the network.", "netin", true),
        ("pve_network_transmit_bytes", "Bytes sent over the network.", "netout", true),
        ("pve_disk_read_bytes", "Bytes read from disk.", "diskread", true),
        ("pve_disk_write_bytes", "Bytes written to disk.", "diskwrite", true),
        ("pve_uptime_seconds", "Seconds since the node or guest started.", "uptime", false),
    ]

    static func render(_ rows: [[String: JSON]], version: String, repoID: String) -> String {
        var out = ""
        out.reserveCapacity(rows.count * 800)
        func family(_ name: String, _ help: String, _ type: String, _ samples: [(labels: [(String, String)], value: String)]) {
            guard !samples.isEmpty else { return }
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples {
                out += name
                out += "{"
                for (i, label) in sample.labels.enumerated() {
                    if i > 0 { out += "," }
                    out += label.0
                    out += "=\""
                    out += escape(label.1)
                    out += "\""
                }
                out += "} "
                out += sample.value
                out += "\n"
            }
        }
        let measured = rows.filter { ["node", "qemu", "lxc", "storage"].contains($0["type"]?.stringValue ?? "") }
        family(
            "pve_up", "Whether the node or guest is up (1) or not (0).", "gauge",
            measured.filter { $0["type"]?.stringValue != "storage" }.map { row in
                let up = ["online", "running"].contains(row["status"]?.stringValue ?? "")
                return ([("id", id(row))], up ? "1" : "0")
            })
        for figure in figures {
            family(
                figure.name, figure.help, figure.counter ? "counter" : "gauge",
                measured.compactMap { row in row[figure.field]?.doubleValue.map { ([("id", id(row))], number($0)) } })
        }
        family(
            "pve_storage_shared", "Whether the storage is shared between nodes.", "gauge",
            measured.filter { $0["type"]?.stringValue == "storage" }.map { ([("id", id($0))], $0["shared"]?.intValue == 1 ? "1" : "0") })
        family(
            "pve_guest_info", "A guest's name, node, type, template flag and tags.", "gauge",
            measured.filter { ["qemu", "lxc"].contains($0["type"]?.stringValue ?? "") }.map { row in
                let labels: [(String, String)] = [
                    ("id", id(row)), ("node", row["node"]?.stringValue ?? ""), ("name", row["name"]?.stringValue ?? ""),
                    ("type", row["type"]?.stringValue ?? ""), ("template", row["template"]?.intValue == 1 ? "1" : "0"),
                    ("tags", row["tags"]?.stringValue ?? ""),
                ]
                return (labels, "1")
            })
        family(
            "pve_node_info", "A node's name and subscription level.", "gauge",
            measured.filter { $0["type"]?.stringValue == "node" }.map { row in
                ([("id", id(row)), ("name", row["node"]?.stringValue ?? ""), ("level", row["level"]?.stringValue ?? "")], "1")
            })
        family(
            "pve_storage_info", "A storage's node, name, type and content.", "gauge",
            measured.filter { $0["type"]?.stringValue == "storage" }.map { row in
                let labels: [(String, String)] = [
                    ("id", id(row)), ("node", row["node"]?.stringValue ?? ""), ("storage", row["storage"]?.stringValue ?? ""),
                    ("plugintype", row["plugintype"]?.stringValue ?? ""), ("content", row["content"]?.stringValue ?? ""),
                ]
                return (labels, "1")
            })
        family(
            "pve_version_info", "The version of the node that answered.", "gauge",
            [([("release", version), ("repoid", repoID), ("version", version)], "1")])
        return out
    }

    static func id(_ row: [String: JSON]) -> String { row["id"]?.stringValue ?? "" }

    /// Prometheus' float text: integers without a fraction, no exponent surprises for byte counts.
    static func number(_ value: Double) -> String { value.shortestText() ?? (value.isNaN ? "NaN" : value > 0 ? "+Inf" : "-Inf") }

    static func escape(_ text: String) -> String {
        // most values need nothing: Foundation's replacing is the slow part of a thousand guests' text
        guard text.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return text }
        return text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(
            of: "\n", with: "\\n")
    }
}

import Foundation
import Nodes
import Schema

/// What one sampling cycle saw, as external metric servers and `/cluster/metrics/export` take it:
/// the node, each guest and each storage with their figures (nested objects for groups such as
/// `cpustat` or a node's `nics`), and the cycle's time.
public struct MetricCycle: Sendable {
    public enum Kind: Sendable, Equatable {
        case node(String)
        case guest(type: String, vmid: Int, node: String)
        case storage(node: String, id: String)
    }

    public struct Object: Sendable {
        public var kind: Kind
        public var data: [String: JSON]
    }

    public var time: Int
    public var objects: [Object] = []

    /// The node's figures in PVE's groups: `cpustat`, `memory`, `blockstat` (the root file system)
    /// and `nics` (every interface's byte counters).
    static func nodeData(cpu: (cpu: Double, wait: Double)) -> [String: JSON] {
        let memory = NodeStatus.memory(), swap = NodeStatus.swap(), root = NodeStatus.filesystem("/")
        let load = NodeStatus.loadavg().map { Double($0) ?? 0 }
        var cpustat: [String: JSON] = [
            "cpu": .number(cpu.cpu), "wait": .number(cpu.wait), "cpus": .int(Int64(NodeStatus.cpuCount)),
            "avg1": .number(load.first ?? 0), "avg5": .number(load.dropFirst().first ?? 0), "avg15": .number(load.dropFirst(2).first ?? 0),
        ]
        for (key, value) in jiffies() { cpustat[key] = .int(value) }
        let nics = interfaces().mapValues { nic -> JSON in
            .object(["receive": .int(nic.received), "transmit": .int(nic.sent), "type": .string(nic.physical ? "physical" : "virtual")])
        }
        return [
            "uptime": .int(NodeStatus.uptime()),
            "cpustat": .object(cpustat),
            "memory": .object([
                "memtotal": .int(memory.total), "memused": .int(memory.used), "memfree": .int(memory.free),
                "memavailable": .int(memory.available), "swaptotal": .int(swap.total), "swapused": .int(swap.used),
                "swapfree": .int(swap.free),
            ]),
            "blockstat": .object([
                "blocks": .int(root.total), "used": .int(root.used), "bfree": .int(root.free), "bavail": .int(root.avail),
                "per": .number(root.total > 0 ? Double(root.used) * 100 / Double(root.total) : 0),
            ]),
            "nics": .object(nics),
        ]
    }

    /// The first line of `/proc/stat` by PVE's names (jiffies; user and nice without guest time).
    static func jiffies() -> [String: Int64] {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8), let line = text.split(separator: "\n").first else { return [:] }
        let names = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice"]
        var out: [String: Int64] = [:]
        for (name, field) in zip(names, line.split(separator: " ").dropFirst()) { out[name] = Int64(field) ?? 0 }
        out["user", default: 0] -= out["guest"] ?? 0
        out["nice", default: 0] -= out["guest_nice"] ?? 0
        return out
    }

    /// Every interface of `/proc/net/dev` with its byte counters; physical ones have a device in sysfs.
    static func interfaces() -> [String: (received: Int64, sent: Int64, physical: Bool)] {
        guard let text = try? String(contentsOfFile: "/proc/net/dev", encoding: .utf8) else { return [:] }
        var out: [String: (Int64, Int64, Bool)] = [:]
        for line in text.split(separator: "\n").dropFirst(2) {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            let fields = parts[1].split(separator: " ")
            guard fields.count >= 9 else { continue }
            let physical = FileManager.default.fileExists(atPath: "/sys/class/net/\(name)/device")
            out[name] = (Int64(fields[0]) ?? 0, Int64(fields[8]) ?? 0, physical)
        }
        return out
    }
}

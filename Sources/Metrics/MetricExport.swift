import Foundation
import Schema
import Synchronization

/// The last 30 minutes of cycles (181 of them, PVE's pull cache) as `/cluster/metrics/export`'s
/// rows: `{metric, id, timestamp, type, value}`, gauges and, for byte counters, derives.
public final class MetricExport: Sendable {
    static let generations = 181
    private let cycles = Mutex<[(time: Int, rows: [JSON])]>([])

    func add(_ cycle: MetricCycle) {
        let rows = Self.rows(cycle)
        cycles.withLock { all in
            all.append((cycle.time, rows))
            if all.count > Self.generations { all.removeFirst(all.count - Self.generations) }
        }
    }

    /// The newest cycle's rows, or with `history` those of the last `(now - startTime) / 10` cycles
    /// (all of them without a start), only rows newer than `startTime`.
    public func rows(history: Bool, startTime: Int) -> [JSON] {
        let all = cycles.withLock { $0 }
        var chosen: ArraySlice<(time: Int, rows: [JSON])>
        if !history {
            chosen = all.suffix(1)
        } else if startTime > 0 {
            let count = max(0, (Int(Date().timeIntervalSince1970) - startTime) / 10)
            chosen = all.suffix(count)
        } else {
            chosen = all[...]
        }
        return chosen.filter { $0.time > startTime }.flatMap(\.rows)
    }

    static func rows(_ cycle: MetricCycle) -> [JSON] {
        var out: [JSON] = []
        func add(_ metric: String, _ id: String, _ value: JSON?, _ type: String = "gauge") {
            guard let value, value.doubleValue != nil else { return }
            out.append(
                .object(["metric": .string(metric), "id": .string(id), "timestamp": .int(Int64(cycle.time)), "type": .string(type), "value": value]))
        }
        for object in cycle.objects {
            let data = object.data
            switch object.kind {
            case .node(let name):
                let id = "node/\(name)"
                let cpu = data["cpustat"], memory = data["memory"], root = data["blockstat"]
                var netIn: Int64 = 0, netOut: Int64 = 0
                if case .object(let nics)? = data["nics"] {
                    for (_, nic) in nics where nic["type"]?.stringValue == "physical" {
                        netIn += nic["receive"]?.intValue ?? 0
                        netOut += nic["transmit"]?.intValue ?? 0
                    }
                }
                add("uptime", id, data["uptime"])
                add("net_in", id, .int(netIn), "derive")
                add("net_out", id, .int(netOut), "derive")
                add("cpu_avg1", id, cpu?["avg1"])
                add("cpu_avg5", id, cpu?["avg5"])
                add("cpu_avg15", id, cpu?["avg15"])
                add("cpu_max", id, cpu?["cpus"])
                add("cpu_current", id, cpu?["cpu"])
                add("cpu_iowait", id, cpu?["wait"])
                add("mem_total", id, memory?["memtotal"])
                add("mem_used", id, memory?["memused"])
                add("swap_total", id, memory?["swaptotal"])
                add("swap_used", id, memory?["swapused"])
                add("disk_total", id, root?["blocks"])
                add("disk_used", id, root?["used"])
            case .guest(let type, let vmid, _):
                let id = "\(type)/\(vmid)"
                if data["status"]?.stringValue == "running" {
                    add("cpu_current", id, data["cpu"])
                    add("mem_used", id, data["mem"])
                    add("disk_read", id, data["diskread"], "derive")
                    add("disk_write", id, data["diskwrite"], "derive")
                    add("net_in", id, data["netin"], "derive")
                    add("net_out", id, data["netout"], "derive")
                    if type == "lxc" { add("disk_used", id, data["disk"]) }
                }
                add("uptime", id, data["uptime"] ?? .int(0))
                add("cpu_max", id, data["cpus"] ?? data["maxcpu"])
                add("mem_total", id, data["maxmem"])
                add("disk_total", id, data["maxdisk"])
            case .storage(let node, let storage):
                let id = "storage/\(node)/\(storage)"
                add("disk_total", id, data["total"])
                add("disk_used", id, data["used"])
            }
        }
        return out
    }
}

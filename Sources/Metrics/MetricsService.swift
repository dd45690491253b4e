import Blocking
import Dispatch
import Foundation
import Guests
import Nodes
import RRD
import Schema
import Storage
import Synchronization

/// PVE's pvestatd inside corrald: every 10 s the node's, its guests' and its storages' figures go
/// into RRD files in PVE's layout (`pve2-node/<node>`, `pve2-vm/<vmid>`, `pve2-storage/<node>/<id>`,
/// PVE's data sources and archives), so `rrddata` answers with PVE's fields. The files are this
/// node's; another node's history is asked of that node (the API forwards `/nodes/{node}/…`).
public final class MetricsService: Sendable {
    public let directory: String
    let node: String
    let guests: GuestBackends
    let storage: Storage?
    let cpu: CPUSampler
    let interval: Double
    let log: @Sendable (String) -> Void
    private let queue = DispatchQueue(label: "corral-metrics")
    private let timer = Mutex<RepeatingTimer?>(nil)
    /// The last 30 minutes of cycles, for `/cluster/metrics/export`.
    public let export = MetricExport()
    /// The external metric servers of `status.cfg` (none without a cluster filesystem: a CLI).
    public let external: ExternalMetrics?
    /// What the last cycle cost (CPU seconds of its thread, wall seconds), for the benchmark.
    public let lastCycle = Mutex<(cpu: Double, wall: Double)>((0, 0))

    public init(
        directory: String, node: String, guests: GuestBackends, storage: Storage?, cpu: CPUSampler, interval: Double = 10,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.directory = directory
        self.node = node
        self.guests = guests
        self.storage = storage
        self.cpu = cpu
        self.interval = interval
        self.log = log
        external = storage.map { ExternalMetrics(config: MetricServerConfig(tree: $0.fs), log: log) }
    }

    public func start() {
        let cycle = RepeatingTimer(queue: queue, after: 1, every: interval) { [weak self] in self?.sample() }
        timer.withLock { $0 = cycle }
    }

    public func stop() {
        timer.withLock { $0?.cancel() }
        queue.sync { flushAll() }
    }

    // MARK: PVE's layout

    /// PVE steps its files by the minute; Corral by its 10 s sample, so the hour shows every sample
    /// (360 rows) and a new figure is in `rrddata` within one cycle. The longer frames are PVE's: 70
    /// rows of 30 min, 3 h, 12 h and a week. Average and max of each.
    static let step = 10
    static let archives = ["AVERAGE", "MAX"].flatMap { cf in
        ["RRA:\(cf):0.5:1:360"] + [180, 1080, 4320, 60480].map { "RRA:\(cf):0.5:\($0):70" }
    }
    static let nodeSources: [(String, String)] = [
        ("loadavg", "GAUGE"), ("maxcpu", "GAUGE"), ("cpu", "GAUGE"), ("iowait", "GAUGE"), ("memtotal", "GAUGE"), ("memused", "GAUGE"),
        ("swaptotal", "GAUGE"), ("swapused", "GAUGE"), ("roottotal", "GAUGE"), ("rootused", "GAUGE"), ("netin", "DERIVE"), ("netout", "DERIVE"),
    ]
    static let guestSources: [(String, String)] = [
        ("maxcpu", "GAUGE"), ("cpu", "GAUGE"), ("maxmem", "GAUGE"), ("mem", "GAUGE"), ("maxdisk", "GAUGE"), ("disk", "GAUGE"),
        ("netin", "DERIVE"), ("netout", "DERIVE"), ("diskread", "DERIVE"), ("diskwrite", "DERIVE"),
    ]
    static let storageSources: [(String, String)] = [("total", "GAUGE"), ("used", "GAUGE")]

    public func nodeFile(_ name: String) -> String { "\(directory)/pve2-node/\(name)" }
    public func guestFile(_ vmid: Int) -> String { "\(directory)/pve2-vm/\(vmid)" }
    public func storageFile(_ id: String) -> String { "\(directory)/pve2-storage/\(node)/\(id)" }

    /// The time frames `rrddata` takes: resolution and span in seconds.
    public static let timeframes: [String: (resolution: Int, span: Int)] = [
        "hour": (10, 3600), "day": (1800, 86_400), "week": (10_800, 604_800), "month": (43_200, 2_592_000),
        "year": (604_800, 31_536_000), "decade": (604_800, 315_360_000),
    ]

    // MARK: the cycle

    func sample() {
        let began = Date(), cpuBefore = Self.threadCPU()
        let now = Int(Date().timeIntervalSince1970)
        let fractions = cpu.fractions()
        var cycle = MetricCycle(time: now)
        cycle.objects.append(.init(kind: .node(node), data: MetricCycle.nodeData(cpu: fractions)))
        record(nodeFile(node), Self.nodeSources, now: now, values: nodeValues(fractions))
        for backend in guests.all {
            let vmids = backend.store.vmids()
            let all = backend.statuses(vmids)
            for vmid in vmids {
                guard let status = all[vmid] else { continue }
                let values = Self.guestSources.map { name, _ -> Double? in
                    // a stopped guest has no usage: unknown, as PVE records it
                    if status["status"]?.stringValue != "running", !["maxcpu", "maxmem", "maxdisk"].contains(name) { return nil }
                    return status[name]?.doubleValue
                }
                record(guestFile(vmid), Self.guestSources, now: now, values: values)
                var data = status
                data["vmid"] = .int(Int64(vmid))
                cycle.objects.append(.init(kind: .guest(type: backend.type, vmid: vmid, node: node), data: data))
            }
        }
        if let storage, let config = try? storage.config() {
            for entry in config.entries where entry.isAvailable(on: node) {
                guard let plugin = try? storage.plugin(for: entry), let usage = try? plugin.status() else { continue }
                record(storageFile(entry.id), Self.storageSources, now: now, values: [Double(usage.total), Double(usage.used)])
                cycle.objects.append(
                    .init(
                        kind: .storage(node: node, id: entry.id),
                        data: [
                            "type": .string(entry.type), "total": .int(usage.total), "used": .int(usage.used), "avail": .int(usage.available),
                            "active": .int(1), "enabled": .int(1), "shared": .int(entry["shared"] == "1" ? 1 : 0),
                            "content": .string(entry.content.sorted().joined(separator: ",")),
                        ]))
            }
        }
        cycles.add(1, ordering: .relaxed)
        export.add(cycle)
        external?.send(cycle)
        let cost = (cpu: Self.threadCPU() - cpuBefore, wall: Date().timeIntervalSince(began))
        lastCycle.withLock { $0 = cost }
        // for the benchmark and the curious: what the last cycle cost, next to the files it wrote
        let guests = cycle.objects.filter { if case .guest = $0.kind { true } else { false } }.count
        let summary = "{\"time\": \(now), \"guests\": \(guests), \"cpu_ms\": \(Int(cost.cpu * 1000)), \"wall_ms\": \(Int(cost.wall * 1000))}\n"
        try? summary.write(toFile: directory + "/last-cycle.json", atomically: true, encoding: .utf8)
    }

    /// Samples not yet in their files, by path (see `record`).
    private let pending = Mutex<[String: (sources: [(String, String)], samples: [(time: Int, values: [Double?])])]>([:])
    /// Cycles so far, to spread the files' writes over the cycles.
    private let cycles = Atomic<Int>(0)
    /// A file takes its samples every `batch` cycles (a minute): writing a thousand guests' files
    /// every 10 s was most of a cycle, one write of six samples costs about what one of one does.
    /// What is read (`rows`) and what a stop leaves is written first, so nothing is seen late or lost
    /// on a clean stop (PVE's rrdcached makes the same trade).
    static let batch = 6

    private func record(_ path: String, _ sources: [(String, String)], now: Int, values: [Double?]) {
        let due = pending.withLock { pending -> Bool in
            // a file that does not exist yet is made at once (its first cycle), not at its turn
            if pending[path] == nil, !FileManager.default.fileExists(atPath: path) {
                pending[path] = (sources, [(now, values)])
                return true
            }
            pending[path, default: (sources, [])].samples.append((now, values))
            // each file at its own turn, so a cycle writes about a sixth of them
            return ((path.hashValue & Int.max) + cycles.load(ordering: .relaxed)) % Self.batch == 0 || pending[path]!.samples.count >= Self.batch
        }
        if due { flush(path) }
    }

    /// Writes `path`'s pending samples (creating the file first).
    func flush(_ path: String) {
        // one flush at a time: a reader's and the sampler's must not write a file's samples out of order
        writing.withLock { _ in
            guard let entry = pending.withLock({ $0.removeValue(forKey: path) }) else { return }
            do {
                try RRDFile.create(
                    path, step: Self.step, sources: entry.sources.map { "DS:\($0.0):\($0.1):30:0:U" }, archives: Self.archives)
                try RRDFile.update(path, samples: entry.samples)
            } catch {
                log("metrics: \(error)")
            }
        }
    }
    private let writing = Mutex<Void>(())

    /// A destroyed guest's history goes with it: a new guest that gets its VMID starts with none
    /// (PVE keeps the old file, so a new guest shows its predecessor's graphs). On the cycle's queue,
    /// so a cycle that sampled the guest just before it went cannot write the file again after.
    public func forget(vmid: Int) {
        let path = guestFile(vmid)
        queue.async { [self] in
            writing.withLock { _ in
                pending.withLock { _ = $0.removeValue(forKey: path) }
                try? FileManager.default.removeItem(atPath: path)
            }
        }
    }

    /// Writes every pending sample (a stop).
    func flushAll() {
        for path in pending.withLock({ Array($0.keys) }) { flush(path) }
    }

    func nodeValues(_ fractions: (cpu: Double, wait: Double)) -> [Double?] {
        let memory = NodeStatus.memory(), swap = NodeStatus.swap(), root = NodeStatus.filesystem("/")
        let (busy, wait) = fractions
        let net = Self.networkBytes()
        return [
            Double(NodeStatus.loadavg().first ?? ""), Double(NodeStatus.cpuCount), busy, wait, Double(memory.total), Double(memory.used),
            Double(swap.total), Double(swap.used), Double(root.total), Double(root.used), Double(net.received), Double(net.sent),
        ]
    }

    /// Bytes received and sent by the node's interfaces but loopback (`/proc/net/dev`).
    static func networkBytes() -> (received: Int64, sent: Int64) {
        guard let text = try? String(contentsOfFile: "/proc/net/dev", encoding: .utf8) else { return (0, 0) }
        var received: Int64 = 0, sent: Int64 = 0
        for line in text.split(separator: "\n").dropFirst(2) {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) != "lo" else { continue }
            let fields = parts[1].split(separator: " ")
            guard fields.count >= 9 else { continue }
            received += Int64(fields[0]) ?? 0
            sent += Int64(fields[8]) ?? 0
        }
        return (received, sent)
    }

    /// CPU time of the calling thread: a cycle runs on one, and the process' other threads (requests,
    /// the event comparison, the metric servers' sending) are not its cost.
    static func threadCPU() -> Double {
        var usage = rusage()
        getrusage(1 /* RUSAGE_THREAD */, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// `rrddata`'s answer: one object per row with its `time` and the known values.
    public func rows(_ path: String, timeframe: String, cf: String) throws -> [[String: Double]] {
        flush(path)
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let frame = Self.timeframes[timeframe] ?? Self.timeframes["hour"]!
        let end = Int(Date().timeIntervalSince1970)
        let series = try RRDFile.fetch(path, cf: cf, start: end - frame.span, end: end, resolution: frame.resolution)
        return series.rows.enumerated().map { i, row in
            var out: [String: Double] = ["time": Double(series.start + i * series.step)]
            for (name, value) in zip(series.names, row) where value.isFinite { out[name] = value }
            return out
        }
    }
}

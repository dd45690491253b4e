import Glibc
import Synchronization

/// CPU and I/O-wait fractions from two /proc/stat samples taken at least a second apart, as
/// pvestatd computes them. The first reading after start compares against boot.
public final class CPUSampler: Sendable {
    struct Sample: Sendable {
        var busy: UInt64 = 0
        var iowait: UInt64 = 0
        var total: UInt64 = 0
        var taken: Double = 0
    }

    private let state = Mutex<(previous: Sample, current: Sample)>((Sample(), Sample()))

    public init() {
        let first = CPUSampler.read()
        state.withLock { $0 = (Sample(), first) }
    }

    /// (cpu, wait) as fractions of all CPUs, 0…1.
    public func fractions() -> (cpu: Double, wait: Double) {
        state.withLock { s in
            let now = CPUSampler.monotonic()
            if now - s.current.taken >= 1 {
                s.previous = s.current
                s.current = CPUSampler.read()
            }
            let total = Double(s.current.total &- s.previous.total)
            guard total > 0 else { return (0, 0) }
            return (Double(s.current.busy &- s.previous.busy) / total, Double(s.current.iowait &- s.previous.iowait) / total)
        }
    }

    static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func read() -> Sample {
        guard let text = ProcFiles.read("/proc/stat"), let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else {
            return Sample(taken: monotonic())
        }
        let values = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard values.count >= 5 else { return Sample(taken: monotonic()) }
        // user nice system idle iowait irq softirq steal (guest time is already inside user)
        let idle = values[3], iowait = values[4]
        let total = values.prefix(8).reduce(0, &+)
        return Sample(busy: total &- idle &- iowait, iowait: iowait, total: total, taken: monotonic())
    }
}

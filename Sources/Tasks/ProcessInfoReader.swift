import Glibc

/// Reads process facts from /proc: a PID alone can be reused, PID + start time cannot.
public enum ProcessInfoReader {
    /// Field 22 of /proc/PID/stat: start time in clock ticks since boot.
    public static func startTime(pid: Int32) -> UInt64? {
        guard let stat = readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // after "pid (comm)" the next field is #3 (state); start time is #22
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    public static func isAlive(pid: Int32, pstart: UInt64) -> Bool {
        guard pid > 0, let start = startTime(pid: pid) else { return false }
        return start == pstart
    }
}

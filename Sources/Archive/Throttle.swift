import Foundation

/// Keeps a stream at or under a rate (PVE's `bwlimit`, KiB/s) by sleeping once it runs ahead.
/// Blocking: use on the blocking executor.
public final class Throttle: @unchecked Sendable {
    let bytesPerSecond: Double
    let started = Date()
    private let lock = NSLock()
    private var total: Double = 0

    /// nil for no limit (0).
    public init?(kibPerSecond: Int) {
        guard kibPerSecond > 0 else { return nil }
        bytesPerSecond = Double(kibPerSecond) * 1024
    }

    /// Counts `bytes` and waits until the rate allows them.
    public func take(_ bytes: Int) {
        let due = lock.withLock { () -> Double in
            total += Double(bytes)
            return total / bytesPerSecond
        }
        let ahead = due - Date().timeIntervalSince(started)
        if ahead > 0 { usleep(UInt32(min(ahead, 60) * 1_000_000)) }
    }
}

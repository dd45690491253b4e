import Foundation
import Synchronization

/// A sink that keeps the rate written to another below `bytesPerSecond` (a migration's `bwlimit`):
/// after each write it sleeps until the bytes so far are within the budget of the time passed.
public final class ThrottledSink: VolumeSink {
    let inner: any VolumeSink
    let bytesPerSecond: Double
    private let state = Mutex<(started: Date, written: Int64)>((Date(), 0))

    public init(_ inner: any VolumeSink, bytesPerSecond: Double) {
        self.inner = inner
        self.bytesPerSecond = bytesPerSecond
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        try inner.write(bytes)
        let (started, written) = state.withLock { state in
            state.written += Int64(bytes.count)
            return state
        }
        let due = Double(written) / bytesPerSecond - Date().timeIntervalSince(started)
        if due > 0 { usleep(useconds_t(min(due, 10) * 1_000_000)) }
    }
}

import Blocking
import Synchronization

/// A document made from the API's declarations (the OpenAPI description, PVE's API-viewer data) the
/// first time a client asks for it, then kept. Making both at start cost every node 5 MB of memory
/// it kept for good (measured: 14.4 MB of anonymous memory after start, 9.1 MB without), and most
/// nodes never serve them. It is made on the blocking executor: a loop thread does not wait for it.
final class OnDemandDocument: Sendable {
    private let make: @Sendable () -> [UInt8]
    private let made = Mutex<[UInt8]?>(nil)

    init(_ make: @escaping @Sendable () -> [UInt8]) { self.make = make }

    /// The document; concurrent first callers may each make it, and one result is kept.
    var bytes: [UInt8] {
        get async {
            if let ready = made.withLock({ $0 }) { return ready }
            let fresh = await BlockingExecutor.shared.run { [make] in make() }
            return made.withLock { kept in
                if let kept { return kept }
                kept = fresh
                return fresh
            }
        }
    }

    /// The document if it was made already (a quick answer on the loop thread).
    var ready: [UInt8]? { made.withLock { $0 } }
}

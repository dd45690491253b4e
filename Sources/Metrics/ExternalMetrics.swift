import Dispatch
import Foundation
import Synchronization

/// Hands every cycle to the enabled servers of `status.cfg`, read again each cycle (a change through
/// any node's API takes effect at the next one). Sending runs on a queue of its own, one server
/// after the other with its own timeout; a cycle that finds the last one still sending is left out
/// for the servers, so a dead receiver never piles up work. A failure is logged when it starts and
/// when it ends, not every cycle.
public final class ExternalMetrics: Sendable {
    let config: MetricServerConfig
    let log: @Sendable (String) -> Void
    private let queue = DispatchQueue(label: "corral-metric-servers")
    private let busy = Atomic<Bool>(false)
    private let failing = Mutex<[String: String]>([:])
    /// Cycles sent to at least one server, and batches that failed (the tests' and the bench's view).
    public let sent = Atomic<Int>(0)
    public let failures = Atomic<Int>(0)

    init(config: MetricServerConfig, log: @escaping @Sendable (String) -> Void) {
        self.config = config
        self.log = log
    }

    func send(_ cycle: MetricCycle) {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            log("metrics: the metric servers still take the last cycle; this one is left out")
            return
        }
        queue.async { [self] in
            defer { busy.store(false, ordering: .releasing) }
            let servers = config.enabled()
            for server in servers {
                do {
                    try MetricSender(server: server).send(cycle)
                    if failing.withLock({ $0.removeValue(forKey: server.id) }) != nil { log("metrics: server '\(server.id)' takes figures again") }
                } catch {
                    failures.add(1, ordering: .relaxed)
                    let message = "\(error)"
                    let first = failing.withLock { known in
                        defer { known[server.id] = message }
                        return known[server.id] != message
                    }
                    if first { log("metrics: sending to server '\(server.id)' failed: \(message)") }
                }
            }
            if !servers.isEmpty { sent.add(1, ordering: .relaxed) }
        }
    }
}

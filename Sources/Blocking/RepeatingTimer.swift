import Dispatch

/// A timer that runs `handler` on `queue` every `interval` seconds, first after `delay`, until
/// cancelled (from any thread). The background rounds of a node's services (HA, metrics) use it.
public final class RepeatingTimer: @unchecked Sendable {
    private let source: any DispatchSourceTimer

    public init(queue: DispatchQueue, after delay: Double, every interval: Double, _ handler: @escaping @Sendable () -> Void) {
        source = DispatchSource.makeTimerSource(queue: queue)
        source.schedule(deadline: .now() + delay, repeating: interval)
        source.setEventHandler(handler: handler)
        source.resume()
    }

    public func cancel() { source.cancel() }
}

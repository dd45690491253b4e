import Synchronization

/// Blocking work that must run again after something changed, but never twice at once: `schedule`
/// runs it on the blocking executor, and any requests while it runs make exactly one more run
/// (a burst of configuration events is one apply, and the last event is never missed).
public final class CoalescedJob: Sendable {
    private let state = Mutex((running: false, again: false, claimed: false))

    public init() {}

    /// True for the first caller only: whoever sets up the job's triggers (a watch starts once).
    public func claim() -> Bool {
        state.withLock { state in
            defer { state.claimed = true }
            return !state.claimed
        }
    }

    /// `work` is the same job on every call (the run a call starts uses that call's closure).
    public func schedule(_ work: @escaping @Sendable () -> Void) {
        let start = state.withLock { state -> Bool in
            if state.running {
                state.again = true
                return false
            }
            state.running = true
            return true
        }
        guard start else { return }
        BlockingExecutor.shared.submit { [self] in
            while true {
                work()
                let more = state.withLock { state -> Bool in
                    if state.again {
                        state.again = false
                        return true
                    }
                    state.running = false
                    return false
                }
                if !more { return }
            }
        }
    }
}

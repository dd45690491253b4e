import Dispatch
import Glibc

/// SIGTERM and SIGINT start a graceful shutdown. Dispatch watches the signals (their default action
/// is switched off), so no handler runs in signal context.
enum ShutdownSignal {
    static func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let queue = DispatchQueue(label: "corrald.signals")
            let once = OnceFlag()
            var sources: [any DispatchSourceSignal] = []
            for sig in [SIGTERM, SIGINT] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
                source.setEventHandler {
                    if once.fire() { continuation.resume() }
                }
                source.resume()
                sources.append(source)
            }
            Retained.sources = sources
        }
    }

    private enum Retained {
        nonisolated(unsafe) static var sources: [any DispatchSourceSignal] = []
    }
}

/// True exactly once (signal handlers may fire for both SIGTERM and SIGINT).
final class OnceFlag: @unchecked Sendable {
    private var fired = false
    private let lock = DispatchQueue(label: "corrald.once")
    func fire() -> Bool {
        lock.sync {
            defer { fired = true }; return !fired
        }
    }
}

import Dispatch
import Foundation
import Glibc

/// SIGTERM and SIGINT start a graceful shutdown; SIGHUP a graceful restart (corrald execs itself
/// again: how it moves into or out of cluster mode). Dispatch watches the signals (their default
/// action is switched off), so no handler runs in signal context.
enum ShutdownSignal {
    /// Whether the daemon should start again after shutting down.
    static func wait() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let queue = DispatchQueue(label: "corrald.signals")
            let once = OnceFlag()
            var sources: [any DispatchSourceSignal] = []
            for sig in [SIGTERM, SIGINT, SIGHUP] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
                source.setEventHandler {
                    if once.fire() { continuation.resume(returning: sig == SIGHUP) }
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

/// Runs this program again in this process (same pid, so systemd and test harnesses keep tracking
/// it). What this image opened is closed across the exec (the new image opens its own); what the
/// process was started with stays (a parent may watch a descriptor it handed over to learn when
/// the process ends, and an exec is not an end).
enum Restart {
    /// The descriptors open when the process started (call first thing in main).
    nonisolated(unsafe) static var inherited: Set<Int32> = []

    static func recordInherited() {
        inherited = Set(((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap(Int32.init))
    }

    static func exec() -> Never {
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            for fd in fds.compactMap(Int32.init) where fd > 2 && !inherited.contains(fd) { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        let arguments = CommandLine.arguments
        let argv = arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", argv)
        FileHandle.standardError.write(Data("corrald: cannot restart: \(String(cString: strerror(errno)))\n".utf8))
        exit(1)
    }
}

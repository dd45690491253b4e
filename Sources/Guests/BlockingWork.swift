import Foundation

/// Runs blocking work (a libvirt call that waits for QEMU, a qemu-img run) on a thread of its own,
/// so it never holds one of the few threads of Swift's cooperative pool: eight parallel starts on a
/// two-core node would otherwise run two at a time.
public enum BlockingWork {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
            thread.name = "corral-blocking"
            thread.start()
        }
    }
}

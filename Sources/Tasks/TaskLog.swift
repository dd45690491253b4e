import Glibc

/// The log of one running task: each line is written through to its file at once, so readers follow it live.
public final class TaskLog: @unchecked Sendable {
    private let fd: Int32
    private let lock = Mutex()
    private var warningCount = 0
    private let echo: (@Sendable (String) -> Void)?
    public let upid: UPID

    init(path: String, upid: UPID, echo: (@Sendable (String) -> Void)?) throws(TaskError) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw TaskError(.io, "cannot create task log \(path): \(String(cString: strerror(errno)))") }
        self.upid = upid
        self.echo = echo
    }

    deinit { close(fd) }

    /// Appends one line (newlines inside become separate lines).
    public func log(_ text: String) {
        lock.locked {
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                let bytes = Array((line + "\n").utf8)
                _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                echo?(String(line))
            }
        }
    }

    /// Logs a warning; a task that logged warnings ends with `TASK WARNINGS: n` instead of `TASK OK`.
    public func warn(_ text: String) {
        lock.locked { warningCount += 1 }
        log("WARN: \(text)")
    }

    var warnings: Int { lock.locked { warningCount } }
}

/// A small lock for state shared between threads (pthread mutex; Synchronization.Mutex needs a
/// non-copyable owner, which the classes here do not want to be).
public final class Mutex: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    public init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }

    @discardableResult
    public func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}

/// How a task ended: `OK`, `WARNINGS: n`, or an error message (PVE's exitstatus).
public enum TaskExit: Equatable, Sendable {
    case ok
    case warnings(Int)
    case error(String)

    /// The text after `TASK ` on the last log line, and PVE's `exitstatus`/`status` value.
    public var statusText: String {
        switch self {
        case .ok: "OK"
        case .warnings(let n): "WARNINGS: \(n)"
        case .error(let message): message
        }
    }

    public init(statusText: String) {
        if statusText == "OK" {
            self = .ok
        } else if statusText.hasPrefix("WARNINGS: "), let n = Int(statusText.dropFirst(10)) {
            self = .warnings(n)
        } else {
            self = .error(statusText)
        }
    }

    /// The line that closes a task log.
    public var logLine: String {
        switch self {
        case .ok: "TASK OK"
        case .warnings(let n): "TASK WARNINGS: \(n)"
        case .error(let message): "TASK ERROR: \(message)"
        }
    }
}

/// One row of the task list.
public struct TaskRecord: Equatable, Sendable {
    public let upid: UPID
    /// nil while running.
    public var endtime: Int64?
    public var exit: TaskExit?

    public var isRunning: Bool { exit == nil }

    public init(upid: UPID, endtime: Int64? = nil, exit: TaskExit? = nil) {
        self.upid = upid
        self.endtime = endtime
        self.exit = exit
    }
}

/// A task lifecycle event, pushed to the event stream.
public enum TaskEvent: Sendable, Equatable {
    case started(UPID)
    case finished(TaskRecord)
}

import Blocking
import Glibc

/// Runs tasks (PVE's workers): each gets a UPID at once, runs detached from whoever started it, logs to
/// its own file and ends with `TASK OK`, `TASK WARNINGS: n` or `TASK ERROR: …`. Tasks of every process
/// of the node share the on-disk lists, so the API lists what a CLI started and the reverse.
public final class TaskManager: @unchecked Sendable {
    public let node: String
    private let store: TaskStore
    private let lock = Mutex()
    private var running: [UPID: Task<Void, Never>] = [:]
    private var waiters: [UPID: [CheckedContinuation<TaskRecord, Never>]] = [:]
    private var issued: Set<String> = []
    private var observers: [Int: @Sendable (TaskEvent) -> Void] = [:]
    private var nextObserver = 0
    private let echo: (@Sendable (String) -> Void)?
    private let pid: UInt32
    private let pstart: UInt64

    /// `echo` receives every log line as it is written (the CLIs print task output this way).
    public init(directory: String, node: String, echo: (@Sendable (String) -> Void)? = nil) throws(TaskError) {
        self.node = node
        self.store = try TaskStore(directory: directory)
        self.echo = echo
        self.pid = UInt32(getpid())
        self.pstart = ProcessInfoReader.startTime(pid: getpid()) ?? 0
    }

    /// Marks tasks whose process is gone (a daemon restart, a killed CLI) as stopped with an error, so
    /// they never vanish and never show as running forever. Returns how many were recovered.
    @discardableResult
    public func recoverOrphans(now: Int64 = Int64(time(nil))) -> Int {
        store.withLock {
            var keep: [UPID] = []
            var recovered = 0
            for upid in store.readActive() {
                if ProcessInfoReader.isAlive(pid: Int32(upid.pid), pstart: upid.pstart) && !(upid.pid == pid && upid.pstart == pstart) {
                    keep.append(upid)
                    continue
                }
                if upid.pid == pid && upid.pstart == pstart && lock.locked({ running[upid] != nil }) {
                    keep.append(upid)
                    continue
                }
                let exit = TaskExit.error("unexpected status: the worker's process ended before the task finished")
                if let log = try? TaskLog(path: store.logPath(upid), upid: upid, echo: nil) { log.log(exit.logLine) }
                store.appendIndex(TaskRecord(upid: upid, endtime: now, exit: exit))
                recovered += 1
            }
            store.writeActive(keep)
            return recovered
        }
    }

    /// Starts a worker and returns its UPID immediately.
    @discardableResult
    public func start(
        type: String, id: String = "", user: String, work: @escaping @Sendable (TaskLog) async throws -> Void
    ) throws(TaskError) -> UPID {
        guard !type.contains(":"), !id.contains(":"), !user.contains(":") else {
            throw TaskError(.invalidUPID, "task type, id and user may not contain ':'")
        }
        let upid = lock.locked { () -> UPID in
            var start = Int64(time(nil))
            while true {
                let candidate = UPID(node: node, pid: pid, pstart: pstart, starttime: start, type: type, id: id, user: user)
                // Two tasks of the same kind in one second would share a UPID; the later one starts a second on.
                if issued.insert(candidate.description).inserted { return candidate }
                start += 1
            }
        }
        let log = try TaskLog(path: store.logPath(upid), upid: upid, echo: echo)
        store.withLock { store.writeActive(store.readActive() + [upid]) }
        // observers hear of the start before the worker can finish, and the worker is registered
        // before its own finish (which takes the same lock) can look for it
        notify(.started(upid))
        lock.locked {
            // workers call qemu-img, libvirt and liblxc between their awaits: they run on the blocking executor
            running[upid] = Task.detached(executorPreference: BlockingExecutor.shared) { [self] in
                var exit: TaskExit
                do {
                    try await work(log)
                    exit = log.warnings > 0 ? .warnings(log.warnings) : .ok
                } catch is CancellationError {
                    exit = .error("received interrupt")
                } catch {
                    exit = .error("\(error)".replacingNewlines())
                }
                self.finish(upid, log: log, exit: exit)
            }
        }
        return upid
    }

    private func finish(_ upid: UPID, log: TaskLog, exit: TaskExit) {
        log.log(exit.logLine)
        let record = TaskRecord(upid: upid, endtime: Int64(time(nil)), exit: exit)
        store.withLock {
            store.writeActive(store.readActive().filter { $0 != upid })
            store.appendIndex(record)
        }
        let continuations = lock.locked { () -> [CheckedContinuation<TaskRecord, Never>] in
            running[upid] = nil
            return waiters.removeValue(forKey: upid) ?? []
        }
        for c in continuations { c.resume(returning: record) }
        notify(.finished(record))
    }

    /// Asks a running task to stop: its worker sees cancellation and ends with `TASK ERROR: received interrupt`.
    /// A task owned by another process of this node is sent SIGTERM, as PVE stops a worker. A task
    /// that has already ended is left as it is (as PVE); one that never existed is refused.
    public func stop(_ upid: UPID) throws(TaskError) {
        if let task = lock.locked({ running[upid] }) {
            task.cancel()
            return
        }
        guard store.withLock({ store.readActive().contains(upid) }) else {
            if readFile(store.logPath(upid)) != nil { return }
            throw TaskError(.notFound, "no such task '\(upid)'")
        }
        guard ProcessInfoReader.isAlive(pid: Int32(upid.pid), pstart: upid.pstart) else {
            recoverOrphans()
            return
        }
        kill(Int32(upid.pid), SIGTERM)
    }

    /// Waits until a task has finished and returns its record.
    public func wait(_ upid: UPID) async -> TaskRecord {
        if let record = try? status(upid), !record.isRunning { return record }
        return await withCheckedContinuation { continuation in
            let done: TaskRecord? = lock.locked {
                if running[upid] == nil, let record = try? status(upid), !record.isRunning { return record }
                waiters[upid, default: []].append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    /// The record of one task, running or finished.
    public func status(_ upid: UPID) throws(TaskError) -> TaskRecord {
        let (active, index) = store.withLock { (store.readActive(), store.readIndex()) }
        if active.contains(upid) { return TaskRecord(upid: upid) }
        if let record = index.last(where: { $0.upid == upid }) { return record }
        throw TaskError(.notFound, "no such task '\(upid)'")
    }

    /// Every known task, newest first: running ones (`active`) and finished ones (`archive`).
    public func list() -> (active: [TaskRecord], archive: [TaskRecord]) {
        let (active, index) = store.withLock { (store.readActive(), store.readIndex()) }
        let running = active.map { TaskRecord(upid: $0) }.sorted { $0.upid.starttime > $1.upid.starttime }
        let archive = index.sorted { ($0.upid.starttime, $0.endtime ?? 0) > ($1.upid.starttime, $1.endtime ?? 0) }
        return (running, archive)
    }

    /// Lines `start..<start+limit` of a task's log (numbered from 1, as PVE), and the total line count.
    public func readLog(_ upid: UPID, start: Int, limit: Int) throws(TaskError) -> (lines: [(n: Int, t: String)], total: Int) {
        guard let text = readFile(store.logPath(upid)) else { throw TaskError(.notFound, "no such task '\(upid)'") }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        let from = min(max(start, 0), lines.count)
        let to = limit <= 0 ? lines.count : min(from + limit, lines.count)
        return (lines[from..<to].enumerated().map { (n: from + $0.offset + 1, t: $0.element) }, lines.count)
    }

    /// Registers an observer of task events; returns a token for `removeObserver`.
    public func addObserver(_ observer: @escaping @Sendable (TaskEvent) -> Void) -> Int {
        lock.locked {
            nextObserver += 1
            observers[nextObserver] = observer
            return nextObserver
        }
    }

    public func removeObserver(_ token: Int) { lock.locked { _ = observers.removeValue(forKey: token) } }

    private func notify(_ event: TaskEvent) {
        for observer in lock.locked({ Array(observers.values) }) { observer(event) }
    }
}

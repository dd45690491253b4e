import Blocking
import Foundation
import Testing

@testable import Tasks

struct Boom: Error, CustomStringConvertible { var description: String { "boom happened" } }

@Suite struct TaskManagerTests {
    let directory = NSTemporaryDirectory() + "corral-tasks-\(UUID().uuidString)"

    func manager() throws -> TaskManager { try TaskManager(directory: directory, node: "t1") }

    func logText(_ manager: TaskManager, _ upid: UPID) throws -> [String] {
        try manager.readLog(upid, start: 0, limit: 0).lines.map(\.t)
    }

    @Test func okWarningsAndErrorsEndTheLog() async throws {
        let tasks = try manager()
        let ok = try tasks.start(type: "test", id: "1", user: "root@pam") { log in log.log("working\nstill working") }
        let warn = try tasks.start(type: "test", id: "2", user: "root@pam") { log in log.warn("careful") }
        let fail = try tasks.start(type: "test", id: "3", user: "root@pam") { _ in throw Boom() }
        #expect(await tasks.wait(ok).exit == .ok)
        #expect(await tasks.wait(warn).exit == .warnings(1))
        #expect(await tasks.wait(fail).exit == .error("boom happened"))
        #expect(try logText(tasks, ok) == ["working", "still working", "TASK OK"])
        #expect(try logText(tasks, warn).last == "TASK WARNINGS: 1")
        #expect(try logText(tasks, fail).last == "TASK ERROR: boom happened")
        let path = "\(directory)/\(ok.logSubdirectory)/\(ok)"
        #expect(FileManager.default.fileExists(atPath: path))
        let listed = tasks.list()
        #expect(listed.active.isEmpty)
        #expect(Set(listed.archive.map(\.upid)) == [ok, warn, fail])
    }

    /// A daemon runs tasks for months: a finished task keeps no descriptor of its log open.
    @Test func finishedTasksCloseTheirLogs() async throws {
        let tasks = try manager()
        func openLogs() -> Int {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
            return fds.filter { ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) ?? "").hasPrefix(directory) }
                .count
        }
        #expect(openLogs() == 0)
        for round in 0..<20 {
            let upid = try tasks.start(type: "fdtest", id: "\(round)", user: "root@pam") { log in log.log("round \(round)") }
            #expect(await tasks.wait(upid).exit == .ok)
        }
        // as the API starts them: from a handler on the blocking executor, with work handed to it
        // (its queue once kept each closure, and with it the log, until it was compacted)
        for round in 20..<40 {
            let upid = try await withTaskExecutorPreference(BlockingExecutor.shared) {
                try tasks.start(type: "fdtest", id: "\(round)", user: "root@pam") { log in
                    try await BlockingExecutor.shared.run { log.log("round \(round)") }
                }
            }
            #expect(await tasks.wait(upid).exit == .ok)
        }
        // the worker's last references go a moment after its record is out
        let deadline = Date().addingTimeInterval(5)
        while openLogs() > 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(openLogs() == 0)
    }

    @Test func runningTaskIsListedAndCanBeStopped() async throws {
        let tasks = try manager()
        let upid = try tasks.start(type: "sleep", user: "root@pam") { log in
            log.log("sleeping")
            try await Task.sleep(for: .seconds(30))
        }
        #expect(try tasks.status(upid).isRunning)
        #expect(tasks.list().active.map(\.upid) == [upid])
        try tasks.stop(upid)
        let record = await tasks.wait(upid)
        #expect(record.exit == .error("received interrupt"))
        #expect(try logText(tasks, upid).last == "TASK ERROR: received interrupt")
        // stopping an ended task changes nothing (as PVE); a task that never was is refused
        try tasks.stop(upid)
        #expect(try tasks.status(upid).exit == .error("received interrupt"))
        let never = UPID(node: upid.node, pid: upid.pid, pstart: upid.pstart, starttime: 1, type: "none", id: "", user: "root@pam")
        #expect(throws: TaskError.self) { try tasks.stop(never) }
    }

    @Test func sameSecondSameKindGetsDistinctUPIDs() throws {
        let tasks = try manager()
        let upids = try (0..<5).map { _ in try tasks.start(type: "same", id: "1", user: "root@pam") { _ in } }
        #expect(Set(upids.map(\.description)).count == 5)
    }

    @Test func orphanedTasksAreMarkedStoppedNotLost() async throws {
        let first = try manager()
        let dead = UPID(node: "t1", pid: 999_999, pstart: 1, starttime: 1_700_000_000, type: "qmstart", id: "100", user: "root@pam")
        try "\(dead)\n".write(toFile: "\(directory)/active", atomically: true, encoding: .utf8)
        try "starting\n".write(toFile: "\(directory)/\(dead.logSubdirectory)/\(dead)", atomically: true, encoding: .utf8)
        #expect(first.recoverOrphans() == 1)
        let record = try first.status(dead)
        #expect(!record.isRunning)
        if case .error(let message)? = record.exit { #expect(message.contains("unexpected status")) } else { Issue.record("no error status") }
        #expect(try logText(first, dead).last?.hasPrefix("TASK ERROR: unexpected status") == true)
        #expect(first.recoverOrphans() == 0)
    }

    @Test func logPagingNumbersFromOne() async throws {
        let tasks = try manager()
        let upid = try tasks.start(type: "lines", user: "root@pam") { log in for i in 1...10 { log.log("line \(i)") } }
        _ = await tasks.wait(upid)
        let page = try tasks.readLog(upid, start: 3, limit: 2)
        #expect(page.total == 11)
        #expect(page.lines.map(\.n) == [4, 5])
        #expect(page.lines.map(\.t) == ["line 4", "line 5"])
        #expect(throws: TaskError.self) {
            try tasks.readLog(UPID(node: "t1", pid: 1, pstart: 1, starttime: 1, type: "x", id: "", user: "u@pam"), start: 0, limit: 1)
        }
    }

    @Test func observersSeeStartAndFinish() async throws {
        let tasks = try manager()
        let seen = SeenEvents()
        let token = tasks.addObserver { seen.add($0) }
        let upid = try tasks.start(type: "observed", user: "root@pam") { _ in }
        _ = await tasks.wait(upid)
        try await Task.sleep(for: .milliseconds(50))
        tasks.removeObserver(token)
        let events = seen.all
        #expect(events.first == .started(upid))
        if case .finished(let record)? = events.last { #expect(record.exit == .ok) } else { Issue.record("no finish event") }
    }
}

final class SeenEvents: @unchecked Sendable {
    private var events: [TaskEvent] = []
    private let lock = NSLock()
    func add(_ e: TaskEvent) { lock.withLock { events.append(e) } }
    var all: [TaskEvent] { lock.withLock { events } }
}

import Foundation
import QEMU
import Synchronization
import Tasks

/// Runs the backup jobs of `jobs.cfg` when their schedule says, each for this node's guests (a job
/// with `node` runs only there), as `vzdump` tasks of `root@pam`. One per corrald process.
public final class BackupScheduler: Sendable {
    static let shared = Mutex<BackupScheduler?>(nil)

    let vzdump: VZDump
    let tasks: TaskManager
    /// When each job last ran here (JSON, id → seconds): what `repeat-missed` compares against
    /// after corrald was down.
    let stateFile: String?
    private let caughtUp = Mutex(false)
    private let timer = Mutex<TimerBox?>(nil)
    /// The minute each job last started in (a job added mid-minute still runs in it).
    private let lastRun = Mutex<[String: Int64]>([:])

    init(vzdump: VZDump, tasks: TaskManager, stateFile: String?) {
        self.vzdump = vzdump
        self.tasks = tasks
        self.stateFile = stateFile
    }

    static func start(vzdump: VZDump, tasks: TaskManager, stateFile: String?) {
        shared.withLock { current in
            guard current == nil else { return }
            let scheduler = BackupScheduler(vzdump: vzdump, tasks: tasks, stateFile: stateFile)
            let source = DispatchSource.makeTimerSource(queue: .global())
            source.schedule(deadline: .now() + 5, repeating: 15)
            source.setEventHandler { scheduler.tick(Date()) }
            let box = TimerBox(source)
            scheduler.timer.withLock { $0 = box }
            source.resume()
            current = scheduler
        }
    }

    static func stop() {
        shared.withLock { current in
            current?.timer.withLock { $0?.source.cancel() }
            current = nil
        }
    }

    /// The recorded last runs.
    func lastRuns() -> [String: Int64] {
        guard let stateFile, let data = FileManager.default.contents(atPath: stateFile),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        return object.compactMapValues { ($0 as? NSNumber)?.int64Value }
    }

    func record(_ id: String, at time: Date) {
        guard let stateFile else { return }
        var runs = lastRuns()
        runs[id] = Int64(time.timeIntervalSince1970)
        if let data = try? JSONSerialization.data(withJSONObject: runs, options: [.sortedKeys]) {
            try? data.write(to: URL(fileURLWithPath: stateFile), options: .atomic)
        }
    }

    /// Once after start: a job with `repeat-missed` whose scheduled time passed since its last run
    /// here (corrald was down) runs now; every job gets a last run to compare against from now on.
    func catchUp(_ now: Date, jobs: [BackupJobs.Section]) {
        let runs = lastRuns()
        for job in jobs {
            guard let last = runs[job.id] else {
                // a baseline before this minute: the job may still be due in it
                record(job.id, at: now.addingTimeInterval(-60))
                continue
            }
            guard job["repeat-missed"] == "1", let schedule = job["schedule"], let event = try? CalendarEvent(schedule),
                let next = event.next(after: Date(timeIntervalSince1970: TimeInterval(last))), next < now.addingTimeInterval(-60)
            else { continue }
            run(job, note: "missed its run at \(VZDump.stamp(next)) while corrald was down (repeat-missed)")
        }
    }

    /// Starts the jobs due in `now`'s minute, each once per minute.
    func tick(_ now: Date) {
        let minute = Int64(now.timeIntervalSince1970 / 60)
        let jobs = BackupJobs(fs: vzdump.vms.fs).jobs.filter { $0["enabled"] != "0" && ($0["node"] == nil || $0["node"] == vzdump.node) }
        let first = caughtUp.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        if first { catchUp(now, jobs: jobs) }
        for job in jobs {
            guard let schedule = job["schedule"], let event = try? CalendarEvent(schedule), event.matches(now) else { continue }
            // the recorded run counts too: a corrald restarted within the minute does not run it twice
            let recorded = (lastRuns()[job.id] ?? 0) / 60
            let due = lastRun.withLock { last -> Bool in
                guard max(last[job.id, default: 0], recorded) < minute else { return false }
                last[job.id] = minute
                return true
            }
            if due { run(job) }
        }
    }

    func run(_ job: BackupJobs.Section, note: String? = nil) {
        record(job.id, at: Date())
        var given: [String: String] = [:]
        for (key, value) in job.values { given[key] = value }
        let guests = vzdump.guests(
            vmids: (given["vmid"] ?? "").split(separator: ",").compactMap { Int($0) }, all: given["all"] == "1",
            exclude: Set((given["exclude"] ?? "").split(separator: ",").compactMap { Int($0) }), pool: given["pool"])
        guard !guests.isEmpty else { return }
        let options = vzdump.options(given)
        let line = "vzdump job '\(job.id)' (schedule '\(given["schedule"] ?? "")')" + (note.map { ", \($0)" } ?? "")
        let job = vzdump
        _ = try? tasks.start(type: "vzdump", id: guests.count == 1 ? "\(guests[0].vmid)" : "", user: "root@pam") { log in
            try await job.run(guests: guests, options: options, commandLine: line) { log.log($0) }
        }
    }
}

/// A dispatch timer held across threads (DispatchSource is thread-safe but not marked Sendable).
final class TimerBox: @unchecked Sendable {
    let source: any DispatchSourceTimer
    init(_ source: any DispatchSourceTimer) { self.source = source }
}

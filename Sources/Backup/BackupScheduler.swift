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
    private let timer = Mutex<TimerBox?>(nil)
    /// The minute each job last started in (a job added mid-minute still runs in it).
    private let lastRun = Mutex<[String: Int64]>([:])

    init(vzdump: VZDump, tasks: TaskManager) {
        self.vzdump = vzdump
        self.tasks = tasks
    }

    static func start(vzdump: VZDump, tasks: TaskManager) {
        shared.withLock { current in
            guard current == nil else { return }
            let scheduler = BackupScheduler(vzdump: vzdump, tasks: tasks)
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

    /// Starts the jobs due in `now`'s minute, each once per minute.
    func tick(_ now: Date) {
        let minute = Int64(now.timeIntervalSince1970 / 60)
        for job in BackupJobs(fs: vzdump.vms.fs).jobs where job["enabled"] != "0" {
            guard let schedule = job["schedule"], let event = try? CalendarEvent(schedule), event.matches(now) else { continue }
            if let node = job["node"], node != vzdump.node { continue }
            let due = lastRun.withLock { last -> Bool in
                guard last[job.id, default: 0] < minute else { return false }
                last[job.id] = minute
                return true
            }
            if due { run(job) }
        }
    }

    func run(_ job: BackupJobs.Section) {
        var given: [String: String] = [:]
        for (key, value) in job.values { given[key] = value }
        let guests = vzdump.guests(
            vmids: (given["vmid"] ?? "").split(separator: ",").compactMap { Int($0) }, all: given["all"] == "1",
            exclude: Set((given["exclude"] ?? "").split(separator: ",").compactMap { Int($0) }), pool: given["pool"])
        guard !guests.isEmpty else { return }
        let options = vzdump.options(given)
        let line = "vzdump job '\(job.id)' (schedule '\(given["schedule"] ?? "")')"
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

import Access
import Blocking
import ClusterFS
import Dispatch
import Foundation
import Synchronization
import Tasks

/// Runs the realm-sync jobs of `jobs.cfg` when their schedule says, on one node of the cluster:
/// every node looks each 15 s, and the first to take the job's cluster lock in a due minute records
/// its run in the job's state file; the others see that record and leave it. A sync needs no
/// particular node (it reads the directory and writes user.cfg), so whichever node is up runs it.
final class RealmSyncScheduler: Sendable {
    let jobs: RealmSyncJobs
    let access: AccessControl
    let tasks: TaskManager
    let node: String
    private let timer = Mutex<TimerBox?>(nil)

    init(jobs: RealmSyncJobs, access: AccessControl, tasks: TaskManager, node: String) {
        self.jobs = jobs
        self.access = access
        self.tasks = tasks
        self.node = node
    }

    func start() {
        timer.withLock { current in
            guard current == nil else { return }
            let source = DispatchSource.makeTimerSource(queue: .global())
            source.schedule(deadline: .now() + 5, repeating: 15)
            source.setEventHandler { [weak self] in self?.tick(Date()) }
            current = TimerBox(source)
            source.resume()
        }
    }

    func stop() {
        timer.withLock {
            $0?.source.cancel(); $0 = nil
        }
    }

    /// Starts the enabled jobs due in `now`'s minute that no node has run in it yet.
    func tick(_ now: Date) {
        let minute = Int64(now.timeIntervalSince1970) / 60
        for job in jobs.jobs where job["enabled"] != "0" {
            guard let schedule = job["schedule"], let event = try? CalendarEvent(schedule), event.matches(now) else { continue }
            // the lock and the record make the claim cluster-wide; a lock someone holds means they are claiming it
            _ = try? jobs.fs.withLock("realm-sync-\(job.id)", timeout: 0) {
                if let last = jobs.lastRun(job.id), last.time / 60 >= minute { return }
                let time = Int64(now.timeIntervalSince1970)
                do {
                    let upid = try run(job)
                    try jobs.record(job.id, .init(node: node, time: time, upid: upid))
                } catch {
                    try? jobs.record(job.id, .init(node: node, time: time, error: "\(error)"))
                }
            }
        }
    }

    /// Starts the job's sync as a task of root@pam (the job's creator was checked when it was saved).
    func run(_ job: BackupJobs.Section) throws -> String {
        guard let realm = job["realm"] else { throw AccessError(400, "job '\(job.id)' names no realm") }
        let options = try access.syncOptions(
            realm: realm, scope: job["scope"], removeVanished: job["remove-vanished"], enableNew: job["enable-new"].map { $0 == "1" },
            dryRun: false)
        let access = access
        let upid = try tasks.start(type: "auth-realm-sync", id: realm, user: "root@pam") { log in
            log.log("realm-sync job '\(job.id)' (schedule '\(job["schedule"] ?? "")')")
            try await BlockingExecutor.shared.run { try access.syncRealm(realm, options: options) { log.log($0) } }
        }
        return upid.description
    }
}

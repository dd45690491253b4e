import Access
import ClusterFS
import Foundation
import Tasks
import Testing

@testable import Backup

/// Realm-sync jobs run once per due minute in the whole cluster: two nodes' schedulers over one tree
/// (the replicated tree is one tree to both), each with its own task list.
@Suite struct RealmSyncSchedulerTests {
    @Test func oneNodeRunsADueJobOnce() async throws {
        let dir = NSTemporaryDirectory() + "corral-realm-jobs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fs = try ClusterFS(databasePath: dir + "/config.db", nodeName: "n1")
        let access = AccessControl(fs: fs)
        // nothing listens on port 1: the sync fails, which a run's task shows; the claim is what is tested
        try fs.write("domains.cfg", Array("ldap: corp\n\tbase_dn dc=x\n\tport 1\n\tserver1 127.0.0.1\n\tuser_attr uid\n".utf8))
        try fs.write(
            "jobs.cfg",
            Array(
                "vzdump: backup-1\n\tschedule 21:00\n\tall 1\n\nrealm-sync: nightly\n\trealm corp\n\tschedule 02:30\n\tscope both\n\tenabled 1\n\nrealm-sync: off\n\trealm corp\n\tschedule 02:30\n\tscope users\n\tenabled 0\n"
                    .utf8))
        let jobs = RealmSyncJobs(fs: fs)
        let tasks1 = try TaskManager(directory: dir + "/tasks1", node: "n1"), tasks2 = try TaskManager(directory: dir + "/tasks2", node: "n2")
        let n1 = RealmSyncScheduler(jobs: jobs, access: access, tasks: tasks1, node: "n1")
        let n2 = RealmSyncScheduler(jobs: jobs, access: access, tasks: tasks2, node: "n2")
        var parts = Calendar.current.dateComponents([.year, .month, .day], from: Date())
        parts.hour = 2
        parts.minute = 30
        parts.second = 5
        let due = try #require(Calendar.current.date(from: parts))

        n1.tick(due)
        n2.tick(due.addingTimeInterval(15))
        n1.tick(due.addingTimeInterval(30))
        let run = try #require(jobs.lastRun("nightly"))
        #expect(run.node == "n1" && run.time == Int64(due.timeIntervalSince1970))
        let upid = try #require(run.upid.flatMap(UPID.init))
        #expect(upid.type == "auth-realm-sync" && upid.id == "corp" && upid.user == "root@pam")
        let record = await tasks1.wait(upid)
        guard case .error(let message)? = record.exit else {
            Issue.record("the sync should fail against a closed port: \(String(describing: record.exit))")
            return
        }
        #expect(message.contains("ldap://127.0.0.1:1") && message.contains("contact"), "\(message)")
        // one task in the cluster; the disabled job and the backup job were not run by this scheduler
        #expect(tasks1.list().archive.count + tasks1.list().active.count == 1)
        #expect(tasks2.list().archive.isEmpty && tasks2.list().active.isEmpty)
        #expect(jobs.lastRun("off") == nil)
        // not due a minute later; due again the next day, on whichever node looks first
        n2.tick(due.addingTimeInterval(60))
        #expect(jobs.lastRun("nightly")?.time == Int64(due.timeIntervalSince1970))
        n2.tick(due.addingTimeInterval(86_400))
        #expect(jobs.lastRun("nightly")?.node == "n2")
        // the backup job's section is untouched by the state kept for realm-sync jobs
        #expect(try fs.readString("jobs.cfg").hasPrefix("vzdump: backup-1\n\tschedule 21:00\n\tall 1\n"))
    }
}

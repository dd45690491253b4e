import API
import ClusterFS
import Foundation

/// Realm-sync jobs: `realm-sync: <id>` sections of `jobs.cfg` (beside the backup jobs, whose
/// sections it keeps as they are), and each job's last run in `priv/jobs/realm-sync-<id>.json`
/// (`{"node", "time", "upid"}`), which is also how the nodes agree that one of them ran it.
public struct RealmSyncJobs: Sendable {
    public let fs: any ConfigTree
    static let type = "realm-sync"
    /// Written first (after `comment`), sorted; then the rest sorted, as PVE writes them.
    static let required = ["realm", "schedule", "scope"]
    static let optional = ["enable-new", "enabled", "remove-vanished"]

    public init(fs: any ConfigTree) { self.fs = fs }

    var file: BackupJobs { BackupJobs(fs: fs) }

    public var jobs: [BackupJobs.Section] { file.sections().filter { $0.type == Self.type } }

    public func job(_ id: String) -> BackupJobs.Section? { jobs.first { $0.id == id } }

    /// Changes jobs.cfg under the cluster lock `jobs`, keeping every other section.
    func modify(_ change: (inout [BackupJobs.Section]) throws -> Void) throws {
        try fs.withLock("jobs", timeout: 10) {
            var all = file.sections()
            try change(&all)
            try file.write(all)
        }
    }

    /// A job's section from its values, in PVE's order; `enabled` is always written (PVE's parser
    /// fills it in, so every rewrite of the file has it).
    static func section(_ id: String, _ values: [String: String]) -> BackupJobs.Section {
        var values = values
        if values["enabled"] == nil { values["enabled"] = "1" }
        var ordered: [(String, String)] = values["comment"].map { [("comment", $0)] } ?? []
        for key in required + optional { if let value = values[key] { ordered.append((key, value)) } }
        return BackupJobs.Section(type: type, id: id, values: ordered)
    }

    // MARK: last runs

    public struct Run: Sendable, Equatable {
        public var node: String
        public var time: Int64
        public var upid: String?
        public var error: String?
    }

    static func statePath(_ id: String) -> String { "priv/jobs/realm-sync-\(id).json" }

    public func lastRun(_ id: String) -> Run? {
        guard let data = try? fs.read(Self.statePath(id)),
            let object = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any],
            let node = object["node"] as? String, let time = (object["time"] as? NSNumber)?.int64Value
        else { return nil }
        return Run(node: node, time: time, upid: object["upid"] as? String, error: object["error"] as? String)
    }

    func record(_ id: String, _ run: Run) throws {
        if !fs.exists("priv/jobs") { try? fs.mkdir("priv/jobs") }
        var object: [String: Any] = ["node": run.node, "time": run.time]
        if let upid = run.upid { object["upid"] = upid }
        if let error = run.error { object["error"] = error }
        try fs.write(Self.statePath(id), Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])))
    }

    func forget(_ id: String) { try? fs.delete(Self.statePath(id)) }
}

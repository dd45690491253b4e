import API
import Access
import Foundation
import Schema
import Tasks

/// `/cluster/jobs/realm-sync`: scheduled realm syncs (PVE's realm-sync jobs), and their scheduler.
public struct RealmSyncDomain: Domain {
    let jobs: RealmSyncJobs
    let access: AccessControl
    let scheduler: RealmSyncScheduler

    public init(access: AccessControl, tasks: TaskManager, node: String) {
        jobs = RealmSyncJobs(fs: access.fs)
        self.access = access
        scheduler = RealmSyncScheduler(jobs: jobs, access: access, tasks: tasks, node: node)
    }

    public var name: String { "realm-sync" }
    public func start() throws { scheduler.start() }
    public func stop() async { scheduler.stop() }

    static let syncPermission = Permission.and([
        .privileges(path: "/access/realm/{realm}", ["Realm.AllocateUser"]), .privileges(path: "/access/groups", ["User.Modify"]),
    ])
    static let options = ["comment", "enable-new", "enabled", "remove-vanished", "schedule", "scope"]

    public var endpoints: [Endpoint] {
        let jobs = jobs, access = access
        return [
            Endpoint(
                pve: "GET /cluster/jobs/realm-sync", description: "The realm-sync jobs, with their last and next runs.",
                permission: .privileges(path: "/", ["Sys.Audit"]),
                handler: .blocking { _ in .array(jobs.jobs.map { Self.row($0, jobs) }) }),
            Endpoint(
                pve: "GET /cluster/jobs/realm-sync/{id}", description: "One realm-sync job.",
                permission: .privileges(path: "/", ["Sys.Audit"]),
                handler: .blocking { context in
                    let id = try context.require("id")
                    guard let job = jobs.job(id) else { throw APIError.parameters(["id": "No such job '\(id)'"]) }
                    var out: [String: JSON] = [:]
                    for (key, value) in job.values { out[key] = ["enabled", "enable-new"].contains(key) ? .int(Int64(value) ?? 0) : .string(value) }
                    return .object(out)
                }),
            Endpoint(
                pve: "POST /cluster/jobs/realm-sync/{id}", description: "Adds a realm-sync job.", returns: .null, permission: Self.syncPermission,
                handler: .blocking { context in
                    let id = try context.require("id")
                    guard let realm = context.string("realm") else {
                        throw APIError.parameters(["realm": "missing value for required option 'realm'"])
                    }
                    var values = try Self.values(context)
                    values["realm"] = realm
                    try Self.check(values, access)
                    try jobs.modify { all in
                        if all.contains(where: { $0.type == RealmSyncJobs.type && $0.id == id }) { throw APIError(500, "Job '\(id)' already exists") }
                        all.append(RealmSyncJobs.section(id, values))
                    }
                    return .null
                }),
            Endpoint(
                pve: "PUT /cluster/jobs/realm-sync/{id}", description: "Changes a realm-sync job (its realm stays).", returns: .null,
                permission: Self.syncPermission,
                handler: .blocking { context in
                    let id = try context.require("id")
                    let given = try Self.values(context)
                    let deleted = Formats.splitList(context.string("delete") ?? "")
                    guard !given.isEmpty || !deleted.isEmpty else { throw APIError(400, "no job options specified") }
                    for key in deleted where !RealmSyncJobs.optional.contains(key) && key != "comment" {
                        throw APIError.parameters(["delete": "'\(key)' cannot be deleted"])
                    }
                    try jobs.modify { all in
                        guard let i = all.firstIndex(where: { $0.type == RealmSyncJobs.type && $0.id == id }) else {
                            throw APIError(400, "no such realm-sync job")
                        }
                        var values: [String: String] = [:]
                        for (key, value) in all[i].values { values[key] = value }
                        // the job's realm is what the caller must be allowed to sync
                        if let realm = values["realm"], !context.has(["Realm.AllocateUser"], on: "/access/realm/\(realm)") {
                            throw APIError(403, "Permission check failed (/access/realm/\(realm), Realm.AllocateUser)")
                        }
                        for key in deleted { values[key] = nil }
                        values.merge(given) { $1 }
                        try Self.check(values, access)
                        all[i] = RealmSyncJobs.section(id, values)
                    }
                    return .null
                }),
            Endpoint(
                pve: "DELETE /cluster/jobs/realm-sync/{id}", description: "Removes a realm-sync job.", returns: .null,
                permission: .privileges(path: "/", ["Sys.Modify"]),
                handler: .blocking { context in
                    let id = try context.require("id")
                    try jobs.modify { all in
                        guard all.contains(where: { $0.type == RealmSyncJobs.type && $0.id == id }) else {
                            throw APIError.parameters(["id": "No such job '\(id)'"])
                        }
                        all.removeAll { $0.type == RealmSyncJobs.type && $0.id == id }
                    }
                    jobs.forget(id)
                    return .null
                }),
        ]
    }

    static func values(_ context: RequestContext) throws -> [String: String] {
        var out: [String: String] = [:]
        for key in options { if let value = context.parameters[key]?.plainText { out[key] = value } }
        for key in ["enabled", "enable-new"] { if let value = out[key] { out[key] = ["1", "true", "yes", "on"].contains(value) ? "1" : "0" } }
        if let schedule = out["schedule"] {
            do { _ = try CalendarEvent(schedule) } catch { throw APIError.parameters(["schedule": "\(error)"]) }
        }
        return out
    }

    /// A job must name an LDAP or AD realm, a schedule and a scope.
    static func check(_ values: [String: String], _ access: AccessControl) throws {
        var errors: [String: String] = [:]
        for key in RealmSyncJobs.required where (values[key] ?? "").isEmpty { errors[key] = "missing value for required option '\(key)'" }
        if let realm = values["realm"] {
            if let found = access.realms.first(where: { $0.id == realm }) {
                if found.type != "ldap" && found.type != "ad" { errors["realm"] = "Only LDAP/AD realms can be synced." }
            } else {
                errors["realm"] = "No such realm '\(realm)'"
            }
        }
        if !errors.isEmpty { throw APIError.parameters(errors) }
    }

    static func row(_ job: BackupJobs.Section, _ jobs: RealmSyncJobs) -> JSON {
        var out: [String: JSON] = ["id": .string(job.id), "enabled": .int(job["enabled"] == "0" ? 0 : 1)]
        for (key, value) in job.values where key != "enabled" {
            out[key] = key == "enable-new" ? .int(Int64(value) ?? 0) : .string(value)
        }
        let last = jobs.lastRun(job.id)
        if let last { out["last-run"] = .int(last.time) }
        let after = Date(timeIntervalSince1970: TimeInterval(last?.time ?? Int64(Date().timeIntervalSince1970)))
        if let schedule = job["schedule"], let event = try? CalendarEvent(schedule), let next = event.next(after: max(after, Date())) {
            out["next-run"] = .int(Int64(next.timeIntervalSince1970))
        }
        return .object(out)
    }
}

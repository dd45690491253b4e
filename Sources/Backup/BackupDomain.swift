import API
import Archive
import Blocking
import Containers
import Foundation
import Guests
import QEMU
import Schema
import Storage
import Tasks

/// `POST /nodes/{node}/vzdump` and its helpers (`vzdump/defaults`, `vzdump/extractconfig`).
public struct BackupDomain: Domain {
    public let vzdump: VZDump
    public let tasks: TaskManager
    /// Where the scheduler keeps each job's last run (for `repeat-missed`).
    public let jobStateFile: String?

    public init(vzdump: VZDump, tasks: TaskManager, jobStateFile: String? = nil) {
        self.vzdump = vzdump
        self.tasks = tasks
        self.jobStateFile = jobStateFile
    }

    public var name: String { "backup" }

    public func start() throws { BackupScheduler.start(vzdump: vzdump, tasks: tasks, stateFile: jobStateFile) }
    public func stop() async { BackupScheduler.stop() }

    public var endpoints: [Endpoint] {
        let job = vzdump
        return [
            Endpoint(
                pve: "POST /nodes/{node}/vzdump", description: "Back guests up (one after another) into PVE's archive formats.",
                returns: .string(), permission: .anyUser,
                handler: .blocking { context in
                    if context.bool("stdout") == true { throw APIError.parameters(["stdout": "writing to stdout is for the vzdump command line"]) }
                    let pool = context.string("pool")
                    if let pool, job.poolMembers(pool) == nil { throw APIError.parameters(["pool": "pool '\(pool)' does not exist"]) }
                    let vmids = Formats.splitList(context.string("vmid") ?? "").compactMap { Int($0) }
                    let all = context.bool("all") ?? false
                    guard all || !vmids.isEmpty || pool != nil else { throw APIError.parameters(["vmid": "give guests (vmid), a pool or all=1"]) }
                    let exclude = Set(Formats.splitList(context.string("exclude") ?? "").compactMap { Int($0) })
                    var given: [String: String] = [:]
                    for key in [
                        "mode", "compress", "zstd", "storage", "dumpdir", "remove", "prune-backups", "maxfiles", "notes-template", "protected",
                        "stopwait", "bwlimit", "exclude-path", "tmpdir",
                    ] {
                        // only what the caller gave: vzdump.conf fills the rest, then Corral's defaults
                        if let values = context.parameters[key]?.arrayValue {
                            given[key] = values.map(\.plainText).joined(separator: "\n")
                        } else if let value = context.parameters[key]?.plainText {
                            given[key] = value
                        }
                    }
                    for key in ["dumpdir", "tmpdir"] where given[key] != nil && context.user != "root@pam" {
                        throw APIError(403, "only root may set '\(key)'")
                    }
                    let options = job.options(given)
                    if let storage = options.storage, !context.has(["Datastore.AllocateSpace"], on: "/storage/\(storage)") {
                        throw APIError(403, "Permission check failed (/storage/\(storage), Datastore.AllocateSpace)")
                    }
                    let guests = job.guests(vmids: vmids, all: all, exclude: exclude, pool: pool)
                    for guest in guests where !context.has(["VM.Backup"], on: "/vms/\(guest.vmid)") {
                        throw APIError(403, "Permission check failed (/vms/\(guest.vmid), VM.Backup)")
                    }
                    if guests.isEmpty { return "OK" }
                    var line = "vzdump " + (all ? "" : vmids.map(String.init).joined(separator: " "))
                    for (key, value) in given.sorted(by: { $0.key < $1.key }) { line += " --\(key) \(value.contains(" ") ? "'\(value)'" : value)" }
                    if all { line += " --all 1" }
                    if let pool { line += " --pool \(pool)" }
                    let commandLine = line.replacingOccurrences(of: "  ", with: " ")
                    let upid = try context.services.tasks.start(
                        type: "vzdump", id: guests.count == 1 ? "\(guests[0].vmid)" : "", user: context.user
                    ) { log in
                        try await job.run(guests: guests, options: options, commandLine: commandLine) { log.log($0) }
                    }
                    return .string(upid.description)
                }),
            Endpoint(
                pve: "GET /cluster/backup", description: "The scheduled backup jobs (jobs.cfg), with their next run.",
                returns: .array(of: .object(["id": .string()], additionalProperties: true)), permission: .privileges(path: "/", ["Sys.Audit"]),
                childKey: "id",
                handler: .blocking { _ in .array(BackupJobs(fs: job.vms.fs).jobs.map(Self.json)) }),
            Endpoint(
                pve: "POST /cluster/backup", description: "Add a scheduled backup job.", returns: .null,
                permission: .privileges(path: "/", ["Sys.Modify"]),
                handler: .blocking { context in
                    let id = context.string("id") ?? "backup-" + UUID().uuidString.lowercased().prefix(13).replacingOccurrences(of: "-", with: "-")
                    try BackupJobs(fs: job.vms.fs).save(id, try Self.jobValues(context, base: [:]), create: true)
                    return .null
                }),
            .directory("/cluster/jobs", description: "Job helpers.", permission: .anyUser),
            Endpoint(
                pve: "GET /cluster/jobs/schedule-analyze", description: "The next times a schedule (calendar event) names.",
                returns: .array(of: .object(["timestamp": .integer(), "utc": .string()])), permission: .anyUser,
                handler: .sync { context in
                    let schedule = try context.require("schedule")
                    let event: CalendarEvent
                    do { event = try CalendarEvent(schedule) } catch { throw APIError.parameters(["schedule": "\(error)"]) }
                    var at = Date(timeIntervalSince1970: TimeInterval(context.int("starttime") ?? Int64(Date().timeIntervalSince1970)))
                    let f = DateFormatter()
                    f.locale = Locale(identifier: "en_US_POSIX")
                    f.timeZone = TimeZone(identifier: "UTC")
                    f.dateFormat = "yyyy-MM-dd HH:mm:ss"
                    var out: [JSON] = []
                    for _ in 0..<Int(context.int("iterations") ?? 10) {
                        guard let next = event.next(after: at) else { break }
                        out.append(["timestamp": .int(Int64(next.timeIntervalSince1970)), "utc": .string(f.string(from: next))])
                        at = next
                    }
                    return .array(out)
                }),
            Endpoint(
                pve: "GET /cluster/backup/{id}/included_volumes",
                description: "The guests a backup job covers, each with its volumes and whether the backup takes them.",
                returns: .object(["children": .array(of: .object([:], additionalProperties: true))]),
                permission: .privileges(path: "/", ["Sys.Audit"]),
                handler: .blocking { context in
                    let id = try context.require("id")
                    guard let found = BackupJobs(fs: job.vms.fs).job(id) else { throw APIError(500, "No such job '\(id)'") }
                    return ["children": .array(Self.covered(by: found, job).map { Self.inclusion($0, job) })]
                }),
            Endpoint(
                pve: "GET /cluster/backup-info/not-backed-up", description: "Guests no enabled backup job covers.",
                returns: .array(of: .object(["vmid": .integer(), "type": .string()], additionalProperties: true)),
                permission: .privileges(path: "/", ["Sys.Audit"]),
                handler: .blocking { context in
                    var covered = Set<Int>()
                    for found in BackupJobs(fs: job.vms.fs).jobs where found["enabled"] != "0" { covered.formUnion(Self.covered(by: found, job)) }
                    let all = Set(job.vms.vmids() + (job.cts?.vmids() ?? []))
                    return .array(
                        all.subtracting(covered).sorted().filter { context.has(["VM.Audit"], on: "/vms/\($0)") }.map { vmid in
                            let type = job.vms.owner(of: vmid)?.type ?? "qemu"
                            var item: [String: JSON] = ["vmid": .int(Int64(vmid)), "type": .string(type)]
                            let section = type == "lxc" ? try? job.cts?.load(vmid).config.current : try? job.vms.load(vmid).config.current
                            if let name = section?["name"] ?? section?["hostname"] { item["name"] = .string(name) }
                            return .object(item)
                        })
                }),
            Endpoint(
                pve: "GET /cluster/backup/{id}", description: "One backup job.", returns: .object(["id": .string()], additionalProperties: true),
                permission: .privileges(path: "/", ["Sys.Audit"]),
                handler: .blocking { context in
                    let id = try context.require("id")
                    guard let found = BackupJobs(fs: job.vms.fs).job(id) else { throw APIError(500, "No such job '\(id)'") }
                    return Self.json(found)
                }),
            Endpoint(
                pve: "PUT /cluster/backup/{id}", description: "Change a backup job (`delete` removes options).", returns: .null,
                permission: .privileges(path: "/", ["Sys.Modify"]),
                handler: .blocking { context in
                    let id = try context.require("id")
                    let jobs = BackupJobs(fs: job.vms.fs)
                    guard let found = jobs.job(id) else { throw APIError(500, "No such job '\(id)'") }
                    var base = Dictionary(found.values, uniquingKeysWith: { _, b in b })
                    for key in Formats.splitList(context.string("delete") ?? "") { base[key] = nil }
                    try jobs.save(id, try Self.jobValues(context, base: base), create: false)
                    return .null
                }),
            Endpoint(
                pve: "DELETE /cluster/backup/{id}", description: "Remove a backup job.", returns: .null,
                permission: .privileges(path: "/", ["Sys.Modify"]),
                handler: .blocking { context in
                    try BackupJobs(fs: job.vms.fs).delete(try context.require("id"))
                    return .null
                }),
            Endpoint(
                pve: "GET /nodes/{node}/vzdump/defaults", description: "This node's backup defaults (vzdump.conf) with PVE's built-in ones.",
                returns: .object([:], additionalProperties: true), permission: .anyUser,
                handler: .sync { context in
                    var out: [String: JSON] = ["mode": "snapshot", "storage": "local", "remove": 1, "stopwait": 10, "ionice": 7]
                    for (key, value) in job.defaults() { out[key] = Int64(value).map(JSON.int) ?? .string(value) }
                    if let storage = context.string("storage") { out["storage"] = .string(storage) }
                    return .object(out)
                }),
            Endpoint(
                pve: "GET /nodes/{node}/vzdump/extractconfig", description: "The guest config stored in a backup archive.",
                returns: .string(), permission: .anyUser,
                handler: .blocking { context in
                    let volume = try context.require("volume")
                    if let id = VolumeID(volume),
                        !context.has(["Datastore.Audit", "Datastore.AllocateSpace"], on: "/storage/\(id.storage)", any: true)
                    {
                        throw APIError(403, "Permission check failed (/storage/\(id.storage), Datastore.Audit)")
                    }
                    if volume.contains(".vma") || volume.contains(":backup/vm/") { return .string(try job.vms.archivedConfigText(volume)) }
                    guard let cts = job.cts else { throw APIError(500, "containers are not available on this node") }
                    return .string(try cts.archivedConfig(volume).serialized())
                }),
        ]
    }

    /// Every guest of the cluster a job covers: its IDs, its pool's members or all guests, less
    /// `exclude`, on its `node` only when it names one.
    static func covered(by found: BackupJobs.Section, _ job: VZDump) -> [Int] {
        let all = job.vms.vmids() + (job.cts?.vmids() ?? [])
        var ids = Set(found["all"] == "1" ? all : Formats.splitList(found["vmid"] ?? "").compactMap { Int($0) })
        if let pool = found["pool"] { ids.formUnion(job.poolMembers(pool) ?? []) }
        ids.subtract(Formats.splitList(found["exclude"] ?? "").compactMap { Int($0) })
        if let node = found["node"] { ids = ids.filter { job.vms.owner(of: $0)?.node == node } }
        return ids.sorted()
    }

    /// One guest of `included_volumes`: its volumes, taken or not, and why.
    static func inclusion(_ vmid: Int, _ job: VZDump) -> JSON {
        guard let owner = job.vms.owner(of: vmid) else { return ["id": .int(Int64(vmid)), "type": "unknown", "children": .array([])] }
        var item: [String: JSON] = ["id": .int(Int64(vmid)), "type": .string(owner.type)]
        var children: [JSON] = []
        if owner.type == "qemu" {
            if let name = (try? job.vms.load(vmid).config.current)?["name"] { item["name"] = .string(name) }
            for disk in job.vms.backupInclusion(vmid) {
                children.append(
                    ["id": .string(disk.key), "name": .string(disk.volume), "included": .bool(disk.included), "reason": .string(disk.reason)])
            }
        } else if let section = try? job.cts?.load(vmid).config.current {
            if let name = section["hostname"] { item["name"] = .string(name) }
            for key in section.values.keys.sorted() where key == "rootfs" || key.hasPrefix("mp") {
                let volume = String((section[key] ?? "").split(separator: ",").first ?? "")
                children.append(
                    key == "rootfs"
                        ? ["id": .string(key), "name": .string(volume), "included": true, "reason": "rootfs"]
                        : ["id": .string(key), "name": .string(volume), "included": false, "reason": "mount points are not backed up yet"])
            }
        }
        item["children"] = .array(children)
        return .object(item)
    }

    /// The job's options from a call (on top of `base`): every given parameter but the path's and
    /// the edit's own, the schedule checked.
    static func jobValues(_ context: RequestContext, base: [String: String]) throws -> [String: String] {
        var values = base
        for (key, value) in context.parameters where !["id", "delete", "digest"].contains(key) { values[key] = value.plainText }
        guard let schedule = values["schedule"] else { throw APIError.parameters(["schedule": "property is missing and it is not optional"]) }
        do { _ = try CalendarEvent(schedule) } catch { throw APIError.parameters(["schedule": "\(error)"]) }
        if values["vmid"] == nil && values["all"] != "1" && values["pool"] == nil {
            throw APIError.parameters(["vmid": "give guests (vmid), all=1 or a pool"])
        }
        if values["enabled"] == nil { values["enabled"] = "1" }
        return values
    }

    static func json(_ job: BackupJobs.Section) -> JSON {
        var out: [String: JSON] = ["id": .string(job.id), "type": "vzdump"]
        for (key, value) in job.values { out[key] = Int64(value).map(JSON.int) ?? .string(value) }
        if job["enabled"] != "0", let schedule = job["schedule"], let next = (try? CalendarEvent(schedule))?.next(after: Date()) {
            out["next-run"] = .int(Int64(next.timeIntervalSince1970))
        }
        return .object(out)
    }
}

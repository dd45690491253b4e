import API
import Schema
import Tasks

/// `/nodes/{node}/tasks…` and `/cluster/tasks`: listing, status, log and stopping of tasks.
public enum TaskEndpoints {
    static let upidParameter = Schema.string(description: "The task's unique ID (UPID).")

    public static func all(peerTasks: (@Sendable () -> [[String: JSON]])? = nil) -> [Endpoint] {
        let nodeAndUPID: [String: Schema] = ["node": .node, "upid": upidParameter]
        return [
            Endpoint(
                .GET, "/nodes/{node}/tasks", name: "node_tasks", description: "Read the node's task list, newest first.",
                parameters: [
                    "node": .node,
                    "start": Schema.integer(minimum: 0).defaulting(to: 0),
                    "limit": Schema.integer(minimum: 0).defaulting(to: 50),
                    "vmid": Schema.vmid.optional(),
                    "typefilter": Schema.string().optional(),
                    "userfilter": Schema.string().optional(),
                    "statusfilter": Schema.string(format: "pve-task-status-type-list").optional(),
                    "source": Schema.string(enum: ["archive", "active", "all"]).defaulting(to: "archive"),
                    "errors": Schema.boolean().defaulting(to: false),
                    "since": Schema.integer().optional(),
                    "until": Schema.integer().optional(),
                ],
                returns: .array(of: taskItemSchema), permission: .anyUser, proxyTo: "node", childKey: "upid",
                handler: .sync { context in try list(context) }),
            .directory("/nodes/{node}/tasks/{upid}", name: "upid_index", description: "Task index.", parameters: nodeAndUPID),
            Endpoint(
                .GET, "/nodes/{node}/tasks/{upid}/status", name: "read_task_status", description: "Read a task's status.",
                parameters: nodeAndUPID, returns: .object([:], additionalProperties: true), permission: .anyUser,
                protected: true, proxyTo: "node",
                handler: .sync { context in
                    let upid = try parse(context)
                    try checkVisible(context, upid)
                    let record = try context.services.tasks.status(upid)
                    var out = fields(of: upid)
                    out["status"] = record.isRunning ? "running" : "stopped"
                    if let exit = record.exit { out["exitstatus"] = .string(exit.statusText) }
                    if let end = record.endtime { out["endtime"] = JSON(end) }
                    return .object(out)
                }),
            Endpoint(
                .GET, "/nodes/{node}/tasks/{upid}/log", name: "read_task_log", description: "Read a task's log.",
                parameters: nodeAndUPID.merging([
                    "start": Schema.integer(minimum: 0).defaulting(to: 0),
                    "limit": Schema.integer(minimum: 0).defaulting(to: 50),
                    "download": Schema.boolean().optional(),
                ]) { a, _ in a },
                returns: .array(of: .object(["n": .integer(), "t": .string()])), permission: .anyUser, protected: true,
                proxyTo: "node",
                handler: .blocking { context in
                    let upid = try parse(context)
                    try checkVisible(context, upid)
                    let download = context.bool("download") ?? false
                    var (lines, total): ([(n: Int, t: String)], Int)
                    do {
                        (lines, total) = try context.services.tasks.readLog(
                            upid, start: download ? 0 : Int(context.int("start") ?? 0), limit: download ? 0 : Int(context.int("limit") ?? 50))
                    } catch let error as TaskError where error.kind == .notFound {
                        // a log that is not there is one line saying so, as PVE answers it (not an error)
                        (lines, total) = ([(1, "unable to open file - No such file or directory")], 1)
                    }
                    context.setAttribute("total", JSON(total))
                    if download { return .string(lines.map { $0.t + "\n" }.joined()) }
                    return .array(lines.map { ["n": JSON($0.n), "t": .string($0.t)] })
                }),
            Endpoint(
                .DELETE, "/nodes/{node}/tasks/{upid}", name: "stop_task", description: "Stop a running task.",
                parameters: nodeAndUPID, returns: .null, permission: .anyUser, protected: true, proxyTo: "node",
                handler: .blocking { context in
                    let upid = try parse(context)
                    guard owns(context.user, upid.user) || context.has(["Sys.Modify"], on: "/nodes/\(upid.node)") else {
                        throw APIError(403, "Permission check failed (/nodes/\(upid.node), Sys.Modify)")
                    }
                    try context.services.tasks.stop(upid)
                    return .null
                }),
            .directory("/cluster", description: "Cluster index."),
            Endpoint(
                .GET, "/cluster/tasks", name: "tasks", description: "Recent tasks of the cluster, newest first.",
                returns: .array(of: taskItemSchema), permission: .anyUser,
                handler: .sync { context in
                    let (active, archive) = context.services.tasks.list()
                    let seeAll = context.has(["Sys.Audit"], on: "/nodes/\(context.services.nodeName)")
                    var out = (active + archive.prefix(200)).filter { seeAll || owns(context.user, $0.upid.user) }.map(item)
                    // the other members' recent tasks, as they last published them
                    for row in peerTasks?() ?? [] {
                        guard let node = row["node"]?.stringValue, let user = row["user"]?.stringValue else { continue }
                        if context.has(["Sys.Audit"], on: "/nodes/\(node)") || owns(context.user, user) { out.append(.object(row)) }
                    }
                    // newest first across nodes, running ones on top (as PVE lists them)
                    return .array(
                        out.sorted { a, b in
                            let aRunning = a["endtime"] == nil, bRunning = b["endtime"] == nil
                            if aRunning != bRunning { return aRunning }
                            return (a["starttime"]?.intValue ?? 0) > (b["starttime"]?.intValue ?? 0)
                        })
                }),
        ]
    }

    static let taskItemSchema = Schema.object(
        [
            "upid": .string(), "node": .string(), "pid": .integer(), "pstart": .integer(), "starttime": .integer(),
            "type": .string(), "id": .string(), "user": .string(), "endtime": Schema.integer().optional(),
            "status": Schema.string().optional(),
        ])

    static func parse(_ context: RequestContext) throws -> UPID {
        let text = try context.require("upid")
        guard let upid = UPID(text) else { throw APIError(400, "unable to parse worker upid '\(text)'") }
        guard upid.node == context.services.nodeName else {
            throw APIError(400, "task '\(text)' belongs to node '\(upid.node)', not '\(context.services.nodeName)'")
        }
        return upid
    }

    static func fields(of upid: UPID) -> [String: JSON] {
        [
            "upid": .string(upid.description), "node": .string(upid.node), "pid": JSON(Int64(upid.pid)),
            "pstart": JSON(upid.pstart), "starttime": JSON(upid.starttime), "type": .string(upid.type),
            "id": .string(upid.id), "user": .string(upid.user),
        ]
    }

    /// This node's recent tasks as `/cluster/tasks` lists them (what the node publishes to the others).
    public static func recentItems(_ tasks: TaskManager, limit: Int = 50) -> [JSON] {
        let (active, archive) = tasks.list()
        return (active + archive.prefix(limit)).map(item)
    }

    static func item(_ record: TaskRecord) -> JSON {
        var out = fields(of: record.upid)
        if let end = record.endtime { out["endtime"] = JSON(end) }
        if let exit = record.exit { out["status"] = .string(exit.statusText) }
        return .object(out)
    }

    /// A task belongs to its user, and to that user's API tokens' tasks.
    static func owns(_ caller: String, _ taskUser: String) -> Bool {
        caller == taskUser || taskUser.hasPrefix(caller + "!")
    }

    /// Status and log of someone else's task need Sys.Audit on the node.
    static func checkVisible(_ context: RequestContext, _ upid: UPID) throws {
        guard owns(context.user, upid.user) || context.has(["Sys.Audit"], on: "/nodes/\(upid.node)") else {
            throw APIError(403, "Permission check failed (/nodes/\(upid.node), Sys.Audit)")
        }
    }

    static func list(_ context: RequestContext) throws -> JSON {
        let (active, archive) = context.services.tasks.list()
        let records: [TaskRecord]
        switch context.string("source") ?? "archive" {
        case "active": records = active
        case "all": records = active + archive
        default: records = archive
        }
        let vmid = context.int("vmid").map(String.init)
        let typeFilter = context.string("typefilter")
        let userFilter = context.string("userfilter")
        let since = context.int("since"), until = context.int("until")
        let onlyErrors = context.bool("errors") ?? false
        let statuses = context.string("statusfilter").map { Set(Formats.splitList($0)) }
        // as on PVE: everyone sees their own tasks; Sys.Audit on the node shows everyone's
        let seeAll = context.has(["Sys.Audit"], on: "/nodes/\(context.services.nodeName)")
        let filtered = records.filter { record in
            if !seeAll, !Self.owns(context.user, record.upid.user) { return false }
            if let vmid, record.upid.id != vmid { return false }
            if let typeFilter, !record.upid.type.contains(typeFilter) { return false }
            if let userFilter, !record.upid.user.contains(userFilter) { return false }
            if let since, record.upid.starttime < since { return false }
            if let until, record.upid.starttime > until { return false }
            if onlyErrors, !(record.exit.map { if case .error = $0 { true } else { false } } ?? false) { return false }
            if let statuses {
                let kind: String =
                    switch record.exit {
                    case .ok?: "ok"
                    case .warnings?: "warning"
                    case .error?: "error"
                    case nil: "unknown"
                    }
                if !statuses.contains(kind) { return false }
            }
            return true
        }
        let start = Int(context.int("start") ?? 0), limit = Int(context.int("limit") ?? 50)
        context.setAttribute("total", JSON(filtered.count))
        let page = filtered.dropFirst(start).prefix(limit == 0 ? Int.max : limit)
        return .array(page.map(item))
    }
}

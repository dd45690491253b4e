import API
import Nodes
import Schema
import Tasks

/// The API root, `/version`, and the event stream.
public struct CoreDomain: Domain {
    public init() {}
    public var name: String { "core" }
    public var endpoints: [Endpoint] { CoreEndpoints.all() }
}

enum CoreEndpoints {
    static func all() -> [Endpoint] {
        [
            .directory("/", key: "subdir", description: "Directory index."),
            Endpoint(
                .GET, "/version", name: "version", description: "API version details.",
                returns: .object(["version": .string(), "release": .string(), "repoid": .string()], additionalProperties: true),
                permission: .anyUser,
                handler: .sync { context in NodeEndpoints.versionInfo(context.services) }),
            Endpoint(
                .GET, "/events", name: "events",
                description:
                    "Stream of task events (started, finished) as server-sent events, or as WebSocket messages when the request upgrades. Beyond PVE: clients stop polling UPIDs.",
                returns: .string(), permission: .anyUser,
                handler: .stream { context, sink in
                    sink.send(event: "ready", data: ["node": .string(context.services.nodeName)])
                    let token = context.services.tasks.addObserver { event in
                        switch event {
                        case .started(let upid):
                            sink.send(event: "task-started", data: taskJSON(upid, nil))
                        case .finished(let record):
                            sink.send(event: "task-finished", data: taskJSON(record.upid, record))
                        }
                    }
                    let tasks = context.services.tasks
                    sink.onClose { tasks.removeObserver(token) }
                }),
        ]
    }

    static func taskJSON(_ upid: UPID, _ record: TaskRecord?) -> JSON {
        var out: [String: JSON] = [
            "upid": .string(upid.description), "node": .string(upid.node), "type": .string(upid.type),
            "id": .string(upid.id), "user": .string(upid.user), "starttime": JSON(upid.starttime),
        ]
        if let record, let exit = record.exit {
            out["status"] = .string(exit.statusText)
            if let end = record.endtime { out["endtime"] = JSON(end) }
        }
        return .object(out)
    }
}

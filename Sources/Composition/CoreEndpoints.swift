import API
import Nodes
import Schema
import Tasks

/// The API root, `/version`, and the event stream.
public struct CoreDomain: Domain {
    public let events: EventJournal
    public init(events: EventJournal) { self.events = events }
    public var name: String { "core" }
    public var endpoints: [Endpoint] { CoreEndpoints.all(events: events) }
}

enum CoreEndpoints {
    static func all(events: EventJournal) -> [Endpoint] {
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
                    "The cluster's changes as server-sent events, or as WebSocket messages when the request upgrades (beyond PVE: clients stop polling): resource (a row of /cluster/resources whose state or configuration changed), resource-removed, task-started and task-finished, each with an id. A client that reconnects with that id (the since parameter, or Last-Event-ID) is given what it missed; ready names the resume point, and resync tells a client whose point is lost to reload.",
                parameters: [
                    "since": .string(
                        pattern: "[0-9a-z]+-[0-9]+", maxLength: 64,
                        description: "Resume after this event id (as Last-Event-ID does)."
                    ).optional()
                ],
                returns: .string(), permission: .anyUser,
                handler: .stream { context, sink in
                    let since = context.string("since") ?? sink.lastEventID
                    let token = events.subscribe(since: since) { start, last in
                        var ready: [String: JSON] = ["node": .string(context.services.nodeName), "id": .string(last)]
                        switch start {
                        case .live: break
                        case .resumed(let missed): ready["missed"] = JSON(missed)
                        case .resync: ready["resync"] = 1
                        }
                        sink.send(event: "ready", data: .object(ready), id: last)
                    } _: { event in
                        guard visible(event.scope, context) else { return }
                        sink.send(event: event.name, data: event.data, id: events.id(event.sequence))
                    }
                    sink.onClose { events.unsubscribe(token) }
                }),
        ]
    }

    static func visible(_ scope: EventJournal.Scope, _ context: RequestContext) -> Bool {
        switch scope {
        case .everyone: return true
        case .privileges(let path, let privileges, let any): return context.has(privileges, on: path, any: any)
        case .task(let user, let node): return user == context.user || context.has(["Sys.Audit"], on: "/nodes/\(node)")
        }
    }

    /// Puts this node's tasks on the journal as they start and end.
    static func journal(tasks: TaskManager, into events: EventJournal) {
        _ = tasks.addObserver { event in
            switch event {
            case .started(let upid):
                events.append("task-started", taskJSON(upid, nil), scope: .task(user: upid.user, node: upid.node))
            case .finished(let record):
                events.append("task-finished", taskJSON(record.upid, record), scope: .task(user: record.upid.user, node: record.upid.node))
            }
        }
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

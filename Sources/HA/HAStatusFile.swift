import Schema

/// The managers' files in PVE's JSON shapes: `ha/manager_status` (master_node, node_status,
/// service_status, timestamp) and `nodes/<node>/lrm_status` (mode, state, results by uid,
/// timestamp). Fields PVE does not have (when nodes were last seen, the next uid, the running
/// services) ride along under names PVE's readers ignore.
public enum HAStatusFile {
    public static func encode(_ status: HAManagerStatus, now: Double) -> [UInt8] {
        var services: [String: JSON] = [:]
        for (sid, service) in status.services {
            var row: [String: JSON] = ["state": .string(service.state), "node": .string(service.node), "uid": .string(String(service.uid))]
            if let target = service.target { row["target"] = .string(target) }
            if !service.failedNodes.isEmpty { row["failed_nodes"] = .array(service.failedNodes.map { .string($0) }) }
            if service.restarts > 0 { row["restarts"] = .int(Int64(service.restarts)) }
            if service.relocations > 0 { row["relocations"] = .int(Int64(service.relocations)) }
            if let home = service.maintenanceNode { row["maintenance_node"] = .string(home) }
            services[sid] = .object(row)
        }
        var root: [String: JSON] = [
            "node_status": .object(status.nodes.mapValues { .string($0) }), "service_status": .object(services),
            "timestamp": .int(Int64(now)), "last_seen": .object(status.lastSeen.mapValues { .number($0) }),
            "next_uid": .int(Int64(status.nextUID)),
            "node_request": .object(
                Dictionary(uniqueKeysWithValues: status.maintenance.map { ($0, JSON.object(["maintenance": .int(1)])) })),
        ]
        if let master = status.master { root["master_node"] = .string(master) }
        return JSON.object(root).serialized()
    }

    /// The status and the time it was written; an empty status for a missing or unreadable file.
    public static func decode(_ bytes: [UInt8]?) -> (status: HAManagerStatus, timestamp: Double) {
        var status = HAManagerStatus()
        guard let bytes, let root = try? JSONParser.parse(bytes) else { return (status, 0) }
        status.master = root["master_node"]?.stringValue
        for (node, state) in root["node_status"]?.objectValue ?? [:] { status.nodes[node] = state.stringValue }
        for (node, seen) in root["last_seen"]?.objectValue ?? [:] { status.lastSeen[node] = seen.doubleValue }
        status.maintenance = Set((root["node_request"]?.objectValue ?? [:]).filter { $0.value["maintenance"]?.intValue == 1 }.keys)
        var highest = 0
        for (sid, row) in root["service_status"]?.objectValue ?? [:] {
            let uid = Int(row["uid"]?.plainText ?? "") ?? 0
            highest = max(highest, uid)
            var service = HAManagerStatus.Service(state: row["state"]?.stringValue ?? "started", node: row["node"]?.stringValue ?? "", uid: uid)
            service.target = row["target"]?.stringValue
            service.failedNodes = row["failed_nodes"]?.arrayValue?.compactMap(\.stringValue) ?? []
            service.restarts = Int(row["restarts"]?.intValue ?? 0)
            service.relocations = Int(row["relocations"]?.intValue ?? 0)
            service.maintenanceNode = row["maintenance_node"]?.stringValue
            status.services[sid] = service
        }
        status.nextUID = max(Int(root["next_uid"]?.intValue ?? 1), highest + 1)
        return (status, root["timestamp"]?.doubleValue ?? 0)
    }

    /// `state` is the LRM's own (wait_for_agent_lock, active, lost_agent_lock); `mode` is
    /// active or maintenance.
    public static func encode(_ report: HALRMStatus, state: String, now: Double) -> [UInt8] {
        var results: [String: JSON] = [:]
        for (sid, result) in report.results { results[String(result.uid)] = ["sid": .string(sid), "exit_code": .int(result.ok ? 0 : 1)] }
        return JSON.object([
            "mode": .string(report.mode), "state": .string(state), "results": .object(results), "timestamp": .int(Int64(now)),
            "running": .array(report.running.sorted().map { .string($0) }),
        ]).serialized()
    }

    public static func decodeLRM(_ bytes: [UInt8]?) -> (report: HALRMStatus, state: String, timestamp: Double)? {
        guard let bytes, let root = try? JSONParser.parse(bytes) else { return nil }
        var report = HALRMStatus()
        report.mode = root["mode"]?.stringValue ?? "active"
        for (uid, row) in root["results"]?.objectValue ?? [:] {
            guard let sid = row["sid"]?.stringValue, let uid = Int(uid) else { continue }
            report.results[sid] = (uid, row["exit_code"]?.intValue == 0)
        }
        report.running = Set(root["running"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        return (report, root["state"]?.stringValue ?? "unknown", root["timestamp"]?.doubleValue ?? 0)
    }

    /// One line of `ha/crm_commands`: `migrate ct:101 n2`, `relocate vm:100 n3`,
    /// `enable-node-maintenance n1`, `disable-node-maintenance n1`.
    public enum Command: Equatable, Sendable {
        case move(HAManager.Command)
        case maintenance(node: String, enable: Bool)

        public init?(line: String) {
            let words = line.split(separator: " ").map(String.init)
            switch (words.first, words.count) {
            case ("migrate", 3), ("relocate", 3): self = .move(HAManager.Command(sid: words[1], target: words[2], relocate: words[0] == "relocate"))
            case ("enable-node-maintenance", 2): self = .maintenance(node: words[1], enable: true)
            case ("disable-node-maintenance", 2): self = .maintenance(node: words[1], enable: false)
            default: return nil
            }
        }

        public var line: String {
            switch self {
            case .move(let c): "\(c.relocate ? "relocate" : "migrate") \(c.sid) \(c.target)"
            case .maintenance(let node, let enable): "\(enable ? "enable" : "disable")-node-maintenance \(node)"
            }
        }
    }

    public static func commands(_ text: String) -> [Command] { text.split(separator: "\n").compactMap { Command(line: String($0)) } }
}

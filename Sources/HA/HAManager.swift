/// The cluster resource manager's decisions, a pure function of what it can see: the resources'
/// configuration, which nodes are in the quorate membership, each node's local manager report,
/// and whether a lost node's agent lock can be taken (which is what makes it fenced). Only the
/// master (the holder of the manager lock) runs it; the simulator runs the very same function.
public enum HAManager {
    /// A migrate or relocate request (`crm-command`, `POST /cluster/ha/resources/{sid}/migrate`).
    public struct Command: Equatable, Sendable {
        public var sid: String
        public var target: String
        public var relocate: Bool

        public init(sid: String, target: String, relocate: Bool) {
            self.sid = sid
            self.target = target
            self.relocate = relocate
        }
    }

    /// Where a service may go: online nodes not in maintenance, its preferred ones first (highest
    /// priority), then next to the services it must be with (positive resource affinity), then by
    /// fewest services, then by name; a strict resource only to its listed nodes, and never next to
    /// a service it must be apart from (negative resource affinity).
    static func pick(
        _ resource: HAResource, online: Set<String>, avoid: Set<String>, load: [String: Int], placed: [String: String] = [:]
    ) -> String? {
        let apart = Set(resource.apart.compactMap { placed[$0] })
        let together = Set(resource.together.compactMap { placed[$0] })
        let candidates = online.subtracting(avoid).subtracting(apart).filter { !resource.strict || resource.nodes[$0] != nil }
        func key(_ node: String) -> (Int, Int, Int, String) {
            (-(resource.nodes[node] ?? -1), together.contains(node) ? 0 : 1, load[node] ?? 0, node)
        }
        return candidates.sorted { key($0) < key($1) }.first
    }

    /// One round. `fenced(node)` takes the node's agent lock when it has expired and says whether it
    /// did; it is only asked for nodes in `fence` state.
    public static func step(
        _ status: inout HAManagerStatus, now: Double, master: String, resources: [String: HAResource], nodes: [String], online: Set<String>,
        lrm: [String: HALRMStatus], commands: [Command] = [], fenced: (String) -> Bool
    ) -> [HAEvent] {
        var events: [HAEvent] = []
        func log(_ text: String) { events.append(HAEvent(time: now, text: text)) }
        func newUID() -> Int {
            defer { status.nextUID += 1 }
            return status.nextUID
        }
        if status.master != master {
            log("manager: '\(master)' is master")
            status.master = master
        }

        // nodes
        for node in nodes {
            let old = status.nodes[node] ?? "online"
            var new = old
            if online.contains(node) {
                status.lastSeen[node] = now
                // by command, or its local manager asks for it (the `migrate` shutdown policy)
                new = status.maintenance.contains(node) || lrm[node]?.mode == "maintenance" ? "maintenance" : "online"
            } else if old == "online" || old == "maintenance" {
                new = "unknown"
            }
            // frozen services (their node's manager stopped cleanly) are not fenced: they run on, unwatched
            if new == "unknown", status.services.values.contains(where: { $0.node == node && !["stopped", "error", "freeze"].contains($0.state) }) {
                new = "fence"
            }
            if new != old {
                log("node '\(node)': state changed from '\(old)' => '\(new)'")
                status.nodes[node] = new
            } else if status.nodes[node] == nil {
                status.nodes[node] = new
            }
            if new == "fence", fenced(node) {
                log("fencing: acknowledged - got agent lock for node '\(node)'")
                for (sid, service) in status.services where service.node == node && service.state != "stopped" {
                    var moved = service
                    moved.state = "recovery"
                    status.services[sid] = moved
                    log("service '\(sid)': state changed from '\(service.state)' to 'recovery'")
                }
                status.nodes[node] = "unknown"
                log("node '\(node)': state changed from 'fence' => 'unknown'")
            }
        }

        var load: [String: Int] = [:]
        for service in status.services.values where service.state != "stopped" { load[service.node, default: 0] += 1 }
        // where running services are, for resource affinity
        var placed: [String: String] = [:]
        for (sid, service) in status.services where !["stopped", "error"].contains(service.state) { placed[sid] = service.node }
        let usable = online.filter { status.nodes[$0] != "maintenance" }

        // services gone from the configuration are forgotten
        for sid in status.services.keys where resources[sid] == nil || resources[sid]?.state == "ignored" {
            status.services[sid] = nil
            log("service '\(sid)': removed from management")
        }

        for (sid, resource) in resources.sorted(by: { $0.key < $1.key }) where resource.state != "ignored" {
            guard var service = status.services[sid] else {
                // a guest starts out where its configuration is
                let node =
                    resource.home.flatMap { nodes.contains($0) ? $0 : nil } ?? pick(resource, online: usable, avoid: [], load: load, placed: placed)
                    ?? nodes.first ?? master
                status.services[sid] = HAManagerStatus.Service(state: resource.state == "started" ? "started" : "stopped", node: node, uid: newUID())
                load[node, default: 0] += 1
                if resource.state == "started" { placed[sid] = node }
                log("service '\(sid)': adding new service on node '\(node)'")
                continue
            }
            let before = service.state
            let nodeState = status.nodes[service.node] ?? "unknown"
            let report = lrm[service.node]?.results[sid]
            let answered = report?.uid == service.uid
            let wantsRunning = resource.state == "started"
            // the node's local manager is stopping for a while (corrald restarted, the host rebooting)
            let restarting = lrm[service.node]?.mode == "restart"

            switch service.state {
            case _ where ["started", "request_stop"].contains(service.state) && restarting && nodeState != "fence":
                service.state = "freeze"
            case "freeze":
                if online.contains(service.node), let mode = lrm[service.node]?.mode, mode != "restart" {
                    service.state = wantsRunning ? "started" : "request_stop"
                    service.uid = newUID()
                }
            case "started":
                if nodeState == "fence" {
                    service.state = "fence"
                } else if !wantsRunning {
                    service.state = "request_stop"
                    service.uid = newUID()
                } else if let command = commands.first(where: { $0.sid == sid }), command.target != service.node, usable.contains(command.target) {
                    service.state = command.relocate ? "relocate" : "migrate"
                    service.target = command.target
                    service.uid = newUID()
                } else if nodeState == "maintenance", let next = pick(resource, online: usable, avoid: [service.node], load: load, placed: placed) {
                    // maintenance empties the node; the service comes back when it ends
                    service.maintenanceNode = service.node
                    service.state = "migrate"
                    service.target = next
                    service.uid = newUID()
                } else if let home = service.maintenanceNode, home != service.node, status.nodes[home] == "online", usable.contains(home) {
                    service.maintenanceNode = nil
                    service.state = "migrate"
                    service.target = home
                    service.uid = newUID()
                } else if answered, report?.ok == false {
                    if service.restarts < resource.maxRestart {
                        service.restarts += 1
                        service.uid = newUID()
                        log("service '\(sid)': restart \(service.restarts) of \(resource.maxRestart) on node '\(service.node)'")
                    } else if service.relocations < resource.maxRelocate,
                        let next = pick(resource, online: usable, avoid: Set(service.failedNodes + [service.node]), load: load, placed: placed)
                    {
                        service.relocations += 1
                        service.failedNodes.append(service.node)
                        service.state = "relocate"
                        service.target = next
                        service.uid = newUID()
                    } else {
                        service.state = "error"
                        service.uid = newUID()
                    }
                } else if resource.failback, nodeState == "online",
                    let best = pick(resource, online: usable, avoid: Set(service.failedNodes), load: [:], placed: placed),
                    (resource.nodes[best] ?? -1) > (resource.nodes[service.node] ?? -1)
                {
                    service.state = "migrate"
                    service.target = best
                    service.uid = newUID()
                }
            case "request_stop":
                if nodeState == "fence" {
                    service.state = "fence"
                } else if !(lrm[service.node]?.running.contains(sid) ?? true) {
                    service.state = "stopped"
                }
            case "stopped":
                if wantsRunning {
                    if !usable.contains(service.node), let node = pick(resource, online: usable, avoid: [], load: load, placed: placed) {
                        service.node = node
                    }
                    if online.contains(service.node) {
                        service.state = "started"
                        service.restarts = 0
                        service.uid = newUID()
                    }
                }
            case "migrate", "relocate":
                if nodeState == "fence" {
                    service.state = "fence"
                    service.target = nil
                } else if answered {
                    if report?.ok == true, let target = service.target {
                        service.node = target
                        service.state = wantsRunning ? "started" : "stopped"
                    } else {
                        service.state = "started"
                    }
                    service.target = nil
                    service.uid = newUID()
                }
            case "fence":
                // the node came back before it was fenced: nobody else started it, it stays there
                if nodeState == "online" {
                    service.state = "started"
                    service.uid = newUID()
                }
            case "recovery":
                // any online node may take it, the fenced one too once it is back (its guests are stopped by then)
                if let node = pick(resource, online: usable, avoid: [], load: load, placed: placed) {
                    log("recover service '\(sid)' from fenced node '\(service.node)' to node '\(node)'")
                    service.node = node
                    service.state = wantsRunning ? "started" : "stopped"
                    service.uid = newUID()
                    load[node, default: 0] += 1
                    placed[sid] = node
                }
            case "error":
                if resource.state == "disabled" {
                    service.state = "stopped"
                    service.restarts = 0
                    service.relocations = 0
                    service.failedNodes = []
                }
            default: break
            }
            if service.state != before {
                log("service '\(sid)': state changed from '\(before)' to '\(service.state)'" + (service.target.map { " (target: \($0))" } ?? ""))
            }
            status.services[sid] = service
        }
        return events
    }
}

import ClusterFS
import Foundation
import Guests
import HA
import Schema

extension HAService {
    /// The configured resources, each with the node its guest's config is on now; nil when a file
    /// does not parse (the manager then waits rather than drop every service).
    func resources() -> [String: HAResource]? {
        let text = { (path: String) in (try? self.tree.readString(path)) ?? "" }
        guard var resources = try? HAConfig.resources(resources: text(Self.resourcesFile), groups: text(Self.groupsFile), rules: text(Self.rulesFile))
        else {
            log("HA: cannot parse the HA configuration; the manager waits")
            return nil
        }
        let owners = GuestStore(fs: tree, node: node, type: "lxc")
        for sid in resources.keys {
            if let (_, vmid) = HAGuestRuntime.parse(sid) { resources[sid]?.home = owners.owner(of: vmid)?.node }
        }
        return resources
    }

    /// Takes the commands queued in `ha/crm_commands` (and empties it).
    func takeCommands() -> [HAStatusFile.Command] {
        guard let text = try? tree.readString(Self.commandsFile), !text.isEmpty else { return [] }
        // under the lock the API appends with, so no command slips in between the read and the truncation
        let taken = try? tree.withLock(HAConfigStore.lock, timeout: 1) { () -> String in
            let current = (try? tree.readString(Self.commandsFile)) ?? ""
            try tree.write(Self.commandsFile, [])
            return current
        }
        return HAStatusFile.commands(taken ?? "")
    }

    /// The CRM's round on the master.
    func manage(now: Double) {
        guard let resources = resources() else { return }
        let (nodes, online) = membership()
        var status = HAStatusFile.decode(try? tree.read(Self.managerStatusFile)).status
        var moves: [HAManager.Command] = []
        for command in takeCommands() {
            switch command {
            case .move(let move): moves.append(move)
            case .maintenance(let name, let enable):
                if enable { status.maintenance.insert(name) } else { status.maintenance.remove(name) }
                log("HA: node '\(name)' \(enable ? "enters" : "leaves") maintenance")
            }
        }
        var reports: [String: HALRMStatus] = [:]
        for name in nodes where online.contains(name) {
            if let report = HAStatusFile.decodeLRM(try? tree.read(Self.lrmStatusFile(name)))?.report { reports[name] = report }
        }
        let before = status
        let tree = tree
        let events = HAManager.step(
            &status, now: now, master: node, resources: resources, nodes: nodes, online: online, lrm: reports, commands: moves
        ) { lost in (try? tree.tryLock(Self.agentLock(lost))) == true }
        for event in events { log("HA: \(event.text)") }
        relocateConfigs(before: before, after: &status)
        // when nodes were last seen changes every round; alone it is no reason to write
        var unchanged = status
        unchanged.lastSeen = [:]
        let stable = HAStatusFile.encode(unchanged, now: 0)
        publish(Self.managerStatusFile, HAStatusFile.encode(status, now: now), now: now, compare: stable)
    }

    /// A service the manager put on another node without its old node's help (recovered from a
    /// fenced node, or a stopped one placed elsewhere) needs its config there before that node's
    /// LRM can start it: the master moves it. A move that fails leaves the service where it was,
    /// to be tried again next round.
    func relocateConfigs(before: HAManagerStatus, after status: inout HAManagerStatus) {
        for (sid, service) in status.services {
            // a finished migration finds its config already there; recovery and re-placement do not
            guard let old = before.services[sid], old.node != service.node, let (type, vmid) = HAGuestRuntime.parse(sid)
            else { continue }
            let store = GuestStore(fs: tree, node: service.node, type: type)
            guard let owner = store.owner(of: vmid) else {
                log("HA: \(sid) has no config anywhere; it stays in '\(old.state)'")
                status.services[sid] = old
                continue
            }
            guard owner.node != service.node else { continue }
            let from = GuestStore(fs: tree, node: owner.node, type: type).configPath(vmid), to = store.configPath(vmid)
            do {
                try tree.rename(from, to: to)
                log("HA: moved the config of \(sid) from node '\(owner.node)' to node '\(service.node)'")
            } catch {
                log("HA: cannot move \(from) to \(to): \(error); \(sid) stays in '\(old.state)'")
                status.services[sid] = old
            }
        }
    }
}

import Foundation
import Guests
import HA
import Schema
import Storage
import Synchronization
import Tasks

/// The local manager's hands on this node's guests: starts, stops and moves run as tasks (PVE's
/// `qmstart`, `vzshutdown`, `vzmigrate` … by root@pam, so they show in the task list) and answer
/// `nil` until they end; the next round reads how they ended.
final class HAGuestRuntime: HALRM.Runtime, @unchecked Sendable {
    let node: String
    let guests: GuestBackends
    let tasks: TaskManager
    /// What kills a guest without asking its manager (`lxc-stop -k`, `virsh destroy`): the
    /// watchdog's commands, and the stop of a guest whose config has left this node.
    let fenceCommand: @Sendable (_ type: String, _ vmid: Int) -> [String]
    let log: @Sendable (String) -> Void
    /// sid → its task: the kind, and how it ended (nil while it runs) and when.
    let workers = Synchronization.Mutex<[String: (kind: String, ok: Bool?, ended: Double)]>([:])

    init(
        node: String, guests: GuestBackends, tasks: TaskManager, fenceCommand: @escaping @Sendable (String, Int) -> [String],
        log: @escaping @Sendable (String) -> Void
    ) {
        self.node = node
        self.guests = guests
        self.tasks = tasks
        self.fenceCommand = fenceCommand
        self.log = log
    }

    /// `vm:100` → (qemu, 100)
    static func parse(_ sid: String) -> (type: String, vmid: Int)? {
        let parts = sid.split(separator: ":")
        guard parts.count == 2, let vmid = Int(parts[1]) else { return nil }
        switch parts[0] {
        case "vm": return ("qemu", vmid)
        case "ct": return ("lxc", vmid)
        default: return nil
        }
    }

    func backend(_ sid: String) -> (backend: any GuestBackend, vmid: Int)? {
        guard let (type, vmid) = Self.parse(sid), let backend = guests[type] else { return nil }
        return (backend, vmid)
    }

    func isRunning(_ sid: String) -> Bool {
        guard let (backend, vmid) = backend(sid) else { return false }
        return backend.isRunning(vmid)
    }

    var busy: Set<String> { Set(workers.withLock { $0.filter { $0.value.ok == nil }.keys }) }

    /// The outcome of the sid's finished task of this kind (consumed), nil while one runs, or
    /// starts `work` as a task and answers nil.
    func run(_ sid: String, type kind: String, _ work: @escaping @Sendable (TaskLog) async throws -> Void) -> Bool? {
        let state: Bool?? = workers.withLock { workers in
            guard let entry = workers[sid] else { return .none }
            if entry.ok == nil { return .some(nil) }  // one task per guest at a time
            workers[sid] = nil
            return entry.kind == kind ? .some(entry.ok) : .none
        }
        if let state { return state }
        guard let (_, vmid) = backend(sid) else { return false }
        workers.withLock { $0[sid] = (kind, nil, 0) }
        do {
            try tasks.start(type: kind, id: "\(vmid)", user: "root@pam") { log in
                do {
                    try await work(log)
                    self.finish(sid, true)
                } catch {
                    self.finish(sid, false)
                    throw error
                }
            }
        } catch {
            workers.withLock { $0[sid] = nil }
            log("HA: cannot start a task for \(sid): \(error)")
            return false
        }
        return nil
    }

    func finish(_ sid: String, _ ok: Bool) {
        let now = Date().timeIntervalSince1970
        workers.withLock { $0[sid] = ($0[sid]?.kind ?? "", ok, now) }
    }

    /// An outcome not asked for within a round after it came is stale (the LRM moved on: the guest
    /// runs, or the manager changed its mind); a later request of the same kind must not get it.
    func sweep(roundStarted: Double) {
        workers.withLock { workers in workers = workers.filter { $0.value.ok == nil || $0.value.ended >= roundStarted } }
    }

    func start(_ sid: String) -> Bool? {
        guard let (backend, vmid) = backend(sid) else { return false }
        let qemu = backend.type == "qemu"
        return run(sid, type: qemu ? "qmstart" : "vzstart") { log in
            log.log("HA: starting \(sid)")
            try await backend.start(vmid, skiplock: false) { log.log($0) }
        }
    }

    func stop(_ sid: String, graceful: Bool) -> Bool? {
        guard let (backend, vmid) = backend(sid) else { return false }
        let qemu = backend.type == "qemu"
        guard backend.store.owner(of: vmid)?.node == node else {
            // its config went elsewhere (it was recovered there): this copy must not run
            let command = fenceCommand(backend.type, vmid)
            log("HA: \(sid) runs here but belongs to another node: \(command.joined(separator: " "))")
            return (try? Command.run(command)) != nil
        }
        if graceful {
            return run(sid, type: qemu ? "qmshutdown" : "vzshutdown") { log in
                try await backend.shutdown(vmid, timeout: 60, forceStop: true) { log.log($0) }
            }
        }
        return run(sid, type: qemu ? "qmstop" : "vzstop") { log in try await backend.stop(vmid, skiplock: true) { log.log($0) } }
    }

    func move(_ sid: String, to target: String) -> Bool? {
        guard let (backend, vmid) = backend(sid) else { return false }
        if backend.store.owner(of: vmid)?.node == target { return true }
        return run(sid, type: backend.type == "qemu" ? "qmigrate" : "vzmigrate") { log in
            if backend.isRunning(vmid) {
                log.log("HA: shutting down \(sid) to move it to node '\(target)'")
                try await backend.shutdown(vmid, timeout: 60, forceStop: true) { log.log($0) }
            }
            // the target's local manager starts it once the manager says so
            // volumes on local storage are not copied for HA: an HA guest belongs on shared storage
            try await backend.migrate(
                vmid, target: target, online: false, restart: false, timeout: 60,
                call: { _ in throw GuestError(500, "\(sid) has volumes on local storage: HA guests need shared storage") }
            ) { log.log($0) }
        }
    }

    /// The processes the watchdog kills: each running HA guest's main process.
    func pids(_ sids: [String]) -> [Int32] {
        sids.compactMap { sid in
            guard let (backend, vmid) = backend(sid), backend.isRunning(vmid),
                let pid = (try? backend.status(vmid, config: try? backend.load(vmid).config))?["pid"]?.intValue
            else { return nil }
            return Int32(pid)
        }
    }
}

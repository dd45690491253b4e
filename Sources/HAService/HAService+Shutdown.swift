import ClusterFS
import Foundation
import Guests
import HA
import Synchronization

/// corrald stopping for good on a node that runs HA guests: the local manager reports the mode the
/// shutdown policy picks and keeps its rounds going until the cluster manager has acted on it.
/// - `restart` (corrald restarted or upgraded, or the host rebooting under `freeze`/`conditional`):
///   the services freeze where they run; the watchdog is disarmed, the guests run on, and nobody
///   recovers them while the node is away. The node's return thaws them.
/// - `shutdown` (the host powering off under `failover`/`conditional`): the guests are shut down
///   and the agent lock given up, so the master fences the node at once and recovers them
///   elsewhere (no lease to wait out).
/// - `maintenance` (`migrate`): the services move to other nodes first (at most 10 minutes).
/// In every mode a node that was master gives the manager lock up, so another takes over at once.
extension HAService {
    public func shutdown() async {
        stop()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async {
                self.leave()
                done.resume()
            }
        }
    }

    func leave() {
        let status = HAStatusFile.decode(try? tree.read(Self.managerStatusFile)).status
        let mine = status.services.filter { $0.value.node == node && !["stopped", "error", "freeze"].contains($0.value.state) }
        guard !mine.isEmpty || watchdog.isArmed else { return }
        guard quorate() else {
            log("HA: corrald stops without quorum: the watchdog stays armed")
            return
        }
        let policy = HAShutdownPolicy.from(datacenterConfig: (try? tree.readString("datacenter.cfg")) ?? "")
        let host = Self.hostShutdown()
        let mode = policy.mode(hostGoingDown: host.goingDown, rebooting: host.rebooting)
        let why = host.goingDown ? (host.rebooting ? "the host reboots" : "the host shuts down") : "corrald stops"
        log("HA: \(why); shutdown policy '\(policy.rawValue)': the local manager goes into mode '\(mode)'")
        shutdownMode.withLock { $0 = mode }
        let deadline = Date().addingTimeInterval(mode == "maintenance" ? 600 : 30)
        var settled = false
        while !settled && Date() < deadline {
            tick()
            let now = HAStatusFile.decode(try? tree.read(Self.managerStatusFile)).status
            let here = now.services.filter { $0.value.node == node }
            switch mode {
            case "restart": settled = here.values.allSatisfy { ["freeze", "stopped", "error"].contains($0.state) }
            case "maintenance": settled = here.values.allSatisfy { ["stopped", "error"].contains($0.state) }
            default: settled = true
            }
            if !settled { Thread.sleep(forTimeInterval: timing.tick) }
        }
        if !settled { log("HA: the cluster manager did not act on mode '\(mode)' in time") }
        if mode == "shutdown" {
            for sid in mine.keys.sorted() {
                guard let (type, vmid) = HAGuestRuntime.parse(sid), let backend = runtime.guests[type], backend.isRunning(vmid) else { continue }
                log("HA: shutting down \(sid) before the node goes")
                let done = DispatchSemaphore(value: 0)
                Task {
                    try? await backend.shutdown(vmid, timeout: 60, forceStop: true) { _ in }
                    done.signal()
                }
                _ = done.wait(timeout: .now() + 90)
            }
            giveUp(Self.agentLock(node))
        }
        // the master's role goes on at once, not after the lease
        if renewals.withLock({ $0[Self.managerLock] }) != nil { giveUp(Self.managerLock) }
        watchdog.disarm()
        log("HA: the local manager stopped (mode '\(mode)')")
    }

    /// Releases a lock this node holds, and forgets having renewed it.
    private func giveUp(_ lock: String) {
        tree.unlock(lock)
        renewals.withLock { $0[lock] = nil }
        saveRenewals()
    }

    /// Whether systemd is taking the host down, and whether to reboot (no systemd: corrald alone stops).
    static func hostShutdown() -> (goingDown: Bool, rebooting: Bool) {
        guard FileManager.default.fileExists(atPath: "/run/systemd/system") else { return (false, false) }
        // is-system-running exits non-zero for every state but `running`: its output is what counts
        guard output(["systemctl", "is-system-running"]).trimmingCharacters(in: .whitespacesAndNewlines) == "stopping" else { return (false, false) }
        let jobs = output(["systemctl", "list-jobs", "--no-legend"])
        return (true, jobs.contains("reboot.target") || jobs.contains("kexec.target"))
    }

    private static func output(_ arguments: [String]) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

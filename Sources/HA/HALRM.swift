/// A node's local resource manager: makes the node run what the manager status assigns to it, and
/// nothing else. Pure over the node's runtime (`Runtime`), so the simulator and the daemon share it.
public enum HALRM {
    /// What the LRM does to guests. Starting, stopping and moving take seconds on real nodes, so
    /// they answer `nil` while still under way and are asked again on the next round.
    public protocol Runtime {
        func isRunning(_ sid: String) -> Bool
        /// Starts; true when it runs, false when it failed, nil while under way.
        mutating func start(_ sid: String) -> Bool?
        /// Stops (a shutdown for `request_stop`, a hard stop otherwise).
        mutating func stop(_ sid: String, graceful: Bool) -> Bool?
        /// Stops it if it runs and hands its configuration to `target` (migrate, relocate).
        mutating func move(_ sid: String, to target: String) -> Bool?
    }

    /// One round on `node`, which holds its agent lock and is quorate.
    public static func step<R: Runtime>(node: String, status: HAManagerStatus, report: inout HALRMStatus, runtime: inout R) {
        for (sid, service) in status.services.sorted(by: { $0.key < $1.key }) {
            guard service.node == node else {
                // assigned elsewhere: never run it here
                if runtime.isRunning(sid) { _ = runtime.stop(sid, graceful: false) }
                continue
            }
            let handled = report.results[sid]?.uid == service.uid
            switch service.state {
            case "started":
                if !runtime.isRunning(sid) {
                    if !handled {
                        if let ok = runtime.start(sid) { report.results[sid] = (service.uid, ok) }
                    } else if report.results[sid]?.ok == true {
                        // it ran and died: the manager decides on a restart or a relocation
                        report.results[sid] = (service.uid, false)
                    }
                }
            case "request_stop":
                if runtime.isRunning(sid) { _ = runtime.stop(sid, graceful: true) }
            case "stopped", "error", "recovery", "fence":
                if runtime.isRunning(sid) { _ = runtime.stop(sid, graceful: false) }
            case "migrate", "relocate":
                if !handled, let target = service.target, let ok = runtime.move(sid, to: target) {
                    report.results[sid] = (service.uid, ok)
                }
            default: break
            }
        }
        report.running = Set(status.services.keys.filter { runtime.isRunning($0) })
    }
}

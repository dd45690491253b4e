/// A node's local resource manager: makes the node run what the manager status assigns to it, and
/// nothing else. Pure over the node's runtime (`Runtime`), so the simulator and the daemon share it.
public enum HALRM {
    public protocol Runtime {
        func isRunning(_ sid: String) -> Bool
        /// Starts, stops; false when it failed.
        mutating func start(_ sid: String) -> Bool
        mutating func stop(_ sid: String) -> Bool
    }

    /// One round on `node`, which holds its agent lock and is quorate.
    public static func step<R: Runtime>(node: String, status: HAManagerStatus, report: inout HALRMStatus, runtime: inout R) {
        for (sid, service) in status.services.sorted(by: { $0.key < $1.key }) {
            guard service.node == node else {
                // assigned elsewhere: never run it here
                if runtime.isRunning(sid) { _ = runtime.stop(sid) }
                continue
            }
            let handled = report.results[sid]?.uid == service.uid
            switch service.state {
            case "started":
                if !runtime.isRunning(sid) {
                    if !handled {
                        report.results[sid] = (service.uid, runtime.start(sid))
                    } else if report.results[sid]?.ok == true {
                        // it ran and died: the manager decides on a restart or a relocation
                        report.results[sid] = (service.uid, false)
                    }
                }
            case "request_stop", "stopped", "error", "recovery", "fence":
                if runtime.isRunning(sid) { _ = runtime.stop(sid) }
            case "migrate", "relocate":
                if !handled {
                    let ok = runtime.isRunning(sid) ? runtime.stop(sid) : true
                    report.results[sid] = (service.uid, ok)
                }
            default: break
            }
        }
        report.running = Set(status.services.keys.filter { runtime.isRunning($0) })
    }
}

import API
import Blocking
import Foundation
import Schema
import Storage
import Synchronization
import Tasks

/// Changing the node's network: edits go to `interfaces.new` until applied (PVE's way); `PUT`
/// applies, `DELETE` reverts. Beyond PVE: `trial` applies with a deadline, and unless `confirm`
/// comes in time the previous file comes back and is applied again, so a change that cuts the
/// node off undoes itself.
extension NodeNetworkEndpoints {
    static func write(interfacesFile file: String, sysfs: String) -> [Endpoint] {
        let modify = Permission.privileges(path: "/nodes/{node}", ["Sys.Modify"])
        let pending = file + ".new"
        return [
            Endpoint(
                pve: "POST /nodes/{node}/network", description: "Adds an interface to the pending configuration.", permission: modify,
                handler: .blocking { context in
                    let name = try context.require("iface")
                    try edit(file, sysfs: sysfs) { config in
                        if config.stanzas[name] != nil {
                            throw APIError(400, "Parameter verification failed.", errors: ["iface": "interface already exists"])
                        }
                        let (families, autostart) = try stanza(context, current: [], config: config, sysfs: sysfs)
                        config.set(name, families: families, autostart: autostart)
                    }
                    return .null
                }),
            Endpoint(
                pve: "PUT /nodes/{node}/network/{iface}", description: "Changes an interface in the pending configuration.", permission: modify,
                handler: .blocking { context in
                    let name = try context.require("iface")
                    try edit(file, sysfs: sysfs) { config in
                        let current = config.stanzas[name]
                        if current == nil && !FileManager.default.fileExists(atPath: "\(sysfs)/\(name)") {
                            throw APIError(500, "interface '\(name)' does not exist")
                        }
                        let (families, autostart) = try stanza(context, current: current ?? [], config: config, sysfs: sysfs)
                        config.set(name, families: families, autostart: autostart)
                    }
                    return .null
                }),
            Endpoint(
                pve: "DELETE /nodes/{node}/network/{iface}", description: "Removes an interface from the pending configuration.",
                permission: modify,
                handler: .blocking { context in
                    let name = try context.require("iface")
                    try edit(file, sysfs: sysfs) { config in
                        guard config.stanzas[name] != nil else { throw APIError(500, "interface '\(name)' does not exist") }
                        config.remove(name)
                    }
                    return .null
                }),
            Endpoint(
                pve: "PUT /nodes/{node}/network", description: "Applies the pending configuration (a task).", returns: .string(),
                permission: modify,
                handler: .blocking { context in
                    .string(try startApply(context, file: file, sysfs: sysfs, trial: nil).description)
                }),
            Endpoint(
                pve: "DELETE /nodes/{node}/network", description: "Drops the pending configuration.", permission: modify,
                handler: .blocking { _ in
                    try? FileManager.default.removeItem(atPath: pending)
                    return .null
                }),
            Endpoint(
                .GET, "/nodes/{node}/network/changes", name: "changes",
                description: "Beyond PVE: the pending change as a unified diff, and when a trial apply rolls back unless confirmed.",
                parameters: ["node": .node], returns: .object(["diff": .string()], additionalProperties: true),
                permission: .privileges(path: "/nodes/{node}", ["Sys.Audit"]), proxyTo: "node",
                handler: .blocking { _ in
                    var out: [String: JSON] = ["diff": .string(diff(file, pending))]
                    if let deadline = NetworkTrial.shared.deadline { out["rollback-at"] = .int(Int64(deadline.timeIntervalSince1970)) }
                    return .object(out)
                }),
            Endpoint(
                .POST, "/nodes/{node}/network/trial", name: "trial",
                description:
                    "Beyond PVE: applies the pending configuration and rolls it back after `timeout` seconds unless `confirm` is called (a task).",
                parameters: [
                    "node": .node,
                    "timeout": Schema.integer(minimum: 5, maximum: 3600, description: "Seconds to wait for the confirmation.").defaulting(to: 60),
                ], returns: .string(), permission: modify, protected: true, proxyTo: "node",
                handler: .blocking { context in
                    .string(try startApply(context, file: file, sysfs: sysfs, trial: Int(context.int("timeout") ?? 60)).description)
                }),
            Endpoint(
                .POST, "/nodes/{node}/network/confirm", name: "confirm",
                description: "Beyond PVE: keeps the configuration a trial apply put in place.", parameters: ["node": .node],
                permission: modify, protected: true, proxyTo: "node",
                handler: .blocking { _ in
                    guard NetworkTrial.shared.confirm() else { throw APIError(500, "no trial apply is waiting for confirmation") }
                    return .null
                }),
        ]
    }

    /// Reads the pending configuration (or the current one), changes it, writes `interfaces.new`.
    static func edit(_ file: String, sysfs: String, _ change: (inout NetworkInterfaces) throws -> Void) throws {
        try editLock.withLock { _ in
            let pending = file + ".new"
            let text = (try? String(contentsOfFile: pending, encoding: .utf8)) ?? (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            var config = NetworkInterfaces.parse(text)
            try change(&config)
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try config.text.write(toFile: pending, atomically: true, encoding: .utf8)
        }
    }
    static let editLock = Mutex(())

    static func diff(_ file: String, _ pending: String) -> String {
        guard FileManager.default.fileExists(atPath: pending) else { return "" }
        let current = FileManager.default.fileExists(atPath: file) ? file : "/dev/null"
        return (try? Command.execute(["diff", "-u", current, pending]))?.stdout ?? ""
    }

    /// The task that puts `interfaces.new` in place and applies it; with `trial`, arms the rollback.
    static func startApply(_ context: RequestContext, file: String, sysfs: String, trial: Int?) throws -> UPID {
        let pending = file + ".new"
        guard FileManager.default.fileExists(atPath: pending) else { throw APIError(500, "no pending network changes to apply") }
        if trial != nil, NetworkTrial.shared.deadline != nil { throw APIError(500, "a trial apply is already waiting for confirmation") }
        // a plain apply on top of a trial keeps both: the trial's rollback would undo this one too
        if trial == nil { _ = NetworkTrial.shared.confirm() }
        return try context.services.tasks.start(type: "srvreload", id: "networking", user: context.user) { log in
            try await BlockingExecutor.shared.run {
                let oldText = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
                let newText = try String(contentsOfFile: pending, encoding: .utf8)
                let old = NetworkInterfaces.parse(oldText), new = NetworkInterfaces.parse(newText)
                try newText.write(toFile: file, atomically: true, encoding: .utf8)
                try? FileManager.default.removeItem(atPath: pending)
                do {
                    try NetworkApply.run(old: old, new: new, sysfs: sysfs) { log.log($0) }
                } catch {
                    // the kernel is half-way: put the old file back and apply it
                    log.log("apply failed, going back to the previous configuration: \(error)")
                    try? oldText.write(toFile: file, atomically: true, encoding: .utf8)
                    try? NetworkApply.run(old: new, new: old, sysfs: sysfs) { log.log($0) }
                    throw error
                }
                if let trial {
                    NetworkTrial.shared.arm(seconds: trial) {
                        try? oldText.write(toFile: file, atomically: true, encoding: .utf8)
                        try? NetworkApply.run(old: new, new: old, sysfs: sysfs) { _ in }
                    }
                    log.log("applied; rolls back in \(trial) s unless confirmed")
                }
            }
        }
    }
}

/// The one rollback a trial apply arms.
final class NetworkTrial: Sendable {
    static let shared = NetworkTrial()
    // the timer is only touched under the mutex
    private struct Armed: @unchecked Sendable {
        var deadline: Date
        var timer: any DispatchSourceTimer
    }
    private let armed = Mutex<Armed?>(nil)

    var deadline: Date? { armed.withLock { $0?.deadline } }

    func arm(seconds: Int, rollback: @escaping @Sendable () -> Void) {
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + .seconds(seconds))
        timer.setEventHandler { [self] in
            // only a trial still armed rolls back (a confirm may have raced the timer)
            guard
                armed.withLock({ state -> Bool in
                    defer { state = nil }
                    return state != nil
                })
            else { return }
            rollback()
        }
        armed.withLock { $0 = Armed(deadline: Date().addingTimeInterval(Double(seconds)), timer: timer) }
        timer.resume()
    }

    func confirm() -> Bool {
        armed.withLock { state in
            guard let current = state else { return false }
            current.timer.cancel()
            state = nil
            return true
        }
    }
}

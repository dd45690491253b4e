import API
import Foundation
import Schema
import Tasks

/// `POST /nodes/{node}/startall` and `…/stopall`, and the start of `onboot` guests once per boot.
public struct GuestBulkDomain: Domain {
    let guests: GuestBackends
    let tasks: TaskManager
    /// Where the boot this node last started its guests for is recorded.
    let bootMarker: String

    public init(guests: GuestBackends, tasks: TaskManager, runDirectory: String) {
        self.guests = guests
        self.tasks = tasks
        self.bootMarker = runDirectory + "/guests-started-boot"
    }

    public func start() throws { startOnBoot() }

    public var name: String { "guests" }

    static func vmids(_ context: RequestContext) -> Set<Int>? {
        guard let list = context.parameters["vms"]?.plainText else { return nil }
        return Set(Formats.splitList(list).compactMap { Int($0) })
    }

    public var endpoints: [Endpoint] {
        let guests = guests
        return [
            Endpoint(
                pve: "POST /nodes/{node}/startall",
                description: "Starts the node's guests marked onboot (all with force) in their startup order (a task).", returns: .string(),
                permission: .anyUser,
                handler: .blocking { context in
                    let only = Self.vmids(context), force = context.bool("force") ?? false
                    let upid = try context.services.tasks.start(type: "startall", user: context.user) { log in
                        let failed = await guests.startAll(only: only, force: force, allowed: { context.has(["VM.PowerMgmt"], on: "/vms/\($0)") }) {
                            log.log($0)
                        }
                        if !failed.isEmpty { throw APIError(500, "could not start \(failed.map(String.init).joined(separator: ", "))") }
                    }
                    return .string(upid.description)
                }),
            Endpoint(
                pve: "POST /nodes/{node}/stopall", description: "Shuts down the node's running guests in reverse startup order (a task).",
                returns: .string(), permission: .anyUser,
                handler: .blocking { context in
                    let only = Self.vmids(context)
                    let timeout = Int(context.int("timeout") ?? 180), forceStop = context.bool("force-stop") ?? true
                    let workers = Int(context.int("max-workers") ?? 4)
                    let upid = try context.services.tasks.start(type: "stopall", user: context.user) { log in
                        let left = await guests.stopAll(
                            only: only, timeout: timeout, forceStop: forceStop, workers: workers,
                            allowed: { context.has(["VM.PowerMgmt"], on: "/vms/\($0)") }
                        ) { log.log($0) }
                        if !left.isEmpty { throw APIError(500, "still running: \(left.map(String.init).joined(separator: ", "))") }
                    }
                    return .string(upid.description)
                }),
        ]
    }

    /// The first start of corrald since the machine booted starts the `onboot` guests (PVE's
    /// pve-guests service); later restarts of corrald do not.
    func startOnBoot() {
        let boot = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let recorded = (try? String(contentsOfFile: bootMarker, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !boot.isEmpty, recorded != boot else { return }
        try? FileManager.default.createDirectory(atPath: (bootMarker as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? (boot + "\n").write(toFile: bootMarker, atomically: true, encoding: .utf8)
        let guests = guests
        guard guests.bulkGuests().contains(where: { $0.onboot && !$0.template }) else { return }
        _ = try? tasks.start(type: "startall", user: "root@pam") { log in
            let failed = await guests.startAll(only: nil, force: false) { log.log($0) }
            if !failed.isEmpty { throw APIError(500, "could not start \(failed.map(String.init).joined(separator: ", "))") }
        }
    }
}

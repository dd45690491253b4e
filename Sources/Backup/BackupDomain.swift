import API
import Archive
import Blocking
import Containers
import Foundation
import Guests
import QEMU
import Schema
import Storage
import Tasks

/// `POST /nodes/{node}/vzdump` and its helpers (`vzdump/defaults`, `vzdump/extractconfig`).
public struct BackupDomain: Domain {
    public let vzdump: VZDump

    public init(vzdump: VZDump) { self.vzdump = vzdump }

    public var name: String { "backup" }

    public var endpoints: [Endpoint] {
        let job = vzdump
        return [
            Endpoint(
                pve: "POST /nodes/{node}/vzdump", description: "Back guests up (one after another) into PVE's archive formats.",
                returns: .string(), permission: .anyUser,
                handler: .blocking { context in
                    if context.bool("stdout") == true { throw APIError.parameters(["stdout": "writing to stdout is for the vzdump command line"]) }
                    if context.string("pool") != nil { throw APIError(501, "backing up a pool is not supported yet: name the guests") }
                    let vmids = Formats.splitList(context.string("vmid") ?? "").compactMap { Int($0) }
                    let all = context.bool("all") ?? false
                    guard all || !vmids.isEmpty else { throw APIError.parameters(["vmid": "give guests (vmid) or all=1"]) }
                    let exclude = Set(Formats.splitList(context.string("exclude") ?? "").compactMap { Int($0) })
                    var given: [String: String] = [:]
                    for key in [
                        "mode", "compress", "zstd", "storage", "dumpdir", "remove", "prune-backups", "maxfiles", "notes-template", "protected",
                        "stopwait",
                    ] {
                        // only what the caller gave: vzdump.conf fills the rest, then Corral's defaults
                        if let value = context.parameters[key]?.plainText { given[key] = value }
                    }
                    if given["dumpdir"] != nil && context.user != "root@pam" { throw APIError(403, "only root may set 'dumpdir'") }
                    let options = job.options(given)
                    if let storage = options.storage, !context.has(["Datastore.AllocateSpace"], on: "/storage/\(storage)") {
                        throw APIError(403, "Permission check failed (/storage/\(storage), Datastore.AllocateSpace)")
                    }
                    let guests = job.guests(vmids: vmids, all: all, exclude: exclude)
                    for guest in guests where !context.has(["VM.Backup"], on: "/vms/\(guest.vmid)") {
                        throw APIError(403, "Permission check failed (/vms/\(guest.vmid), VM.Backup)")
                    }
                    if guests.isEmpty { return "OK" }
                    var line = "vzdump " + (all ? "" : vmids.map(String.init).joined(separator: " "))
                    for (key, value) in given.sorted(by: { $0.key < $1.key }) { line += " --\(key) \(value.contains(" ") ? "'\(value)'" : value)" }
                    if all { line += " --all 1" }
                    let commandLine = line.replacingOccurrences(of: "  ", with: " ")
                    let upid = try context.services.tasks.start(
                        type: "vzdump", id: guests.count == 1 ? "\(guests[0].vmid)" : "", user: context.user
                    ) { log in
                        try await job.run(guests: guests, options: options, commandLine: commandLine) { log.log($0) }
                    }
                    return .string(upid.description)
                }),
            Endpoint(
                pve: "GET /nodes/{node}/vzdump/defaults", description: "This node's backup defaults (vzdump.conf) with PVE's built-in ones.",
                returns: .object([:], additionalProperties: true), permission: .anyUser,
                handler: .sync { context in
                    var out: [String: JSON] = ["mode": "snapshot", "storage": "local", "remove": 1, "stopwait": 10, "ionice": 7]
                    for (key, value) in job.defaults() { out[key] = Int64(value).map(JSON.int) ?? .string(value) }
                    if let storage = context.string("storage") { out["storage"] = .string(storage) }
                    return .object(out)
                }),
            Endpoint(
                pve: "GET /nodes/{node}/vzdump/extractconfig", description: "The guest config stored in a backup archive.",
                returns: .string(), permission: .anyUser,
                handler: .blocking { context in
                    let volume = try context.require("volume")
                    if let id = VolumeID(volume),
                        !context.has(["Datastore.Audit", "Datastore.AllocateSpace"], on: "/storage/\(id.storage)", any: true)
                    {
                        throw APIError(403, "Permission check failed (/storage/\(id.storage), Datastore.Audit)")
                    }
                    if volume.contains(".vma") { return .string(try job.vms.archivedConfigText(volume)) }
                    guard let cts = job.cts else { throw APIError(500, "containers are not available on this node") }
                    return .string(try cts.archivedConfig(volume).serialized())
                }),
        ]
    }
}

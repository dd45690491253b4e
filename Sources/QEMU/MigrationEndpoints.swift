import API
import Foundation
import Guests
import Schema
import Storage

/// The target node's half of a live migration (beyond PVE, which uses SSH for it): what the
/// source must know to run the domain here (its name, this node's paths), and the tunnels that
/// carry libvirt's control connection and QEMU's streams. The tunnels are root@pam's alone (they
/// reach libvirtd): the source node opens them as root, as PVE's nodes call each other over SSH.
enum MigrationEndpoints {
    static func all(manager m: VMManager) -> [Endpoint] {
        let base: [String: Schema] = ["node": .node, "vmid": .vmid]
        return [
            Endpoint(
                .GET, "/nodes/{node}/qemu/{vmid}/migrate-target", name: "migrate_target",
                description: "Where an incoming live migration runs the VM on this node: its domain name, paths and volume paths.",
                parameters: base.merging(["volumes": Schema.string(format: "string-list").optional()]) { a, _ in a },
                returns: .object(["domain": .string(), "run": .string(), "log": .string(), "paths": .object([:], additionalProperties: true)]),
                permission: .privileges(path: "/vms/{vmid}", ["VM.Migrate"]),
                handler: .blocking { context in
                    let vmid = try QemuEndpoints.vmid(context)
                    guard !m.isRunning(vmid) else { throw APIError(400, "VM \(vmid) already runs on this node") }
                    // the incoming QEMU binds its sockets and writes its serial log here
                    try m.prepareRunDirectory()
                    try FileManager.default.createDirectory(atPath: m.logDirectory, withIntermediateDirectories: true)
                    var paths: [String: JSON] = [:]
                    for volid in Formats.splitList(context.string("volumes") ?? "") {
                        paths[volid] = .string(try m.storage.path(volid))
                    }
                    return [
                        "domain": .string(m.domainName(vmid)), "run": .string(m.runDirectory), "log": .string(m.logDirectory),
                        "paths": .object(paths),
                    ]
                }),
            Endpoint(
                .GET, "/nodes/{node}/qemu/{vmid}/migrate-tunnel", name: "migrate_tunnel",
                description: "A WebSocket joined to this node's libvirtd ('libvirt') or to a loopback port an incoming QEMU listens on.",
                parameters: base.merging(["to": Schema.string(pattern: "libvirt|[1-9][0-9]{3,4}")]) { a, _ in a },
                returns: .null, permission: .rootOnly,
                handler: .tunnel { context in
                    let to = try context.require("to")
                    if to == "libvirt" {
                        guard let fd = try? ConsoleSessions.connect(m.libvirtSocket) else {
                            throw APIError(500, "libvirtd does not answer on \(m.libvirtSocket)")
                        }
                        return MigrationRelay.tunnel(into: fd)
                    }
                    guard let port = Int(to), (1024...65535).contains(port) else { throw APIError(400, "no such port: \(to)") }
                    return MigrationRelay.tunnel(into: try MigrationRelay.connectLoopback(port: port))
                }),
        ]
    }
}

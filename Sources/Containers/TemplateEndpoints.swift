import API
import Blocking
import Foundation
import Guests
import Schema
import Storage
import Tasks

/// `/nodes/{node}/aplinfo`: the templates this node can make (PVE's appliance index), and making one
/// into a storage's template cache as a task.
public enum TemplateEndpoints {
    public static func all(manager m: ContainerManager) -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /nodes/{node}/aplinfo", description: "Container templates this node can build into a storage.",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .anyUser,
                handler: .blocking { _ in
                    .array(
                        TemplateBuilder.entries.map { e in
                            [
                                "template": .string(e.template), "os": .string(e.os), "version": .string(e.version), "type": "lxc",
                                "section": "system", "package": .string(e.template.split(separator: "_").first.map(String.init) ?? e.os),
                                "headline": .string(e.headline), "source": .string(e.source), "architecture": "amd64",
                            ]
                        })
                }),
            Endpoint(
                pve: "POST /nodes/{node}/aplinfo", description: "Build a container template into a storage (a task).",
                returns: .string(), permission: .privileges(path: "/storage/{storage}", ["Datastore.AllocateTemplate"]),
                handler: .blocking { context in
                    let name = try context.require("template"), storageID = try context.require("storage")
                    guard let entry = TemplateBuilder.entries.first(where: { $0.template == name }) else {
                        throw APIError.parameters(["template": "no such template (see GET /nodes/{node}/aplinfo)"])
                    }
                    let plugin: any StoragePlugin
                    do { plugin = try m.storage.plugin(storageID) } catch { throw APIError.parameters(["storage": "\(error)"]) }
                    guard plugin.entry.content.contains("vztmpl") else {
                        throw APIError.parameters(["storage": "storage '\(storageID)' does not hold container templates"])
                    }
                    let path = try plugin.path("vztmpl/\(name)")
                    let directory = (path as NSString).deletingLastPathComponent
                    let upid = try context.services.tasks.start(type: "download", id: name, user: context.user) { log in
                        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                        let made = try await BlockingExecutor.shared.run { try TemplateBuilder.build(entry, into: directory) { log.log($0) } }
                        log.log(
                            "stored \(storageID):vztmpl/\(name) (\(DiskSize.text(Int64((try? FileManager.default.attributesOfItem(atPath: made))?[.size] as? Int ?? 0))))"
                        )
                    }
                    return .string(upid.description)
                }),
        ]
    }
}

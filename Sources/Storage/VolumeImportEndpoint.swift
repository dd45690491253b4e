import API
import Foundation
import Glibc
import Schema

/// The receiving end of a migration's volume copy (beyond PVE, whose migrations pipe `pvesm export`
/// into `pvesm import` over SSH): the exported stream arrives as a multipart upload, verified by the
/// cluster CA like every call between nodes, and is imported into this node's storage.
enum VolumeImportEndpoint {
    static func all(storage: Storage) -> [Endpoint] {
        [
            Endpoint(
                .POST, "/nodes/{node}/storage/{storage}/import-volume", name: "import_volume",
                description:
                    "Imports a guest volume from an export stream (`raw+size`, `qcow2+size`, …) sent as a multipart upload; the new volume ID.",
                parameters: [
                    "node": .node, "storage": .storageID, "vmid": .vmid,
                    "format": Schema.string(description: "The stream format (`pvesm export`'s)."),
                    "filename": Schema.string(description: "The volume name wanted; another is taken when it is in use.").optional(),
                    "tmpfilename": Schema.string(description: "Where the upload was spooled (set by the server).").optional(),
                    "into": Schema.string(
                        description:
                            "A directory volume of this storage an earlier `tar+size` stream made: the stream is the changes since (a pre-copy's delta)."
                    ).optional(),
                ], returns: .string(), permission: .privileges(path: "/storage/{storage}", ["Datastore.AllocateSpace"]), protected: true,
                proxyTo: "node",
                handler: .blocking { context in
                    let id = try context.require("storage")
                    let plugin = try storage.plugin(id)
                    guard let spooled = context.string("tmpfilename"), FileManager.default.fileExists(atPath: spooled) else {
                        throw APIError.parameters(["tmpfilename": "no stream was uploaded (send it as multipart/form-data)"])
                    }
                    let vmid = Int(context.int("vmid") ?? 0)
                    let wanted = context.string("filename")
                    let taken = wanted.flatMap { try? plugin.path($0) }.map { FileManager.default.fileExists(atPath: $0) } ?? true
                    let fd = open(spooled, O_RDONLY | O_CLOEXEC)
                    guard fd >= 0 else { throw APIError(500, "cannot read the upload: \(String(cString: strerror(errno)))") }
                    defer { close(fd) }
                    if let into = context.string("into") {
                        let name = into.hasPrefix(id + ":") ? String(into.dropFirst(id.count + 1)) : into
                        guard try context.require("format") == "tar+size", let target = try? plugin.path(name),
                            FileManager.default.fileExists(atPath: target)
                        else { throw APIError.parameters(["into": "'\(into)' is no directory volume of storage '\(id)'"]) }
                        _ = try VolumeStream.readSize(FileDescriptorStream(fd: fd))
                        try VolumeStream.importTree(from: FileDescriptorStream(fd: fd), to: target, incremental: true)
                        return .string("\(id):\(name)")
                    }
                    let made = try plugin.importVolume(
                        vmid: vmid, format: try context.require("format"), name: taken ? nil : wanted, from: FileDescriptorStream(fd: fd))
                    return .string("\(id):\(made)")
                })
        ]
    }
}

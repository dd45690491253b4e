import API
import Foundation
import Schema

/// `pvesm`: storages as words over `/storage` (the configuration) and `/nodes/{node}/storage…`
/// (status and content on this node).
public struct Pvesm {
    static let commands: [WordCommand] = [
        WordCommand(words: ["add"], verb: "create", path: "/storage", positionals: ["type", "storage"]),
        WordCommand(words: ["set"], verb: "set", path: "/storage/{storage}", positionals: ["storage"]),
        WordCommand(words: ["remove"], verb: "delete", path: "/storage/{storage}", positionals: ["storage"]),
        WordCommand(words: ["status"], verb: "get", path: "/nodes/{node}/storage", positionals: []),
        WordCommand(words: ["list"], verb: "get", path: "/nodes/{node}/storage/{storage}/content", positionals: ["storage"]),
        WordCommand(words: ["scan", "lvm"], verb: "get", path: "/nodes/{node}/scan/lvm", positionals: []),
        WordCommand(words: ["scan", "lvmthin"], verb: "get", path: "/nodes/{node}/scan/lvmthin", positionals: ["vg"]),
        WordCommand(words: ["scan", "zfs"], verb: "get", path: "/nodes/{node}/scan/zfs", positionals: []),
        WordCommand(words: ["scan", "nfs"], verb: "get", path: "/nodes/{node}/scan/nfs", positionals: ["server"]),
        WordCommand(
            words: ["alloc"], verb: "create", path: "/nodes/{node}/storage/{storage}/content", positionals: ["storage", "vmid", "filename", "size"]),
    ]

    let pvesh: Pvesh
    let node: String

    public init(pvesh: Pvesh, node: String) {
        self.pvesh = pvesh
        self.node = node
    }

    public func run(_ arguments: [String]) async -> Int32 {
        if arguments.first == "prune-backups" { return await pruneBackups(Array(arguments.dropFirst())) }
        // `free` and `path` name a volume (STORAGE:NAME), whose storage is part of the path
        if let word = arguments.first, word == "free" || word == "path" {
            guard arguments.count == 2, let colon = arguments[1].firstIndex(of: ":") else {
                FileHandle.standardError.write(Data("USAGE: pvesm \(word) <volume>   (STORAGE:NAME)\n".utf8))
                return 2
            }
            let volume = arguments[1], storage = String(volume[..<colon])
            let allowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))
            let path =
                "/nodes/\(node)/storage/\(storage.addingPercentEncoding(withAllowedCharacters: allowed) ?? storage)/content/"
                + (volume.addingPercentEncoding(withAllowedCharacters: allowed) ?? volume)
            let segments = path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
            let outcome = await pvesh.dispatcher.call(APICall(method: word == "free" ? "DELETE" : "GET", segments: segments))
            switch outcome.result {
            case .success(let data):
                if word == "path" { pvesh.write((data["path"]?.plainText ?? "") + "\n") }
                return 0
            case .failure(let error): return Pvesh.report(CLIError.failed("\(error.status) \(error.description)", code: 1))
            }
        }
        return await WordCommands(tool: "pvesm", commands: Self.commands, node: node).run(arguments, pvesh: pvesh)
    }

    /// `pvesm prune-backups STORAGE [--keep-last N] [--keep-daily N] … [--type qemu|lxc] [--vmid N] [--dry-run]`:
    /// the keep options make the `prune-backups` setting (the storage's own without them).
    func pruneBackups(_ arguments: [String]) async -> Int32 {
        guard let storage = arguments.first, !storage.hasPrefix("-") else {
            FileHandle.standardError.write(Data("USAGE: pvesm prune-backups STORAGE [--keep-last N] [--keep-daily N] ... [--dry-run]\n".utf8))
            return 2
        }
        var rest = Array(arguments.dropFirst()), keep: [String] = [], dryRun = false, passed: [String] = []
        while !rest.isEmpty {
            let option = rest.removeFirst()
            if option == "--dry-run" || option == "--dry-run=1" {
                dryRun = true
            } else if option.hasPrefix("--keep-"), let value = rest.first {
                keep.append("\(option.dropFirst(2))=\(value)")
                rest.removeFirst()
            } else {
                passed.append(option)
            }
        }
        if !keep.isEmpty { passed += ["--prune-backups", keep.joined(separator: ",")] }
        do {
            try await pvesh.call(dryRun ? "GET" : "DELETE", ["nodes", node, "storage", storage, "prunebackups"], passed)
            return 0
        } catch {
            return Pvesh.report(error)
        }
    }
}

import API
import ClusterFS
import Foundation
import Glibc
import Schema
import Storage

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
        WordCommand(words: ["scan", "iscsi"], verb: "get", path: "/nodes/{node}/scan/iscsi", positionals: ["portal"]),
        WordCommand(words: ["scan", "cifs"], verb: "get", path: "/nodes/{node}/scan/cifs", positionals: ["server"]),
        // deduplicating backup stores (beyond PVE)
        WordCommand(words: ["gc"], verb: "create", path: "/nodes/{node}/storage/{storage}/gc", positionals: ["storage"]),
        WordCommand(words: ["verify"], verb: "create", path: "/nodes/{node}/storage/{storage}/verify", positionals: ["storage"]),
        WordCommand(
            words: ["export-backup"], verb: "create", path: "/nodes/{node}/storage/{storage}/export-backup",
            positionals: ["storage", "volume", "target-storage"]),
        WordCommand(
            words: ["alloc"], verb: "create", path: "/nodes/{node}/storage/{storage}/content", positionals: ["storage", "vmid", "filename", "size"]),
    ]

    let pvesh: Pvesh
    let node: String
    /// The cluster tree as mounted (export and import work on this node's volumes directly).
    let tree: (any ConfigTree)?

    public init(pvesh: Pvesh, node: String, tree: (any ConfigTree)? = nil) {
        self.pvesh = pvesh
        self.node = node
        self.tree = tree
    }

    public func run(_ arguments: [String]) async -> Int32 {
        if arguments.first == "prune-backups" { return await pruneBackups(Array(arguments.dropFirst())) }
        if arguments.first == "export" || arguments.first == "import" { return transfer(arguments) }
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

    /// `pvesm export VOLUME FORMAT FILE` and `pvesm import VOLUME FORMAT FILE [--allow-rename 1]`: a
    /// volume as a stream (PVE's `raw+size`, `qcow2+size`, `vmdk+size`), `-` for standard output or
    /// input. Import prints the volume it made (another name with `--allow-rename` if the wanted one is taken).
    func transfer(_ arguments: [String]) -> Int32 {
        let word = arguments[0]
        var rest = Array(arguments.dropFirst()), allowRename = false
        var options: [String: String] = [:]
        while let index = rest.firstIndex(where: { $0.hasPrefix("--") }), index + 1 < rest.count {
            options[String(rest[index].dropFirst(2))] = rest[index + 1]
            rest.removeSubrange(index...(index + 1))
        }
        allowRename = options.removeValue(forKey: "allow-rename").map { $0 == "1" } ?? false
        for key in ["with-snapshots", "delete-snapshot"] where options[key] == "0" { options[key] = nil }
        guard rest.count == 3, let volume = VolumeID(rest[0]), let tree else {
            FileHandle.standardError.write(Data("USAGE: pvesm \(word) STORAGE:VOLUME FORMAT FILE|-\n".utf8))
            return 2
        }
        guard options.isEmpty else {
            FileHandle.standardError.write(
                Data("pvesm \(word): \(options.keys.sorted().joined(separator: ", ")) not supported (no snapshots in streams yet)\n".utf8))
            return 2
        }
        let (format, file) = (rest[1], rest[2])
        let storage = Storage(fs: tree, node: node)
        do {
            let plugin = try storage.plugin(volume.storage)
            if word == "export" {
                let fd = file == "-" ? 1 : open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw StorageError(500, "cannot write \(file): \(String(cString: strerror(errno)))") }
                defer { if fd != 1 { close(fd) } }
                try plugin.export(volume.name, format: format, to: FileDescriptorStream(fd: fd))
            } else {
                guard let owner = volume.ownerVMID else { throw StorageError(400, "'\(volume)' does not name a guest's volume (vm-VMID-…)") }
                let wanted = volume.name.split(separator: "/").last.map(String.init)
                let taken = (try? plugin.path(volume.name)).map { FileManager.default.fileExists(atPath: $0) } ?? false
                guard !taken || allowRename else {
                    throw StorageError(400, "volume '\(volume)' already exists (--allow-rename 1 takes another name)")
                }
                let fd = file == "-" ? 0 : open(file, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw StorageError(500, "cannot read \(file): \(String(cString: strerror(errno)))") }
                defer { if fd != 0 { close(fd) } }
                let made = try plugin.importVolume(vmid: owner, format: format, name: taken ? nil : wanted, from: FileDescriptorStream(fd: fd))
                pvesh.write("successfully imported '\(volume.storage):\(made)'\n")
            }
            return 0
        } catch {
            FileHandle.standardError.write(Data("pvesm \(word): \(error)\n".utf8))
            return 1
        }
    }
}

import API
import Access
import Archive
import Blocking
import ClusterFS
import Containers
import Foundation
import Guests
import QEMU
import Schema
import Storage

/// `vzdump`: backs guests up one after another into PVE's archives on a backup storage, each with
/// its `.log` (and `.notes`, `.protected`), pruning older ones when asked. A guest that fails does
/// not stop the others; the job fails at the end if any did.
public struct VZDump: Sendable {
    public let vms: VMManager
    public let cts: ContainerManager?
    public let node: String
    /// The node's defaults (`/etc/vzdump.conf` on a node that owns its machine).
    public let defaultsFile: String

    public init(vms: VMManager, cts: ContainerManager?, node: String, defaultsFile: String) {
        self.vms = vms
        self.cts = cts
        self.node = node
        self.defaultsFile = defaultsFile
    }

    var storage: Storage { vms.storage }

    /// `key: value` lines of vzdump.conf (comments and blank lines skipped).
    public func defaults() -> [String: String] {
        var out: [String: String] = [:]
        for line in ((try? String(contentsOfFile: defaultsFile, encoding: .utf8)) ?? "").split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            guard !text.hasPrefix("#"), let colon = text.firstIndex(of: ":") else { continue }
            out[String(text[..<colon]).trimmingCharacters(in: .whitespaces)] = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return out
    }

    public struct Options: Sendable {
        public var mode = "snapshot"
        public var compress: String?
        public var zstd: Int?
        public var storage: String?
        public var dumpdir: String?
        public var remove = true
        public var pruneBackups: String?
        public var notesTemplate: String?
        public var protected = false
        public var stopwait = 10
        /// KiB/s a guest's data is read at, at most (0: no limit).
        public var bwlimit = 0
        /// Container paths left out (tar patterns, PVE's `exclude-path`).
        public var excludePaths: [String] = []
        /// Where a container's suspend-mode copy is made (`tmpdir`; beside the archive otherwise).
        public var tmpdir: String?
    }

    /// The options of one job: the call's, else vzdump.conf's, else PVE's defaults.
    public func options(_ p: [String: String]) -> Options {
        let d = defaults()
        func value(_ key: String) -> String? { p[key] ?? d[key] }
        var o = Options()
        o.mode = value("mode") ?? "snapshot"
        o.compress = value("compress").flatMap { $0 == "0" ? nil : $0 }
        o.zstd = value("zstd").flatMap(Int.init)
        o.dumpdir = value("dumpdir")
        o.storage = value("storage") ?? (o.dumpdir == nil ? "local" : nil)
        o.remove = value("remove").map { $0 != "0" } ?? true
        o.pruneBackups = value("prune-backups") ?? value("maxfiles").map { "keep-last=\($0)" }
        o.notesTemplate = value("notes-template")
        o.protected = value("protected") == "1"
        o.stopwait = value("stopwait").flatMap(Int.init) ?? 10
        o.bwlimit = value("bwlimit").flatMap(Int.init) ?? 0
        // PVE takes a list; vzdump.conf spells it space separated, the API as repeated values joined by NUL or newline
        o.excludePaths = (value("exclude-path") ?? "").split(whereSeparator: { $0 == "\0" || $0 == "\n" || $0 == " " }).map(String.init)
        o.tmpdir = value("tmpdir")
        return o
    }

    /// Where backups go: a directory of archives, or a chunk store (a `dedup` storage).
    enum Destination {
        case directory(String)
        case store(ChunkStore, storage: String)
    }

    func destination(_ o: Options) throws -> Destination {
        if let dumpdir = o.dumpdir { return .directory(dumpdir) }
        let id = o.storage ?? "local"
        let plugin = try storage.plugin(id)
        guard plugin.entry.content.contains("backup") else { throw GuestError(400, "storage '\(id)' does not have content type 'backup'") }
        try plugin.activate()
        if let dedup = plugin as? DedupStorage { return .store(dedup.store, storage: id) }
        let dir = (try plugin.path("backup/x") as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return .directory(dir)
    }

    /// The members of a pool (user.cfg), in ID order.
    public func poolMembers(_ pool: String) -> [Int]? {
        guard let text = try? vms.fs.readString("user.cfg") else { return nil }
        return UserConfig.parse(text).pools[pool]?.vms.sorted()
    }

    /// The guests a job covers here: the given IDs, a pool's members, or all of this node's (less `exclude`).
    public func guests(vmids: [Int], all: Bool, exclude: Set<Int>, pool: String? = nil) -> [(vmid: Int, type: String)] {
        var ids = all ? (vms.vmids() + (cts?.vmids() ?? [])) : vmids
        if let pool {
            // a pool's guests on other nodes are theirs to back up
            ids += (poolMembers(pool) ?? []).filter { vms.owner(of: $0) != nil }
        }
        return Array(Set(ids)).sorted().filter { !exclude.contains($0) }.compactMap { vmid in
            guard let owner = vms.owner(of: vmid) else { return (vmid, "unknown") }
            return owner.node == node ? (vmid, owner.type) : nil
        }
    }

    static func stamp(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return f.string(from: date)
    }

    static func duration(_ seconds: Int) -> String { String(format: "%02d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60) }

    /// Runs a job over `guests`; `log` is the task log. Throws `job errors` if any guest failed.
    public func run(
        guests: [(vmid: Int, type: String)], options o: Options, commandLine: String, log: @escaping @Sendable (String) -> Void
    ) async throws {
        log("INFO: starting new backup job: \(commandLine)")
        let destination = try destination(o)
        var failed = 0
        for guest in guests {
            do { try await backup(guest.vmid, type: guest.type, options: o, destination: destination, log: log) } catch { failed += 1 }
        }
        if failed > 0 {
            log("INFO: Backup job finished with errors")
            throw GuestError(500, "job errors")
        }
        log("INFO: Backup job finished successfully")
    }

    /// Where one backup and its side files go.
    struct Target {
        /// The archive file, or the chunk store's backup as a volume ID (for the log).
        var archive: String
        var temporary: String
        var store: (ChunkStore, snapshot: String)?
        var logFile: String?
        var notesFile: String
        var protectedFile: String
    }

    /// One guest: its archive, log, notes and protection; prune after.
    func backup(_ vmid: Int, type: String, options o: Options, destination: Destination, log task: @escaping @Sendable (String) -> Void) async throws
    {
        let lines = LogLines()
        let log: @Sendable (String) -> Void = { message in
            for line in message.split(separator: "\n", omittingEmptySubsequences: false) {
                task("INFO: \(line)")
                lines.append("\(Self.stamp(Date())) INFO: \(line)")
            }
        }
        let started = Date()
        let kind = type == "lxc" ? "lxc" : "qemu"
        let target: Target
        switch destination {
        case .directory(let directory):
            let archive = directory + "/" + BackupArchiveName.make(type: kind, vmid: vmid, date: started, compress: o.compress)
            target = Target(
                archive: archive, temporary: BackupArchiveName.temporary(archive), store: nil, logFile: BackupArchiveName.logPath(archive),
                notesFile: archive + ".notes", protectedFile: archive + ".protected")
        case .store(let store, let id):
            let snapshot = ChunkStore.snapshotName(type: kind, vmid: vmid, time: Int64(started.timeIntervalSince1970))
            let dir = store.directory(snapshot)
            target = Target(
                archive: "\(id):backup/\(snapshot)", temporary: "", store: (store, snapshot), logFile: nil, notesFile: dir + "/notes",
                protectedFile: dir + "/protected")
        }
        log("Starting Backup of VM \(vmid) (\(kind))")
        task("INFO: Backup started at \(Self.stamp(started))")
        do {
            try await backupGuest(vmid, type: type, options: o, target: target, started: started, log: log)
            let seconds = Int(Date().timeIntervalSince(started))
            log("Finished Backup of VM \(vmid) (\(Self.duration(seconds)))")
            task("INFO: Backup finished at \(Self.stamp(Date()))")
            let logFile = target.logFile ?? target.store.map { $0.0.directory($0.snapshot) + "/client.log" }
            if let logFile { try? lines.text.write(toFile: logFile, atomically: true, encoding: .utf8) }
        } catch {
            if !target.temporary.isEmpty { try? FileManager.default.removeItem(atPath: target.temporary) }
            let message = "Backup of VM \(vmid) failed - \(error)"
            task("ERROR: \(message)")
            lines.append("\(Self.stamp(Date())) ERROR: \(message)")
            task("INFO: Failed at \(Self.stamp(Date()))")
            // a chunk store keeps no failed backups, so their log stays in the task log only
            if let logFile = target.logFile { try? lines.text.write(toFile: logFile, atomically: true, encoding: .utf8) }
            throw error
        }
    }

    func backupGuest(
        _ vmid: Int, type: String, options o: Options, target: Target, started: Date, log: @escaping @Sendable (String) -> Void
    ) async throws {
        let archive = target.archive, temporary = target.temporary
        guard type == "qemu" || type == "lxc" else { throw GuestError(500, "unable to find VM '\(vmid)'") }
        guard type == "qemu" || cts != nil else { throw GuestError(500, "containers are not available on this node") }
        let store = type == "qemu" ? vms.store : cts!.store
        let (config, _) = try store.load(vmid)
        if let lock = config.current["lock"] { throw GuestError(500, "\(type == "qemu" ? "VM" : "CT") is locked (\(lock))") }
        let running = type == "qemu" ? vms.isRunning(vmid) : cts!.isRunning(vmid)
        log("status = \(running ? "running" : "stopped")")
        let mode = running ? o.mode : "stop"
        log("backup mode: \(mode)")
        _ = try store.modify(vmid) { $0.current["lock"] = "backup" }
        defer { _ = try? store.modify(vmid) { if $0.current["lock"] == "backup" { $0.current["lock"] = nil } } }
        var restart = false
        if running && mode == "stop" {
            log("stopping virtual guest")
            if type == "qemu" {
                try await vms.shutdownLocked(vmid, timeout: o.stopwait * 60, forceStop: true, log: log)
            } else {
                try await cts!.stopLocked(vmid)
            }
            restart = true
        }
        let resume: () async -> Void = {
            guard restart else { return }
            let back = Date()
            do {
                if type == "qemu" {
                    try await BlockingExecutor.shared.run { try vms.startLocked(vmid, log: log) }
                } else {
                    try await BlockingExecutor.shared.run { try cts!.startLocked(vmid, log: log) }
                }
                log("guest is online again after \(Int(Date().timeIntervalSince(back))) seconds")
            } catch { log("restarting failed: \(error)") }
        }
        do {
            if let (store, snapshot) = target.store {
                log("creating deduplicated backup '\(archive)'")
                try await BlockingExecutor.shared.run {
                    try writeChunked(
                        vmid, type: type, store: store, snapshot: snapshot, time: Int64(started.timeIntervalSince1970),
                        config: GuestConfig.archivedText(config.current), mode: mode, options: o, log: log)
                }
            } else {
                log("creating vzdump archive '\(archive)'")
                try await BlockingExecutor.shared.run {
                    let output = try ArchiveOutput(path: temporary, compressor: BackupArchiveName.compressor(o.compress, zstdThreads: o.zstd))
                    do {
                        if type == "qemu" {
                            let (bytes, zero) = try vms.writeBackup(
                                vmid, mode: mode, into: .vma({ try output.write($0) }), throttle: Throttle(kibPerSecond: o.bwlimit), log: log)
                            if bytes > 0 { log("backup is sparse: \(ByteFormat.bytes(zero)) (\(zero * 100 / bytes)%) total zero data") }
                            log("transferred \(ByteFormat.bytes(bytes))")
                        } else {
                            let throttle = Throttle(kibPerSecond: o.bwlimit)
                            try cts!.writeBackup(
                                vmid, options: ctOptions(o, mode: mode),
                                consume: { pipe in
                                    while true {
                                        let piece = try pipe.read(1 << 20)
                                        if piece.isEmpty { break }
                                        throttle?.take(piece.count)
                                        try output.write(piece)
                                    }
                                }, log: log)
                        }
                        try output.finish()
                    } catch {
                        output.abandon()
                        throw error
                    }
                }
            }
        } catch {
            await resume()
            throw error
        }
        await resume()
        if target.store == nil {
            // names have one-second resolution: a second backup of a guest within it must not replace the first
            guard !FileManager.default.fileExists(atPath: archive) else {
                throw GuestError(500, "archive '\(archive)' exists already (a backup of this guest in the same second)")
            }
            try FileManager.default.moveItem(atPath: temporary, toPath: archive)
            let size = (try? FileManager.default.attributesOfItem(atPath: archive)[.size] as? UInt64) ?? 0
            log("archive file size: \(ByteFormat.bytes(size ?? 0))")
        }
        if let template = o.notesTemplate {
            log("adding notes to backup")
            let name = config.current[type == "qemu" ? "name" : "hostname"] ?? (type == "qemu" ? "VM \(vmid)" : "CT\(vmid)")
            let notes = Self.notes(
                template, guestname: name, node: node, vmid: vmid,
                cluster: (try? vms.fs.readString("corosync.conf")).flatMap(Self.clusterName) ?? "standalone node")
            if !notes.isEmpty { try? notes.write(toFile: target.notesFile, atomically: true, encoding: .utf8) }
        }
        if o.protected {
            log("marking backup as protected")
            FileManager.default.createFile(atPath: target.protectedFile, contents: nil)
        }
        if o.remove, let setting = o.pruneBackups ?? o.storage.flatMap({ try? storage.plugin($0).entry["prune-backups"] }) ?? nil, let id = o.storage
        {
            try prune(vmid, type: type == "qemu" ? "qemu" : "lxc", storage: id, setting: setting, log: log)
        }
    }

    /// A guest into a chunk store: a VM's disks in fixed chunks, a container's tar in content-defined
    /// ones; only chunks the store lacks are written. The backup exists once its manifest is saved.
    func writeChunked(
        _ vmid: Int, type: String, store: ChunkStore, snapshot: String, time: Int64, config: String, mode: String, options o: Options,
        log: @escaping @Sendable (String) -> Void
    ) throws {
        guard !FileManager.default.fileExists(atPath: store.directory(snapshot) + "/index.json") else {
            throw GuestError(500, "backup '\(snapshot)' exists already (a backup of this guest in the same second)")
        }
        try store.shared {
            let started = Date()
            let writer = ChunkedBackupWriter(
                store: store, manifest: BackupManifest(type: type == "lxc" ? "lxc" : "qemu", vmid: vmid, time: time, configs: [:]))
            let bytes: UInt64
            if type == "qemu" {
                bytes = try vms.writeBackup(vmid, mode: mode, into: .chunks(writer), throttle: Throttle(kibPerSecond: o.bwlimit), log: log).bytes
            } else {
                writer.manifest.configs["pct.conf"] = config
                if let firewall = try? vms.fs.readString("firewall/\(vmid).fw") { writer.manifest.configs["pct.fw"] = firewall }
                writer.begin(stream: "root.tar", size: nil)
                let throttle = Throttle(kibPerSecond: o.bwlimit)
                try cts!.writeBackup(
                    vmid, options: ctOptions(o, mode: mode),
                    consume: { pipe in
                        var chunker = ContentDefinedChunker()
                        var batch: [[UInt8]] = []
                        while true {
                            let piece = try pipe.read(1 << 20)
                            throttle?.take(piece.count)
                            batch += piece.isEmpty ? chunker.finish() : chunker.push(piece)
                            if batch.count >= writer.batch || piece.isEmpty {
                                try writer.add(batch)
                                batch = []
                            }
                            if piece.isEmpty { break }
                        }
                    }, log: log)
                bytes = writer.manifest.streams.first?.size ?? 0
                log(
                    "\(writer.reusedChunks) chunks were in the store already, \(writer.manifest.newChunks) new (\(ByteFormat.bytes(writer.manifest.newBytes)) stored)"
                )
            }
            let manifest = try writer.finish(as: snapshot)
            let seconds = max(Date().timeIntervalSince(started), 0.001)
            log(
                "backup of \(ByteFormat.bytes(bytes)) (\(ByteFormat.bytes(writer.zeroBytes)) zero) stored \(ByteFormat.bytes(manifest.newBytes)) new "
                    + "in \(String(format: "%.1f", seconds)) s (\(ByteFormat.bytes(UInt64(Double(bytes) / seconds)))/s)")
        }
    }

    func ctOptions(_ o: Options, mode: String) -> ContainerManager.BackupOptions {
        ContainerManager.BackupOptions(mode: mode, excludePaths: o.excludePaths, tmpdir: o.tmpdir)
    }

    func prune(_ vmid: Int, type: String, storage id: String, setting: String, log: (String) -> Void) throws {
        let keep = PruneSelection.parse(setting)
        guard !keep.isEmpty, keep["keep-all"] == nil else { return }
        log("prune older backups with retention: \(setting)")
        let plugin = try storage.plugin(id)
        let backups = try plugin.list(content: "backup", vmid: vmid).filter { $0.subtype == type }
        let marks = PruneSelection.mark(
            backups.map { PruneSelection.Entry(id: $0.volid, ctime: $0.ctime ?? 0, protected: $0.protected == true) }, keep: keep)
        var removed = 0
        for (volid, mark) in marks.sorted(by: { $0.key < $1.key }) where mark == .remove {
            log("removing backup '\(volid)'")
            try storage.free(volid)
            removed += 1
        }
        log("pruned \(removed) backup(s)\(removed > 0 ? " not covered by keep-retention policy" : "")")
    }

    /// notes-template: `{{cluster}}`, `{{guestname}}`, `{{node}}`, `{{vmid}}`; `\n` and `\\` escapes.
    static func notes(_ template: String, guestname: String, node: String, vmid: Int, cluster: String) -> String {
        var out = ""
        var i = template.startIndex
        while i < template.endIndex {
            if template[i...].hasPrefix("\\n") {
                out += "\n"
                i = template.index(i, offsetBy: 2)
            } else if template[i...].hasPrefix("\\\\") {
                out += "\\"
                i = template.index(i, offsetBy: 2)
            } else {
                out.append(template[i])
                i = template.index(after: i)
            }
        }
        return out.replacingOccurrences(of: "{{cluster}}", with: cluster).replacingOccurrences(of: "{{guestname}}", with: guestname)
            .replacingOccurrences(of: "{{node}}", with: node).replacingOccurrences(of: "{{vmid}}", with: "\(vmid)")
    }

    static func clusterName(_ corosync: String) -> String? {
        corosync.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("cluster_name:") }
            .map { $0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces) }
    }
}

/// The per-guest lines of the `.log` file, collected while the task log gets them too.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var text: String { lock.withLock { lines.joined(separator: "\n") + "\n" } }
}

/// Where a VMA stream goes: a compressor writing the file, or the file itself.
final class ArchiveOutput {
    let pipe: ProcessPipe?
    let file: FileHandle?
    let path: String

    init(path: String, compressor: [String]?) throws {
        self.path = path
        if let compressor {
            pipe = try ProcessPipe.writing(compressor, output: path)
            file = nil
        } else {
            FileManager.default.createFile(atPath: path, contents: nil)
            guard let handle = FileHandle(forWritingAtPath: path) else { throw GuestError(500, "cannot create \(path)") }
            pipe = nil
            file = handle
        }
    }

    func write(_ bytes: [UInt8]) throws {
        if let pipe { try pipe.write(bytes) } else { try file!.write(contentsOf: bytes) }
    }

    func finish() throws {
        if let pipe { try pipe.finish() } else { try file!.close() }
    }

    func abandon() {
        if let pipe { try? pipe.finish(ignoreStatus: true) } else { try? file?.close() }
        try? FileManager.default.removeItem(atPath: path)
    }
}

import Archive
import ClusterFS
import Foundation
import Guests
import Libvirt
import Schema
import Storage

/// Where a VM backup goes: a VMA stream, or a chunk store's backup.
public enum VMBackupTarget {
    case vma(([UInt8]) throws -> Void)
    case chunks(ChunkedBackupWriter)
}

/// A VM into a VMA archive and back. A stopped VM's disks are read through `qemu-nbd`; a running
/// VM's through libvirt's pull-mode backup (QEMU serves each disk's state at the start of the job
/// over NBD while the guest runs on, copy-before-write), with the guest's file systems frozen around
/// the job's start when its agent answers.
struct VMBackup {
    let vms: VMManager

    struct Disk {
        let key: String
        let volid: String
        let storage: String
        let format: String
        let path: String
        let target: String
        var device: String { "drive-\(key)" }
    }

    /// The disks a backup includes (PVE's rules): not CD-ROMs (so no cloud-init drive), not
    /// `backup=0`, the EFI disk only with OVMF.
    func disks(_ vmid: Int, _ section: GuestConfig.Section, log: (String) -> Void) throws -> [Disk] {
        let vm = VMConfig(section)
        var out: [Disk] = []
        for drive in vm.drives.sorted(by: { $0.key < $1.key }) where !drive.isCDROM {
            guard let volid = drive.volid ?? (drive.file.hasPrefix("/") ? drive.file : nil) else { continue }
            if drive.options["backup"]?.boolValue == false {
                log("exclude disk '\(drive.key)' '\(volid)' (backup=no)")
                continue
            }
            if drive.key == "efidisk0" && section["bios"] != "ovmf" {
                log("exclude disk '\(drive.key)' '\(volid)' (efidisk but no OVMF BIOS)")
                continue
            }
            let path = volid.hasPrefix("/") ? volid : try vms.storage.path(volid)
            guard !path.contains("://") else { throw VMAError("disk '\(drive.key)' is on a network storage, which this version cannot back up") }
            let format = drive.options["format"]?.plainText ?? (path.hasSuffix(".qcow2") ? "qcow2" : path.hasSuffix(".vmdk") ? "vmdk" : "raw")
            log("include disk '\(drive.key)' '\(volid)'\(drive.options["size"].map { " \($0.plainText)" } ?? "")")
            out.append(
                Disk(
                    key: drive.key, volid: volid, storage: VolumeID(volid)?.storage ?? "", format: format, path: path, target: DomainXML.target(drive)
                ))
        }
        return out
    }

    /// The config as PVE stores it in the archive: the current section without `lock`, `parent`
    /// and unused volumes, then one `#qmdump#map` line per disk.
    static func archivedConfig(_ section: GuestConfig.Section, disks: [Disk]) -> String {
        GuestConfig.archivedText(section) + disks.map { "#qmdump#map:\($0.key):\($0.device):\($0.storage):\($0.format):\n" }.joined()
    }

    /// Writes the backup into `target`; the VM's state decides how its disks are read. `throttle`
    /// bounds the rate disks are read at.
    func write(
        _ vmid: Int, mode: String, into target: VMBackupTarget, throttle: Throttle?, log: @escaping @Sendable (String) -> Void
    ) throws -> (bytes: UInt64, zero: UInt64) {
        let (config, _) = try vms.load(vmid)
        if let name = config.current["name"] { log("VM Name: \(name)") }
        let disks = try disks(vmid, config.current, log: log)
        var configs: [(name: String, data: [UInt8])] = [("qemu-server.conf", Array(Self.archivedConfig(config.current, disks: disks).utf8))]
        if let firewall = try? vms.fs.read("firewall/\(vmid).fw") { configs.append(("qemu-server.fw", firewall)) }
        let running = vms.isRunning(vmid)
        var servers: [NBDServer] = []
        // each disk is read over several connections side by side: one 4 MiB read at a time leaves
        // the disk idle between requests (uncached reads)
        var clients: [[NBDClient]] = []
        var domain: LibvirtDomain?
        var scratches: [String] = []
        /// The backup an incremental one builds on, and the checkpoint this one makes.
        var incremental: BackupManifest?
        var newCheckpoint: String?
        defer {
            clients.joined().forEach { $0.disconnect() }
            servers.forEach { $0.stop() }
            if let domain { try? domain.abortJob() }
            for scratch in scratches { unlink(scratch) }
        }
        if running {
            guard let live = try vms.domain(vmid) else { throw VMAError("VM \(vmid) is not running") }
            let socket = "\(vms.runDirectory)/\(vmid).backup"
            unlink(socket)
            // into a chunk store, qcow2 disks get a checkpoint: its bitmaps record what the guest
            // writes from now on, so the next backup reads only that (the rest is the last one's chunks)
            var checkpointXML: String?
            if case .chunks(let writer) = target, !disks.isEmpty, disks.allSatisfy({ $0.format == "qcow2" }) {
                let name = "corral-\(writer.manifest.time)"
                checkpointXML =
                    "<domaincheckpoint><name>\(name)</name><disks>"
                    + VMConfig(config.current).drives.filter { !$0.isCDROM }.map {
                        let target = DomainXML.target($0)
                        return "<disk name='\(target)' checkpoint='\(disks.contains { $0.target == target } ? "bitmap" : "no")'/>"
                    }.joined() + "</disks></domaincheckpoint>"
                incremental = Self.previous(vmid, in: writer.store, disks: disks, checkpoints: Set((try? live.checkpointNames()) ?? []))
                newCheckpoint = name
            }
            var xml = "<domainbackup mode='pull'>" + (incremental.map { "<incremental>\($0.checkpoint!)</incremental>" } ?? "")
            xml += "<server transport='unix' socket='\(socket)'/><disks>"
            let included = Set(disks.map(\.target))
            for drive in VMConfig(config.current).drives where !drive.isCDROM {
                let target = DomainXML.target(drive)
                // the copy-before-write scratch image holds what the guest overwrites while the job reads
                let scratch = "\(vms.runDirectory)/\(vmid).\(target).scratch"
                scratches.append(scratch)
                xml +=
                    included.contains(target)
                    ? "<disk name='\(target)' backup='yes' type='file'><driver type='qcow2'/><scratch file='\(scratch)'/></disk>"
                    : "<disk name='\(target)' backup='no'/>"
            }
            xml += "</disks></domainbackup>"
            // suspend mode pauses the vCPUs only while the job starts (the point in time it saves)
            let paused = mode == "suspend" && (try? live.state().state) == .running
            if paused {
                log("suspending guest")
                try live.suspend()
            }
            let thaw = !paused && vms.freezeGuestFileSystems(vmid, log: log)
            do {
                do {
                    try live.backupBegin(xml: xml, checkpoint: checkpointXML)
                } catch  where checkpointXML != nil {
                    // no bitmaps (an old qcow2, a name taken): a full read still stores only new chunks
                    log("no checkpoint for an incremental backup next time: \(error.message)")
                    (incremental, newCheckpoint) = (nil, nil)
                    try live.backupBegin(
                        xml: xml.replacingOccurrences(of: #"<incremental>[^<]*</incremental>"#, with: "", options: .regularExpression))
                }
            } catch {
                if thaw { vms.thawGuestFileSystems(vmid, log: log) }
                if paused { try? live.resume() }
                throw VMAError("cannot start the backup job: \(error.message)")
            }
            if paused {
                try live.resume()
                log("resuming VM again")
            }
            domain = live
            if thaw { vms.thawGuestFileSystems(vmid, log: log) }
            log("started backup job (pull mode, the guest keeps running)")
            if let incremental { log("incremental: reading what the guest wrote since checkpoint '\(incremental.checkpoint!)'") }
            for disk in disks {
                let bitmap = incremental.map { _ in "qemu:dirty-bitmap:backup-\(disk.target)" }
                clients.append(
                    try (0..<Self.connections).map { _ in try NBDClient(socketPath: socket, export: disk.target, metaContext: bitmap) })
            }
        } else {
            for disk in disks {
                let server = try NBDServer(
                    image: disk.path, format: disk.format, writable: false, socket: "\(vms.runDirectory)/\(vmid).\(disk.key).nbd",
                    clients: Self.connections)
                servers.append(server)
                clients.append(try (0..<Self.connections).map { _ in try NBDClient(socketPath: server.socket) })
            }
        }
        switch target {
        case .vma(let sink):
            var writer = try VMAWriter(configs: configs, devices: zip(disks, clients).map { ($0.device, $1[0].size) }, sink: sink)
            let total = try Self.read(clients, disks: disks, throttle: throttle, unchanged: nil, log: log) { index, offset, bytes in
                guard let bytes else { return }
                var at = 0
                while at < bytes.count {
                    let end = min(at + VMAWriter.clusterSize, bytes.count)
                    try writer.add(
                        device: index + 1, cluster: UInt32((offset + UInt64(at)) / UInt64(VMAWriter.clusterSize)), bytes: Array(bytes[at..<end]))
                    at = end
                }
            }
            try writer.finish()
            return (total, writer.zeroBlocks * UInt64(VMAWriter.blockSize))
        case .chunks(let writer):
            // the chunk store keeps the config files as text, as the archive formats name them
            for (name, data) in configs { writer.manifest.configs[name] = String(decoding: data, as: UTF8.self) }
            var batch: [[UInt8]] = []
            var current = -1
            let previous = incremental
            let store = writer.store
            // a piece the bitmap says is clean is the last backup's chunk, if the store still has it
            let unchanged = previous.map { Self.unchanged(since: $0, in: store) }
            var skipped = 0
            let total = try Self.read(clients, disks: disks, throttle: throttle, unchanged: unchanged, log: log) { index, offset, bytes in
                if index != current {
                    try writer.add(batch)
                    batch = []
                    writer.begin(stream: disks[index].device, size: clients[index][0].size)
                    current = index
                }
                guard let bytes else {
                    try writer.add(batch)
                    batch = []
                    writer.reuse(previous!.streams[index].chunks[Int(offset / UInt64(ChunkedBackupWriter.diskChunkSize))])
                    skipped += 1
                    return
                }
                batch.append(bytes)
                if batch.count >= writer.batch {
                    try writer.add(batch)
                    batch = []
                }
            }
            if !batch.isEmpty { try writer.add(batch) }
            if previous != nil { log("incremental: \(skipped) unchanged chunks not read") }
            if let newCheckpoint, let domain {
                writer.manifest.checkpoint = newCheckpoint
                // only the newest checkpoint is needed: older ones would track writes for nothing
                for old in (try? domain.checkpointNames()) ?? [] where old.hasPrefix("corral-") && old != newCheckpoint {
                    try? domain.deleteCheckpoint(old)
                }
            }
            log(
                "\(writer.reusedChunks) chunks were in the store already, \(writer.manifest.newChunks) new (\(ByteFormat.bytes(writer.manifest.newBytes)) stored)"
            )
            return (total, writer.zeroBytes)
        }
    }

    static let connections = 4

    typealias Unchanged = @Sendable (NBDClient, Int, UInt64, UInt64) throws -> Bool

    /// Whether a piece (connection, disk index, offset, length) is clean in the dirty bitmap and so
    /// is `previous`'s chunk, which the store must still hold.
    static func unchanged(since previous: BackupManifest, in store: ChunkStore) -> Unchanged {
        { client, index, offset, length in
            let stream = previous.streams[index]
            let chunk = Int(offset / UInt64(ChunkedBackupWriter.diskChunkSize))
            guard stream.size == client.size, chunk < stream.chunks.count, stream.chunks[chunk].size == Int(length),
                store.has(stream.chunks[chunk])
            else { return false }
            return try !client.anyFlagged(offset: offset, length: length)
        }
    }

    /// The newest backup of `vmid` in the store if it made a checkpoint QEMU still has, of the same
    /// disks: what an incremental backup builds on. Any other newest backup means a full read.
    static func previous(_ vmid: Int, in store: ChunkStore, disks: [Disk], checkpoints: Set<String>) -> BackupManifest? {
        for snapshot in store.snapshots().reversed() where snapshot.hasPrefix("vm/\(vmid)/") {
            guard let manifest = try? store.manifest(snapshot) else { continue }
            guard let checkpoint = manifest.checkpoint, checkpoints.contains(checkpoint), manifest.streams.map(\.name) == disks.map(\.device)
            else { return nil }
            return manifest
        }
        return nil
    }

    /// Reads every disk in 4 MiB pieces (one chunk of a chunk store, 64 VMA clusters), one piece per
    /// connection at a time, handed on in order; the next pieces are read while `body` works.
    static func read(
        _ clients: [[NBDClient]], disks: [Disk], throttle: Throttle?, unchanged: Unchanged?,
        log: (String) -> Void, _ body: (Int, UInt64, [UInt8]?) throws -> Void
    ) throws -> UInt64 {
        var total: UInt64 = 0
        let chunk = UInt64(ChunkedBackupWriter.diskChunkSize)
        for (index, connections) in clients.enumerated() {
            let size = connections[0].size
            func start(_ from: UInt64) -> (UInt64, ResultSlots<[UInt8]?>.Pending)? {
                guard from < size else { return nil }
                let pieces = Int(min(UInt64(connections.count), (size - from + chunk - 1) / chunk))
                return (
                    from,
                    ResultSlots<[UInt8]?>.start(pieces) { i in
                        let at = from + UInt64(i) * chunk
                        let length = Int(min(chunk, size - at))
                        if let unchanged, try unchanged(connections[i], index, at, UInt64(length)) { return nil }
                        throttle?.take(length)
                        return try connections[i].read(offset: at, length: length)
                    }
                )
            }
            var next = start(0)
            while let (from, pending) = next {
                let results = pending.wait()
                next = start(from + UInt64(results.count) * chunk)
                do {
                    for (i, result) in results.enumerated() { try body(index, from + UInt64(i) * chunk, try result.get()) }
                } catch {
                    // the reads under way finish before their connections go
                    _ = next?.1.wait()
                    throw error
                }
            }
            total += size
            log("\(disks[index].device): \(ByteFormat.bytes(size)) read")
        }
        return total
    }
}

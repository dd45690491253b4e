import Archive
import ClusterFS
import Foundation
import Guests
import Schema
import Storage

/// A VMA archive made a VM again: each device onto a new volume (the storage given, else the one it
/// came from), written through `qemu-nbd`; then the config. Anything made is removed if it fails.
struct VMRestore {
    let vms: VMManager

    /// `#qmdump#map:<key>:<device>:<storage>:<format>:` lines, and the config without them.
    static func split(_ text: String) -> (config: String, map: [String: (key: String, storage: String, format: String)]) {
        var lines: [Substring] = [], map: [String: (String, String, String)] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("#qmdump#map:") {
                let f = line.dropFirst("#qmdump#map:".count).split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                if f.count >= 4 { map[f[1]] = (f[0], f[2], f[3]) }
            } else if !line.hasPrefix("#vzdump#") && !line.hasPrefix("#qmdump#") {
                lines.append(line)
            }
        }
        return (lines.joined(separator: "\n"), map)
    }

    struct Opened {
        let reader: any DiskArchiveReader
        let close: () -> Void
    }

    /// A VMA file opened for reading, through its decompressor when it has one; or a chunk store's
    /// backup (its directory).
    static func open(_ path: String) throws -> Opened {
        if let (store, snapshot) = ChunkedBackupReader.locate(path) {
            return Opened(reader: try ChunkedBackupReader(store: store, snapshot: snapshot), close: {})
        }
        if let decompress = BackupArchiveName.decompressor(path) {
            let input = try ProcessPipe.reading(decompress, input: path)
            do {
                return Opened(reader: try VMAReader { try input.read($0) }, close: { try? input.finish(ignoreStatus: true) })
            } catch {
                try? input.finish(ignoreStatus: true)
                throw error
            }
        }
        guard let file = FileHandle(forReadingAtPath: path) else { throw VMAError("cannot open \(path)") }
        do {
            return Opened(reader: try VMAReader { [UInt8](try file.read(upToCount: $0) ?? Data()) }, close: { try? file.close() })
        } catch {
            try? file.close()
            throw error
        }
    }

    func restore(_ vmid: Int, archive: String, storage target: String?, unique: Bool, log: @escaping @Sendable (String) -> Void) throws {
        let path = archive.hasPrefix("/") ? archive : try vms.storage.path(archive)
        guard FileManager.default.fileExists(atPath: path) else { throw VMAError("archive '\(archive)' does not exist") }
        let opened = try Self.open(path)
        defer { opened.close() }
        let reader = opened.reader
        guard let text = reader.config("qemu-server.conf") else { throw VMAError("the archive has no qemu-server.conf") }
        let (configText, map) = Self.split(String(decoding: text, as: UTF8.self))
        let archived = try GuestConfig.parse(configText)
        log("restore \(reader is ChunkedBackupReader ? "deduplicated backup" : "vma archive"): \(path)")
        try vms.store.reserve(vmid, lock: "create")
        let reverter = Reverter()
        let store = vms.store
        reverter.add("remove the config of VM \(vmid)") { try store.fs.delete(store.configPath(vmid)) }
        var servers: [NBDServer] = []
        defer { servers.forEach { $0.stop() } }
        do {
            var clients: [Int: NBDClient] = [:]
            var volumes: [String: (volid: String, bytes: UInt64)] = [:]
            for device in reader.devices {
                guard let entry = map[device.name] else { throw VMAError("found no device mapping information for '\(device.name)'") }
                let storageID = target ?? (entry.storage.isEmpty ? "local" : entry.storage)
                let plugin = try vms.storage.plugin(storageID)
                guard plugin.entry.content.contains("images") else { throw VMAError("storage '\(storageID)' does not hold disk images") }
                let format = plugin.formats.contains(entry.format) ? entry.format : plugin.defaultFormat
                let name = try plugin.allocate(vmid: vmid, format: format, size: Int64(device.size), name: nil)
                let volid = "\(storageID):\(name)"
                let storage = vms.storage
                reverter.add("free \(volid)") { try storage.free(volid) }
                log("map '\(entry.key)' to '\(try vms.storage.path(volid))' (write zeros = 0)")
                let server = try NBDServer(
                    image: try vms.storage.path(volid), format: format, writable: true, socket: "\(vms.runDirectory)/\(vmid).\(entry.key).restore")
                servers.append(server)
                clients[device.id] = try NBDClient(socketPath: server.socket)
                volumes[entry.key] = (volid, device.size)
            }
            // consecutive blocks of one device go out as one write
            var pending: (device: Int, offset: UInt64, bytes: [UInt8])?
            func flush() throws {
                guard let p = pending, let client = clients[p.device] else { return }
                try client.write(offset: p.offset, bytes: p.bytes[...])
                pending = nil
            }
            var written: UInt64 = 0
            try reader.extract { device, offset, block in
                if let p = pending, p.device == device, p.offset + UInt64(p.bytes.count) == offset, p.bytes.count < 4 << 20 {
                    pending!.bytes += block
                } else {
                    try flush()
                    pending = (device, offset, Array(block))
                }
                written += UInt64(block.count)
            }
            try flush()
            for client in clients.values { try client.flush() }
            for client in clients.values { client.disconnect() }
            clients.removeAll()
            log("restored \(ByteFormat.bytes(written)) of data")
            var config = GuestConfig()
            config.current = vms.restoredSection(archived.current, volumes: volumes, unique: unique)
            try vms.store.save(vmid, config)
            reverter.succeed()
            log("restored VM \(vmid) from \(archive)")
        } catch {
            servers.forEach { $0.stop() }
            servers.removeAll()
            reverter.revert(log: log)
            throw error
        }
    }
}

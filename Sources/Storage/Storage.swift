import ClusterFS
import Foundation
import Glibc
import Schema

/// The node's view of `storage.cfg`: parses it from the cluster filesystem and hands out the backend
/// of each storage. Reads the file anew each time, since any node may change it.
public struct Storage: Sendable {
    public let fs: any ConfigTree
    public let node: String
    /// The storage types this node knows (tests add the in-memory one).
    public let drivers: StorageDrivers

    public init(fs: any ConfigTree, node: String, drivers: StorageDrivers = .standard) {
        self.fs = fs
        self.node = node
        self.drivers = drivers
    }

    public func config() throws(StorageError) -> StorageConfig {
        guard let data = try? fs.read("storage.cfg") else { return StorageConfig() }
        return try StorageConfig.parse(String(decoding: data, as: UTF8.self))
    }

    /// Writes the initial `storage.cfg` if there is none (a new cluster's first node does this).
    public func ensureInitial(path: String) throws {
        guard (try? fs.read("storage.cfg")) == nil else { return }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try fs.write("storage.cfg", Array(StorageConfig.initial(path: path).serialized().utf8), mtime: nil)
    }

    public func plugin(_ id: String) throws(StorageError) -> any StoragePlugin {
        // a die in PVE (500), as every storage lookup there
        guard let entry = try config()[id] else { throw StorageError(500, "storage '\(id)' does not exist") }
        guard !entry.disabled else { throw StorageError(500, "storage '\(id)' is disabled") }
        guard entry.isAvailable(on: node) else { throw StorageError(500, "storage '\(id)' is not available on node '\(node)'") }
        return try plugin(for: entry)
    }

    public func plugin(for entry: StorageConfig.Entry) throws(StorageError) -> any StoragePlugin {
        guard let driver = drivers[entry.type] else {
            throw StorageError(501, "storage type '\(entry.type)' of '\(entry.id)' is not supported yet")
        }
        // a secret (a CIFS password, a Ceph key) is kept apart from storage.cfg and given to the plugin alone
        var withSecret = entry
        if let secret = try? fs.readString(Self.secretPath(entry.id)), let key = Self.secretKey(entry.type) {
            withSecret.options.append(.init(key, secret))
        }
        return try driver.make(withSecret)
    }

    /// Where a storage's secret is kept (PVE's place).
    public static func secretPath(_ id: String) -> String { "priv/storage/\(id).pw" }

    /// The option a type's secret is given as.
    public static func secretKey(_ type: String) -> String? {
        switch type {
        case "cifs": "password"
        case "cephfs", "rbd": "keyring"
        default: nil
        }
    }

    /// The local path of a volume ID, or of an absolute path given as is.
    public func path(_ volid: String) throws(StorageError) -> String {
        if volid.hasPrefix("/") { return volid }
        guard let id = VolumeID(volid) else { throw StorageError(400, "unable to parse volume ID '\(volid)'") }
        return try plugin(id.storage).path(id.name)
    }

    /// Frees a volume; used by undo steps and destroy, which must not stop at the first failure.
    public func free(_ volid: String) throws(StorageError) {
        guard let id = VolumeID(volid) else { throw StorageError(400, "unable to parse volume ID '\(volid)'") }
        try plugin(id.storage).free(id.name)
    }
}

extension Storage {
    /// Whether a volume is a directory (a container's `subvol`) rather than an image or device.
    public static func isDirectory(_ plugin: any StoragePlugin, _ name: String) -> Bool {
        guard let path = try? plugin.path(name) else { return false }
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Allocates a volume for `vmid` on `destination` and copies `name` of `source` into it: images
    /// and devices through `qemu-img convert` (changing format when asked), directories with `cp -a`.
    /// Returns the new volume's name; on failure nothing is left.
    public func copyVolume(
        _ name: String, of source: any StoragePlugin, to destination: any StoragePlugin, vmid: Int, format requested: String?
    ) throws -> String {
        try source.activateVolume(name)
        guard source.capabilities.contains(.localPaths), destination.capabilities.contains(.localPaths) else {
            return try streamVolume(name, of: source, to: destination, vmid: vmid, format: requested)
        }
        if Self.isDirectory(source, name) {
            let copy = try destination.allocate(vmid: vmid, format: "subvol", size: 0, name: nil)
            do { try Command.run(["cp", "-a", "--", try source.path(name) + "/.", try destination.path(copy)]) } catch {
                try? destination.free(copy)
                throw StorageError(wrapping: error, "cannot copy \(source.entry.id):\(name)")
            }
            return copy
        }
        let sourceFormat = name.hasSuffix(".qcow2") ? "qcow2" : name.hasSuffix(".vmdk") ? "vmdk" : "raw"
        let format = requested ?? (destination.formats.contains(sourceFormat) ? sourceFormat : destination.defaultFormat)
        let copy = try destination.allocate(vmid: vmid, format: format, size: try source.size(name), name: nil)
        do {
            try destination.activateVolume(copy)
            try Command.run([
                "qemu-img", "convert", "-n", "-f", sourceFormat, "-O", format, try source.path(name), try destination.path(copy),
            ])
        } catch {
            try? destination.free(copy)
            throw StorageError(wrapping: error, "copying \(source.entry.id):\(name) failed")
        }
        return copy
    }

    /// A copy through the drivers' export and import (a storage without local paths), spooled in a
    /// temporary file; the format stays the source's.
    func streamVolume(_ name: String, of source: any StoragePlugin, to destination: any StoragePlugin, vmid: Int, format: String?) throws -> String {
        guard let stream = source.exportFormats(name).first else { throw StorageError(500, "\(source.entry.id):\(name) cannot be exported") }
        if let format, !stream.hasPrefix(format + "+") {
            throw StorageError(400, "\(source.entry.id):\(name) can only be copied as it is (\(stream)), not converted to \(format)")
        }
        var template = Array((NSTemporaryDirectory() + "corral-copy-XXXXXX").utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw StorageError(500, "cannot create a spool file: \(String(cString: strerror(errno)))") }
        unlink(String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        defer { close(fd) }
        let spool = FileDescriptorStream(fd: fd)
        try source.export(name, format: stream, to: spool)
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw StorageError(500, "cannot rewind the spool file") }
        return try destination.importVolume(vmid: vmid, format: stream, name: nil, from: spool)
    }
}

import Foundation
import Guests
import Schema
import Storage

/// `import-from=` on a disk (`scsi0: local:0,import-from=local:import/disk.qcow2`): a new volume on the
/// target storage, as large as the source's virtual size, filled by `qemu-img convert` from a volume
/// or (root only) an absolute path, whatever the source's format (qcow2, raw, vmdk, …).
extension VMManager {
    /// The source of an import: a volume ID or an absolute path.
    static func importSource(_ value: String) -> String? {
        for part in value.split(separator: ",") where part.hasPrefix("import-from=") { return String(part.dropFirst("import-from=".count)) }
        return nil
    }

    /// The local path of an import source, checked to exist.
    func importPath(_ source: String) throws -> String {
        if source.hasPrefix("/") {
            guard !source.contains("/../"), FileManager.default.fileExists(atPath: source) else { throw QEMUError(400, "'\(source)' does not exist") }
            return source
        }
        guard let volume = VolumeID(source) else { throw QEMUError(400, "'\(source)' is neither a volume nor an absolute path") }
        let path = try storage.path(volume.description)
        guard FileManager.default.fileExists(atPath: path) else { throw QEMUError(400, "volume '\(source)' does not exist") }
        return path
    }

    struct ImageInfo: Sendable {
        var format: String
        var virtualSize: Int64
    }

    static func imageInfo(_ path: String) throws -> ImageInfo {
        let out: String
        do { out = try Command.run(["qemu-img", "info", "--output=json", "-U", path]) } catch {
            throw QEMUError(400, "'\(path)' is not a disk image qemu-img can read: \(error)")
        }
        let json = (try? JSONSerialization.jsonObject(with: Data(out.utf8))) as? [String: Any] ?? [:]
        guard let format = json["format"] as? String, let size = (json["virtual-size"] as? NSNumber)?.int64Value else {
            throw QEMUError(400, "cannot read the format and size of '\(path)'")
        }
        // a file with a backing file would drag another file along: refused, as PVE does
        if json["backing-filename"] != nil { throw QEMUError(400, "'\(path)' has a backing file; import a standalone image") }
        return ImageInfo(format: format, virtualSize: size)
    }

    /// Allocates the volume for an import on `storageID` and copies the source into it; answers the volume ID and size.
    func importDisk(
        source: String, storage storageID: String, format wanted: String?, vmid: Int, reverter: Reverter, log: @Sendable (String) -> Void
    ) throws -> (volid: String, bytes: Int64) {
        let from = try importPath(source)
        let info = try Self.imageInfo(from)
        let plugin = try storage.plugin(storageID)
        let format = wanted ?? plugin.defaultFormat
        guard plugin.formats.contains(format) else { throw QEMUError(400, "storage '\(storageID)' does not support format '\(format)'") }
        // whole 1 KiB units: a raw volume is never smaller than the image it receives
        let bytes = (info.virtualSize + 1023) / 1024 * 1024
        let name = try plugin.allocate(vmid: vmid, format: format, size: bytes, name: nil)
        let volid = "\(storageID):\(name)", storage = storage
        reverter.add("free \(volid)") { try storage.free(volid) }
        try plugin.activateVolume(name)
        let target = try plugin.path(name)
        log("importing \(source) (\(info.format), \(DiskSize.text(info.virtualSize))) into \(volid) (\(format))")
        do {
            // -n: the volume exists (allocated by the storage); only its contents are written
            _ = try Command.run(["qemu-img", "convert", "-n", "-f", info.format, "-O", format, from, target])
        } catch {
            throw QEMUError(500, "cannot import \(source): \(error)")
        }
        return (volid, bytes)
    }
}

extension VMManager {
    /// `qm disk import` without a target disk: the image becomes a new volume of `storage`, listed
    /// as the VM's next `unusedN` (attached later, as PVE leaves it). Nothing is left on failure.
    public func importToUnused(
        vmid: Int, source: String, storage storageID: String, format: String?, log: @escaping @Sendable (String) -> Void
    )
        throws -> (key: String, volid: String)
    {
        let (config, _) = try load(vmid)
        try checkLock(config, vmid)
        let reverter = Reverter()
        do {
            let imported = try importDisk(source: source, storage: storageID, format: format, vmid: vmid, reverter: reverter, log: log)
            var key = ""
            _ = try modify(vmid) { c in
                var n = 0
                while c.current["unused\(n)"] != nil { n += 1 }
                key = "unused\(n)"
                c.current[key] = imported.volid
            }
            reverter.succeed()
            return (key, imported.volid)
        } catch {
            reverter.revert(log: log)
            throw error
        }
    }
}

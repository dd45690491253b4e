import Blocking
import Foundation
import Schema
import Storage

/// Moving a volume of a stopped guest to another storage, written once for every guest type: the
/// copy is made (qemu-img, or cp -a for a directory volume, or the drivers' streams), the config
/// follows in one write, and the source is then deleted or kept as `unusedN`. A failure part-way
/// removes the copy and leaves the guest as it was.
extension GuestBackend {
    public func copyRunning(
        _ vmid: Int, key: String, volume: GuestVolume, to destination: any StoragePlugin, format: String?, log: @escaping @Sendable (String) -> Void
    ) throws -> String {
        throw GuestError(500, "\(noun) \(vmid) is running: its volumes are moved while it is stopped")
    }

    /// What can be said about a move before it starts: the volume exists and would change place.
    @discardableResult
    public func checkMove(_ vmid: Int, key: String, to target: String, format: String?, parameter: String) throws -> GuestVolume {
        let (config, _) = try load(vmid)
        guard let volume = try volumes(config.current).first(where: { $0.key == key }) else {
            throw GuestError.parameter(parameter, "\(noun) \(vmid) has no movable volume '\(key)'")
        }
        let sourceFormat = volume.name.hasSuffix(".qcow2") ? "qcow2" : volume.name.hasSuffix(".vmdk") ? "vmdk" : "raw"
        if target == volume.plugin.entry.id && (format == nil || format == sourceFormat) {
            throw GuestError.parameter("storage", "\(volume.volid) is already on storage '\(target)'")
        }
        return volume
    }

    public func moveVolume(
        _ vmid: Int, key: String, to target: String, format: String?, delete: Bool, digest: String?, parameter: String,
        log: @escaping @Sendable (String) -> Void
    ) async throws {
        try await locks.with(vmid, what: "move a volume of \(noun) \(vmid)") {
            try await BlockingExecutor.shared.run { [self] in
                var (config, current) = try load(vmid)
                if let digest, digest != current {
                    throw GuestError(500, "detected modified configuration - file changed by other user? Try again.")
                }
                try store.checkLock(config, vmid)
                let running = isRunning(vmid)
                if isTemplate(config.current) { throw GuestError(500, "you can't move a volume of a template") }
                let volume = try checkMove(vmid, key: key, to: target, format: format, parameter: parameter)
                let destination = try storage.plugin(target)
                // a volume snapshots still refer to cannot go
                let inSnapshots = config.snapshots.values.contains { $0.values.values.contains { $0.contains(volume.volid) } }
                if delete && inSnapshots {
                    throw GuestError.parameter("delete", "\(volume.volid) is used by snapshots: it can only be kept (delete 0)")
                }
                log("moving \(volume.volid) (\(key)) to storage '\(target)'")
                let name =
                    running
                    ? try copyRunning(vmid, key: key, volume: volume, to: destination, format: format, log: log)
                    : try storage.copyVolume(volume.name, of: volume.plugin, to: destination, vmid: vmid, format: format)
                let copy = "\(target):\(name)"
                do {
                    config.current[key] = try replacingVolume(in: config.current, key: key, with: copy)
                    if !delete { config.current[config.nextUnusedKey()] = volume.volid }
                    try store.save(vmid, config)
                } catch {
                    // a running guest already uses the copy: keep it, and say what the config lacks
                    if running { throw GuestError(500, "\(key) now runs on \(copy), but the config could not be written: \(error)") }
                    try? storage.free(copy)
                    throw error
                }
                log("\(key) is now \(copy)")
                guard delete else {
                    log("\(volume.volid) is kept as an unused volume")
                    return
                }
                do {
                    try storage.free(volume.volid)
                    log("deleted \(volume.volid)")
                } catch {
                    // the move is done; a source that cannot be removed is named, not a failure
                    log("WARN: could not delete \(volume.volid): \(error)")
                }
            }
        }
    }
}

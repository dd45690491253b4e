import API
import Foundation
import Glibc
import Schema
import Storage

/// One volume that a migration copies: from this node's storage to a storage of the target.
public struct VolumeCopy: Sendable {
    public let key: String
    public let volid: String
    public let targetStorage: String
}

/// Offline migration of volumes that are not on a storage the target shares: each is exported in
/// the best stream format both sides know, sent to the target over the cluster's HTTPS (the
/// cluster forwarder's upload, verified by the cluster CA), imported there into the mapped storage
/// (`targetstorage`/`target-storage`), and the config moves with the new volume IDs. A failure
/// removes what was imported on the target and leaves the guest as it was; after success the
/// source volumes are freed. `bwlimit` (KiB/s) bounds the export's rate.
extension GuestBackend {
    /// `local-lvm:fast,local` → [local-lvm: fast, *: local]; one bare ID maps every storage.
    static func storageMap(_ text: String?) -> [String: String] {
        var out: [String: String] = [:]
        for item in Formats.splitList(text ?? "") {
            let parts = item.split(separator: ":", maxSplits: 1).map(String.init)
            if parts.count == 2 { out[parts[0]] = parts[1] } else if item != "1" { out["*"] = item }
        }
        return out
    }

    /// The copies a migration to `target` needs, or a 400 naming `field` with the reason one volume
    /// cannot be copied. CD-ROM images and guests with snapshots stay refused.
    public func copyPlan(_ config: GuestConfig, target: String, mapping: String?, field: String) throws -> [VolumeCopy] {
        let local = Set(localVolumes(config, target: target).map(\.volid))
        guard !local.isEmpty else { return [] }
        if !config.snapshots.isEmpty {
            throw GuestError.parameter(field, "\(noun) has snapshots and volumes on local storage; copying snapshots is not supported")
        }
        let map = Self.storageMap(mapping)
        var plan: [VolumeCopy] = []
        for volume in try volumes(config.current) where local.contains(volume.volid) {
            let source = volume.plugin.entry.id
            let targetID = map[source] ?? map["*"] ?? source
            // the target's storage, which this node may not have
            guard let targetEntry = (try? storage.config())?[targetID] else {
                throw GuestError.parameter(field, "storage '\(targetID)' (for \(volume.volid)) does not exist")
            }
            guard targetEntry.isAvailable(on: target) else {
                throw GuestError.parameter(field, "storage '\(targetID)' (for \(volume.volid)) is not available on node '\(target)'")
            }
            let content = type == "qemu" ? "images" : "rootdir"
            guard targetEntry.content.contains(content) else {
                throw GuestError.parameter(field, "storage '\(targetID)' does not hold '\(content)' (for \(volume.volid))")
            }
            guard let format = volume.plugin.exportFormats(volume.name).first else {
                throw GuestError.parameter(field, "\(volume.volid) cannot be exported")
            }
            // a directory volume travels as a tar and needs a storage of directories at the other end
            if format == "tar+size", !["dir", "btrfs"].contains(targetEntry.type) {
                throw GuestError.parameter(field, "\(volume.volid) is a directory volume; storage '\(targetID)' cannot hold one")
            }
            plan.append(VolumeCopy(key: volume.key, volid: volume.volid, targetStorage: targetID))
        }
        let planned = Set(plan.map(\.volid))
        if let stuck = local.first(where: { !planned.contains($0) }) {
            throw GuestError.parameter(field, "cannot migrate \(stuck): \(type == "qemu" ? "a local CD-ROM image" : "not a volume of the guest")")
        }
        return plan
    }

    /// Copies the planned volumes to `target`; the new volume ID per config key. `call` sends an API
    /// call to the target node. On failure what was imported is removed again.
    public func copyVolumes(
        _ plan: [VolumeCopy], vmid: Int, target: String, bwlimit: Int? = nil, listed: [String: String] = [:], into: [String: String] = [:],
        call: @escaping @Sendable (APICall) async throws -> JSON, log: @escaping @Sendable (String) -> Void
    ) async throws -> [String: String] {
        var copied: [String: String] = [:]
        do {
            for copy in plan {
                guard let id = VolumeID(copy.volid) else { continue }
                let plugin = try storage.plugin(id.storage)
                let format = plugin.exportFormats(id.name).first ?? "raw+size"
                let began = Date()
                let spool = "/var/tmp/pveupload-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
                let fd = open(spool, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw GuestError(500, "cannot create \(spool): \(String(cString: strerror(errno)))") }
                do {
                    defer { close(fd) }
                    let sink: any VolumeSink =
                        bwlimit.map { ThrottledSink(FileDescriptorStream(fd: fd), bytesPerSecond: Double($0) * 1024) } ?? FileDescriptorStream(fd: fd)
                    log("exporting \(copy.volid) (\(format))" + (bwlimit.map { ", limited to \($0) KiB/s" } ?? ""))
                    if format == "tar+size", let state = listed[copy.key] {
                        // a pre-copy pass: tar's snapshot file remembers what went, the next pass sends the changes
                        try VolumeStream.exportTree(path: try plugin.path(id.name), size: (try? plugin.size(id.name)) ?? 0, listed: state, to: sink)
                    } else {
                        try plugin.export(id.name, format: format, to: sink)
                    }
                } catch {
                    unlink(spool)
                    throw error
                }
                let bytes = (try? FileManager.default.attributesOfItem(atPath: spool)[.size] as? Int) ?? 0
                let wanted = id.name.split(separator: "/").last.map(String.init) ?? id.name
                let request = APICall(
                    method: "POST", segments: ["nodes", target, "storage", copy.targetStorage, "import-volume"],
                    parameters: [
                        "vmid": .text("\(vmid)"), "format": .text(format), "filename": .text(wanted), "tmpfilename": .text(spool),
                    ].merging(into[copy.key].map { ["into": .text($0)] } ?? [:]) { a, _ in a })
                // the forwarder streams the spooled file and removes it
                let made = try await call(request)
                guard let volid = made.stringValue else { throw GuestError(500, "node '\(target)' answered no volume for \(copy.volid)") }
                copied[copy.key] = volid
                let seconds = max(Date().timeIntervalSince(began), 0.001)
                log(
                    String(
                        format: "copied %@ to %@ on '%@' (%.1f MiB in %.1f s, %.1f MiB/s)", copy.volid, volid, target,
                        Double(bytes) / 1_048_576, seconds, Double(bytes) / 1_048_576 / seconds))
            }
        } catch {
            // a delta pass leaves the pre-copied volumes to its caller
            await removeCopies(Array(copied.values.filter { !into.values.contains($0) }), target: target, call: call, log: log)
            throw error
        }
        return copied
    }

    /// Frees volumes imported on `target` (after a failed migration).
    public func removeCopies(
        _ volids: [String], target: String, call: @escaping @Sendable (APICall) async throws -> JSON, log: (String) -> Void
    ) async {
        for volid in volids {
            guard let id = VolumeID(volid) else { continue }
            let request = APICall(method: "DELETE", segments: ["nodes", target, "storage", id.storage, "content", volid])
            do {
                _ = try await call(request)
                log("removed \(volid) from node '\(target)'")
            } catch {
                log("WARN: could not remove \(volid) from node '\(target)': \(error)")
            }
        }
    }
}

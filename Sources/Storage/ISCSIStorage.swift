import Foundation
import Schema

/// An iSCSI target through the kernel's initiator (open-iscsi, PVE's `iscsi`): activation discovers
/// the target at the portal and logs in; its LUNs appear as block devices, named `0.0.<lun>.<id>`
/// after the device's `/dev/disk/by-id` name (PVE's form), the path that link. Usually the base of
/// an LVM group on top; the LUNs themselves are made on the target.
public struct ISCSIStorage: TargetLUNStorage {
    public static let driver = StorageDriver(
        type: "iscsi", content: ["images", "none"], defaultContent: ["images"], formats: ["raw"], defaultFormat: "raw",
        capabilities: [.shared, .localPaths],
        options: targetOptions
    ) { entry throws(StorageError) in try ISCSIStorage(entry: entry) }

    public let entry: StorageConfig.Entry
    public var capabilities: StorageCapabilities { Self.driver.capabilities }
    public var defaultFormat: String { "raw" }
    public var formats: Set<String> { ["raw"] }
    let portal: String
    let target: String
    let runner: CommandRunner
    /// Where udev links devices by path and by id (a test points these elsewhere).
    let devices: String

    public init(entry: StorageConfig.Entry, runner: CommandRunner = .system, devices: String = "/dev/disk") throws(StorageError) {
        guard let portal = entry["portal"], let target = entry["target"] else {
            throw StorageError(500, "storage '\(entry.id)' needs 'portal' and 'target'")
        }
        self.entry = entry
        self.portal = portal.contains(":") ? portal : portal + ":3260"
        self.target = target
        self.runner = runner
        self.devices = devices
    }

    /// `0.0.<lun>.<id>` → the by-id name.
    func deviceID(_ name: String) throws(StorageError) -> String {
        let parts = name.split(separator: ".", maxSplits: 3).map(String.init)
        guard parts.count == 4, Int(parts[2]) != nil, !parts[3].contains("/"), !parts[3].hasPrefix(".") else {
            throw StorageError(400, "unable to parse volume name '\(name)' of iSCSI storage '\(entry.id)' (0.0.LUN.ID)")
        }
        return parts[3]
    }

    public func path(_ name: String) throws(StorageError) -> String { "\(devices)/by-id/\(try deviceID(name))" }

    /// The target's LUNs as the kernel shows them: by-path links of this portal and target, matched
    /// to their by-id names through the device they point to.
    func luns() -> [(name: String, device: String)] {
        let fm = FileManager.default
        let prefix = "ip-\(portal)-iscsi-\(target)-lun-"
        var byDevice: [String: String] = [:]
        for id in (try? fm.contentsOfDirectory(atPath: devices + "/by-id")) ?? [] where !id.contains("-part") {
            if let real = try? fm.destinationOfSymbolicLink(atPath: "\(devices)/by-id/\(id)") {
                let device = (real as NSString).lastPathComponent
                // one name per device: the scsi- one, as PVE picks
                if byDevice[device] == nil || id.hasPrefix("scsi-") { byDevice[device] = id }
            }
        }
        return ((try? fm.contentsOfDirectory(atPath: devices + "/by-path")) ?? []).sorted().compactMap { link in
            guard link.hasPrefix(prefix), let lun = Int(link.dropFirst(prefix.count)),
                let real = try? fm.destinationOfSymbolicLink(atPath: "\(devices)/by-path/\(link)")
            else { return nil }
            let device = (real as NSString).lastPathComponent
            guard let id = byDevice[device] else { return nil }
            return ("0.0.\(lun).\(id)", "/dev/" + device)
        }
    }

    func deviceSize(_ device: String) -> Int64 {
        let sectors = (try? String(contentsOfFile: "/sys/class/block/\((device as NSString).lastPathComponent)/size", encoding: .utf8))
            .flatMap { Int64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return (sectors ?? 0) * 512
    }

    public func list(content: String?, vmid: Int?) throws(StorageError) -> [VolumeInfo] {
        guard content == nil || content == "images", vmid == nil else { return [] }
        return luns().map { lun in
            let size = deviceSize(lun.device)
            return VolumeInfo(
                volid: "\(entry.id):\(lun.name)", content: "images", format: "raw", size: size, used: size, vmid: nil, ctime: nil, parent: nil)
        }
    }

    public func status() throws(StorageError) -> (total: Int64, used: Int64, available: Int64) {
        let total = luns().reduce(Int64(0)) { $0 + deviceSize($1.device) }
        return (total, total, 0)
    }

    public func size(_ name: String) throws(StorageError) -> Int64 { deviceSize(try path(name)) }

    /// The session: discovered and logged in unless one exists.
    public func activate() throws(StorageError) {
        let sessions = (try? runner.run(["iscsiadm", "-m", "session"])) ?? ""
        if sessions.split(separator: "\n").contains(where: { $0.contains(portal) && $0.hasSuffix(" " + target) || $0.contains(" \(target) ") }) {
            return
        }
        do {
            try runner.run(["iscsiadm", "-m", "discovery", "-t", "sendtargets", "-p", portal])
            try runner.run(["iscsiadm", "-m", "node", "-T", target, "-p", portal, "--login"])
        } catch {
            throw StorageError(500, "unable to activate storage '\(entry.id)' - cannot log in to target '\(target)' at \(portal): \(error.message)")
        }
    }

    public func deactivate() throws(StorageError) {
        _ = try? runner.run(["iscsiadm", "-m", "node", "-T", target, "-p", portal, "--logout"])
    }
}

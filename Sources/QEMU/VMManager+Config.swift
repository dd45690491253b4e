import Crypt
import Foundation
import Guests
import Schema
import Storage

extension VMManager {
    /// Options that take effect at once even on a running VM (they change nothing in the domain).
    static let liveOptions: Set<String> = [
        "name", "description", "onboot", "startup", "protection", "tags", "lock", "template", "hookscript",
        "migrate_downtime", "migrate_speed", "autostart", "vmstatestorage", "hotplug", "agent",
    ]

    /// PUT/POST …/config: sets and deletes options. On a running VM, changes that need a restart go to
    /// `[PENDING]` and apply at the next start, as on PVE. `digest` guards against concurrent edits.
    public func update(
        vmid: Int, parameters: [String: JSON], delete: [String], revert: [String], digest: String?, skiplock: Bool,
        log: @escaping @Sendable (String) -> Void
    ) async throws {
        try await locks.with(vmid, timeout: 10, what: "update VM \(vmid) config") {
            var (config, current) = try load(vmid)
            if let digest, digest != current {
                throw QEMUError(500, "detected modified configuration - file changed by other user? Try again.")
            }
            var options = Self.options(from: parameters)
            // removing the lock itself is how a stuck lock is cleared (`qm unlock`)
            let onlyUnlock = options.isEmpty && revert.isEmpty && delete == ["lock"]
            try checkLock(config, vmid, skiplock: skiplock || onlyUnlock)
            for key in delete where options[key] != nil {
                throw QEMUError.parameter("delete", "cannot set and delete '\(key)' at the same time")
            }
            for key in delete + revert where VMOptionSchema.option(key) == nil && !key.hasPrefix("unused") {
                throw QEMUError.parameter("delete", "unknown option '\(key)'")
            }
            try precheck(options)
            try checkOneCloudInitDrive(config, set: options, delete: delete)
            if let password = options["cipassword"] {
                options["cipassword"] = try Self.hashCloudInitPassword(password, ostype: config.current["ostype"])
            }
            let reverter = Reverter()
            do {
                options = try materialize(options, vmid: vmid, reverter: reverter, log: log)
                let running = isRunning(vmid)
                for key in revert {
                    config.pending[key] = nil
                    config.pendingDelete.removeAll { $0.key == key }
                }
                for (key, value) in options.sorted(by: { $0.key < $1.key }) {
                    if key == "description" {
                        config.current.description = value.isEmpty ? nil : value
                        continue
                    }
                    if running && Self.isCloudInitTracked(key) {
                        // the guest reads these from its drive: they apply to the next image, which
                        // `[special:cloudinit]` tells apart from what the guest has now
                        var image = config.special["cloudinit"] ?? GuestConfig.Section()
                        Self.recordCloudInitChange(key, old: config.current[key], new: value, in: &image)
                        config.special["cloudinit"] = image
                        if Self.liveOptions.contains(key) || Schema.indexedFamily(key) != "net" {
                            config.current[key] = value
                            continue
                        }
                    }
                    if running && !Self.liveOptions.contains(key) && !(Self.isCloudInitTracked(key) && Schema.indexedFamily(key) != "net") {
                        config.pending[key] = value
                        config.pendingDelete.removeAll { $0.key == key }
                    } else {
                        if let old = config.current[key] { moveToUnused(key: key, old: old, new: value, in: &config) }
                        config.current[key] = value
                    }
                }
                for key in delete {
                    if key == "description" {
                        config.current.description = nil
                        continue
                    }
                    if running && Self.isCloudInitTracked(key) && Schema.indexedFamily(key) != "net", let old = config.current[key] {
                        var image = config.special["cloudinit"] ?? GuestConfig.Section()
                        Self.recordCloudInitChange(key, old: old, new: nil, in: &image)
                        config.special["cloudinit"] = image
                        config.current[key] = nil
                        continue
                    }
                    if running && !Self.liveOptions.contains(key) && config.current[key] != nil {
                        config.pending[key] = nil
                        if !config.pendingDelete.contains(where: { $0.key == key }) { config.pendingDelete.append((key, false)) }
                        continue
                    }
                    config.pending[key] = nil
                    guard let old = config.current.values.removeValue(forKey: key) else { continue }
                    if key.hasPrefix("unused") {
                        // deleting an unused entry frees the volume, as PVE does
                        if let volid = VMConfig(GuestConfig.Section(values: [key: old])).properties(key)["file"]?.plainText {
                            try? storage.free(volid)
                            log("freed \(volid)")
                        }
                    } else {
                        moveToUnused(key: key, old: old, new: nil, in: &config)
                    }
                }
                try save(vmid, config)
                reverter.succeed()
            } catch {
                reverter.revert(log: log)
                throw error
            }
        }
    }

    /// At most one cloud-init drive (PVE's rule), counting what the change leaves.
    func checkOneCloudInitDrive(_ config: GuestConfig, set: [String: String], delete: [String]) throws {
        var values = config.current.values
        for key in delete { values[key] = nil }
        for (key, value) in set { values[key] = value }
        let drives = Self.cloudInitDrives(values)
        if drives.count > 1, let added = drives.first(where: { set[$0] != nil }) {
            let other = drives.first { $0 != added }!
            throw QEMUError.parameter(added, "cloud-init drive is already attached at '\(other)'")
        }
    }

    /// cipassword is stored as a SHA-256 crypt hash unless it is one already, or the guest is
    /// Windows (cloudbase-init needs the clear text).
    static func hashCloudInitPassword(_ password: String, ostype: String?) throws -> String {
        if let ostype, CloudInit.windows.contains(ostype) { return password }
        if password.range(of: #"^\$(?:[156]|2[ay])(\$.+){2}"#, options: .regularExpression) != nil { return password }
        do { return try PasswordHash.make(password, prefix: "$5$") } catch { throw QEMUError(500, "cannot hash cipassword: \(error)") }
    }

    /// A disk volume that a change detaches is kept as `unusedN`, never lost; a cloud-init volume
    /// is only generated data and is freed.
    func moveToUnused(key: String, old: String, new: String?, in config: inout GuestConfig) {
        if VMOptionSchema.isDrive(key), let format = VMOptionSchema.format(key),
            let file = (try? PropertyString.parse(old, format: format))?["file"]?.plainText, CloudInit.isCloudInitFile(file)
        {
            let stays = new.flatMap { try? PropertyString.parse($0, format: format) }?["file"]?.plainText == file
            if !stays {
                try? storage.free(file)
                config.special["cloudinit"] = nil
            }
            return
        }
        guard VMOptionSchema.isDrive(key), let format = VMOptionSchema.format(key),
            let props = try? PropertyString.parse(old, format: format), let file = props["file"]?.plainText,
            props["media"]?.plainText != "cdrom", let volid = VolumeID(file), VolumeID(file)?.ownerVMID != nil
        else { return }
        if let new, let newProps = try? PropertyString.parse(new, format: format), newProps["file"]?.plainText == file { return }
        let referenced = config.current.values.values.contains { $0.hasPrefix(volid.description + ",") || $0 == volid.description }
        if referenced && config.current[key] != old { return }
        var n = 0
        while config.current["unused\(n)"] != nil { n += 1 }
        config.current["unused\(n)"] = volid.description
    }

    /// Applies `[PENDING]` to the current config (at start, or when the VM is stopped).
    func applyPending(_ config: inout GuestConfig) {
        config.applyPending { config, key, old, new in moveToUnused(key: key, old: old, new: new, in: &config) }
    }

    /// GET …/pending: every key with its current value, pending value and pending deletion.
    public func pendingList(_ vmid: Int) throws -> [JSON] {
        try load(vmid).config.pendingList.map { item in
            guard case .object(var fields) = item, fields["key"]?.stringValue == "cipassword" else { return item }
            if fields["value"] != nil { fields["value"] = "**********" }
            if fields["pending"] != nil { fields["pending"] = "********** " }
            return .object(fields)
        }
    }
}

import Blocking
import Foundation
import Guests
import LXC
import Schema
import Storage

extension ContainerManager {
    /// A volume that a change detaches is kept as `unusedN`, never lost.
    static func moveToUnused(key: String, old: String, new: String?, in config: inout GuestConfig) {
        guard key == "rootfs" || Schema.indexedFamily(key) == "mp", let format = CTOptionSchema.format(key),
            let volume = (try? PropertyString.parse(old, format: format))?["volume"]?.plainText, !volume.hasPrefix("/")
        else { return }
        if let new, (try? PropertyString.parse(new, format: format))?["volume"]?.plainText == volume { return }
        config.current[config.nextUnusedKey()] = volume
    }

    /// Options whose new value is applied to a running container's cgroups at once.
    static let liveCgroupKeys: Set<String> = ["memory", "swap", "cpulimit", "cpuunits"]

    /// PUT …/config: sets and deletes options. A running container takes what it can at once
    /// (resources go to its cgroups); the rest waits in `[PENDING]` for the next start.
    public func update(
        _ vmid: Int, parameters: [String: JSON], delete: [String], revert: [String], digest: String?,
        log: @escaping @Sendable (String) -> Void
    ) async throws {
        let requested = CTOptionSchema.options(from: parameters)
        try await locks.with(vmid, timeout: 10, what: "update CT \(vmid)") {
            try await BlockingExecutor.shared.run { [self] in
                var (config, current) = try load(vmid)
                if let digest, digest != current { throw GuestError(500, "detected modified configuration - file changed by other user? Try again.") }
                try store.checkLock(config, vmid, skiplock: parameters["skiplock"]?.boolValue ?? false)
                let running = isRunning(vmid)
                let ct = CTConfig(config.current)
                if ct.isTemplate && requested.keys.contains(where: { CTOptionSchema.isVolume($0) }) {
                    throw GuestError(500, "CT \(vmid) is a template; its volumes cannot change")
                }
                let reverter = Reverter()
                do {
                    var options = try materialize(requested, vmid: vmid, unprivileged: ct.unprivileged, reverter: reverter, log: log)
                    if let description = options.removeValue(forKey: "description") {
                        config.current.description = description.isEmpty ? nil : description
                    }
                    for key in revert {
                        config.pending.values.removeValue(forKey: key)
                        config.pendingDelete.removeAll { $0.key == key }
                    }
                    var freed: [String] = []
                    for key in delete {
                        if key == "description" { config.current.description = nil; continue }
                        if running && CTOptionSchema.needsRestart(key) && !key.hasPrefix("unused") {
                            config.pendingDelete.removeAll { $0.key == key }
                            config.pendingDelete.append((key, false))
                        } else if let old = config.current.values.removeValue(forKey: key) {
                            if key.hasPrefix("unused") { freed.append(old) } else { Self.moveToUnused(key: key, old: old, new: nil, in: &config) }
                        }
                    }
                    if running {
                        var live: [String: String] = [:]
                        for (key, value) in options where !CTOptionSchema.needsRestart(key) {
                            config.current[key] = value
                            if Self.liveCgroupKeys.contains(key) { live[key] = value }
                            options[key] = nil
                        }
                        for (key, value) in options { config.pending[key] = value }
                        if !live.isEmpty { try applyLive(vmid, CTConfig(config.current), log: log) }
                    } else {
                        for (key, value) in options.sorted(by: { $0.key < $1.key }) {
                            if let old = config.current[key] { Self.moveToUnused(key: key, old: old, new: value, in: &config) }
                            config.current[key] = value
                        }
                    }
                    try store.save(vmid, config)
                    reverter.succeed()
                    for volid in freed {
                        do { try storage.free(volid); log("removed \(volid)") } catch { log("cannot remove \(volid): \(error)") }
                    }
                } catch {
                    reverter.revert(log: log)
                    throw error
                }
            }
        }
    }

    /// Writes memory, swap and CPU limits to a running container's cgroups.
    func applyLive(_ vmid: Int, _ ct: CTConfig, log: @Sendable (String) -> Void) throws {
        let lines = try LXCConfigBuilder.lines(ct, context: lxcContext(vmid))
        let container = try container(vmid)
        for (key, value) in lines
        where key.hasPrefix("lxc.cgroup.memory") || key.hasPrefix("lxc.cgroup.cpu.") || key.hasPrefix("lxc.cgroup2.memory")
            || key.hasPrefix("lxc.cgroup2.cpu.")
        {
            let item = key.replacingOccurrences(of: "lxc.cgroup2.", with: "").replacingOccurrences(of: "lxc.cgroup.", with: "")
            // raising memory+swap before memory (and lowering after) keeps the kernel's memsw >= mem rule
            if !container.setCgroupItem(item, value) { log("warning: \(item) = \(value) was not accepted") }
        }
    }
}

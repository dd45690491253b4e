import Foundation
import Glibc
import Guests
import Storage

extension VMManager {
    /// Every volume a VM owns: its drives, unused entries, snapshot drives and saved state; plus
    /// (`unreferenced`) volumes on storages named after the VMID that no config mentions.
    func ownedVolumes(_ vmid: Int, _ config: GuestConfig, unreferenced: Bool) -> [String] {
        var volids: [String] = []
        for section in [config.current, config.pending] + Array(config.snapshots.values) {
            let vm = VMConfig(section)
            for drive in vm.drives where !drive.isCDROM {
                if let volid = drive.volid, VolumeID(volid)?.ownerVMID == vmid { volids.append(volid) }
            }
            volids += vm.unusedVolumes.map(\.volid)
            for key in ["vmstate"] { if let v = section[key], VolumeID(v)?.ownerVMID == vmid { volids.append(v) } }
            if let efi = vm.properties("efidisk0")["file"]?.plainText, VolumeID(efi)?.ownerVMID == vmid { volids.append(efi) }
        }
        if unreferenced, let storages = try? storage.config().entries {
            for entry in storages where entry.isAvailable(on: node) && entry.content.contains("images") {
                guard let plugin = try? Storage.plugin(for: entry), let list = try? plugin.list(content: "images", vmid: vmid) else { continue }
                volids += list.map(\.volid)
            }
        }
        var seen = Set<String>()
        return volids.filter { seen.insert($0).inserted }
    }

    /// Removes a stopped VM: its volumes, its config and its runtime files. `protection` refuses.
    public func destroy(_ vmid: Int, purge: Bool, unreferenced: Bool, skiplock: Bool, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "destroy VM \(vmid)") {
            let (config, _) = try load(vmid)
            try checkLock(config, vmid, skiplock: skiplock)
            if VMConfig(config.current).protection { throw QEMUError(400, "can't remove VM \(vmid) - protection mode enabled") }
            if isRunning(vmid) { throw QEMUError(400, "VM \(vmid) is running - destroy failed") }
            // a base volume that linked clones still use must stay
            let clonesOfBase = Set(vmids().filter { $0 != vmid }.flatMap { other in
                ((try? load(other).config).map { c in VMConfig(c.current).drives.compactMap(\.volid) } ?? [])
            })
            try modify(vmid) { $0.current["lock"] = "destroyed" }
            var failures: [String] = []
            for volid in ownedVolumes(vmid, config, unreferenced: unreferenced) {
                let id = VolumeID(volid)!
                if id.isBase, clonesOfBase.contains(where: { $0.hasPrefix("\(id.storage):\(id.name)/") || $0.contains("/\(id.name.split(separator: "/").last!)/") }) {
                    failures.append("\(volid) is the base of a linked clone")
                    continue
                }
                do {
                    try storage.free(volid)
                    log("removed volume \(volid)")
                } catch { failures.append("\(volid): \(error)") }
            }
            try fs.delete(configPath(vmid))
            cleanupRuntime(vmid)
            Glibc.unlink("\(runDirectory)/lock/\(vmid).lock")
            for n in 0..<4 { Glibc.unlink("\(logDirectory)/\(vmid).serial\(n).log") }
            for failure in failures { log("warning: could not remove \(failure)") }
            log("destroyed VM \(vmid)")
        }
    }
}

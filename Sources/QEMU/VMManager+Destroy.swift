import ClusterFS
import Foundation
import Glibc
import Guests
import Schema
import Storage

extension VMManager {
    /// Every volume a VM owns: its drives, unused entries, snapshot drives and saved state; plus
    /// (`unreferenced`) volumes on storages named after the VMID that no config mentions.
    func ownedVolumes(_ vmid: Int, _ config: GuestConfig, unreferenced: Bool) -> [String] {
        var volids: [String] = []
        for section in [config.current, config.pending] + Array(config.snapshots.values) {
            let vm = VMConfig(section)
            for drive in vm.drives where !drive.isCDROM || CloudInit.isCloudInitFile(drive.file) {
                if let volid = drive.volid, VolumeID(volid)?.ownerVMID == vmid { volids.append(volid) }
            }
            volids += vm.unusedVolumes.map(\.volid)
            for key in ["vmstate"] { if let v = section[key], VolumeID(v)?.ownerVMID == vmid { volids.append(v) } }
            if let efi = vm.properties("efidisk0")["file"]?.plainText, VolumeID(efi)?.ownerVMID == vmid { volids.append(efi) }
        }
        if unreferenced, let storages = try? storage.config().entries {
            for entry in storages where entry.isAvailable(on: node) && entry.content.contains("images") {
                guard let plugin = try? storage.plugin(for: entry), let list = try? plugin.list(content: "images", vmid: vmid) else { continue }
                volids += list.map(\.volid)
            }
        }
        var seen = Set<String>()
        return volids.filter { seen.insert($0).inserted }
    }

    /// VMs whose disks are linked clones of this VM's base volumes.
    func linkedClones(of vmid: Int, _ config: GuestConfig) -> [Int] {
        let bases = VMConfig(config.current).drives.compactMap { $0.volid.flatMap(VolumeID.init) }.filter(\.isBase)
        guard !bases.isEmpty else { return [] }
        return vmids().filter { other in
            other != vmid
                && ((try? load(other).config).map { c in
                    VMConfig(c.current).drives.compactMap(\.volid).contains { volid in
                        bases.contains { base in volid.hasPrefix("\(base.storage):\(base.name)/") }
                    }
                } ?? false)
        }
    }

    /// Removes a stopped VM: its volumes, its config and its runtime files. `protection` refuses.
    public func destroy(_ vmid: Int, purge: Bool, unreferenced: Bool, skiplock: Bool, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "destroy VM \(vmid)") {
            let (config, _) = try load(vmid)
            try checkLock(config, vmid, skiplock: skiplock)
            if VMConfig(config.current).protection { throw QEMUError(400, "can't remove VM \(vmid) - protection mode enabled") }
            if isRunning(vmid) { throw QEMUError(400, "VM \(vmid) is running - destroy failed") }
            // a template whose base volumes linked clones still use cannot go: PVE refuses too
            let clones = linkedClones(of: vmid, config)
            if !clones.isEmpty {
                throw QEMUError(
                    400,
                    "VM \(vmid) is the base of linked clone(s) \(clones.map(String.init).joined(separator: ", ")): destroy those first or make them full clones"
                )
            }
            try modify(vmid) { $0.current["lock"] = "destroyed" }
            var failures: [String] = []
            for volid in ownedVolumes(vmid, config, unreferenced: unreferenced) {
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

import Foundation
import Guests
import Libvirt
import Schema
import Storage

/// The VM's snapshot hooks: a running VM on qcow2 disks is snapshotted by QEMU itself (`savevm`:
/// disks and, with `vmstate`, memory at one point), and such snapshots are restored (`loadvm`) and
/// deleted (`delvm`) through QEMU; everything else goes through the storages (GuestBackend+Snapshots).
extension VMManager {
    public func takeSnapshot(
        _ vmid: Int, name: String, volumes: [GuestVolume], vmstate: Bool, log: @escaping @Sendable (String) -> Void
    ) throws -> Bool {
        let running = isRunning(vmid)
        let internalSnapshots = volumes.allSatisfy { $0.name.hasSuffix(".qcow2") }
        if running && vmstate && !internalSnapshots { throw QEMUError(500, "a snapshot with RAM state needs qcow2 disks; take it with vmstate=0") }
        // without the memory state, what the disks hold must be consistent on its own: the agent
        // flushes and freezes the guest's file systems around the snapshot
        let thaw = running && !vmstate && freezeGuestFileSystems(vmid, log: log)
        defer { if thaw { thawGuestFileSystems(vmid, log: log) } }
        guard running, internalSnapshots else {
            try snapshotOnStorages(vmid, name: name, volumes: volumes, pause: running, log: log)
            return false
        }
        let domain = try runningDomain(vmid)
        log("saving VM state and disks (QEMU savevm)")
        let reply = try domain.monitorCommand(hmp: "savevm \(name)")
        if !reply.isEmpty { log("savevm: \(reply.trimmingCharacters(in: .whitespacesAndNewlines))") }
        if reply.lowercased().contains("error") { throw QEMUError(500, "savevm failed: \(reply.trimmingCharacters(in: .whitespacesAndNewlines))") }
        return vmstate
    }

    public func resumeAfterRollback(
        _ vmid: Int, name: String, snapshot: GuestConfig.Section, start: Bool, log: @escaping @Sendable (String) -> Void
    ) throws {
        if snapshot["vmstate"] == "1" {
            try startDomain(vmid, paused: true, log: log)
            let domain = try runningDomain(vmid)
            let reply = try domain.monitorCommand(hmp: "loadvm \(name)")
            if reply.lowercased().contains("error") {
                throw QEMUError(500, "loadvm failed: \(reply.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            try domain.resume()
            log("restored the VM state of '\(name)'")
        } else if start {
            try startDomain(vmid, log: log)
        }
    }

    public func deleteSnapshot(_ vmid: Int, name: String, volumes: [GuestVolume], force: Bool, log: @escaping @Sendable (String) -> Void) throws {
        let running = isRunning(vmid)
        if running, volumes.contains(where: { $0.name.hasSuffix(".qcow2") }) {
            // QEMU holds the qcow2 images open: it deletes the internal snapshot on all of them
            let reply = try runningDomain(vmid).monitorCommand(hmp: "delvm \(name)")
            if reply.lowercased().contains("error"), !force {
                throw QEMUError(500, "delvm failed: \(reply.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        }
        for v in volumes where !(running && v.name.hasSuffix(".qcow2")) {
            do { try v.plugin.deleteSnapshot(v.name, snapshot: name) } catch {
                guard force else { throw error }
                log("warning: \(error)")
            }
        }
    }
}

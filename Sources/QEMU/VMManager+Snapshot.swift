import Foundation
import Guests
import Libvirt
import Schema
import Storage

extension VMManager {
    /// Disks that snapshots cover (CD-ROMs and host paths excluded).
    func snapshotDisks(_ section: GuestConfig.Section) throws -> [(drive: VMConfig.Drive, plugin: any StoragePlugin, name: String)] {
        try VMConfig(section).drives.filter { !$0.isCDROM && $0.volid != nil }.map { drive in
            let id = VolumeID(drive.volid!)!
            return (drive, try storage.plugin(id.storage), id.name)
        }
    }

    /// Takes a snapshot. A running VM on qcow2 disks is snapshotted by QEMU itself (`savevm`: disks
    /// and, with `vmstate`, memory in one consistent point); a stopped VM by the storage.
    public func snapshot(_ vmid: Int, name: String, description: String?, vmstate: Bool, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "snapshot VM \(vmid)") {
            let (config, _) = try load(vmid)
            try checkLock(config, vmid)
            try config.checkNewSnapshot(name, isTemplate: VMConfig(config.current).isTemplate)
            let disks = try snapshotDisks(config.current)
            for disk in disks where !disk.plugin.canSnapshot(disk.name) {
                throw QEMUError(500, "snapshot feature is not available for \(disk.drive.key) (\(disk.drive.volid!))")
            }
            let running = isRunning(vmid)
            if running, disks.contains(where: { !$0.name.hasSuffix(".qcow2") }) {
                if vmstate { throw QEMUError(500, "a snapshot with RAM state needs qcow2 disks; take it with vmstate=0") }
            }
            try modify(vmid) { $0.current["lock"] = "snapshot" }
            do {
                if running, disks.allSatisfy({ $0.name.hasSuffix(".qcow2") }) {
                    let domain = try runningDomain(vmid)
                    log("saving VM state and disks (QEMU savevm)")
                    let reply = try domain.monitorCommand(hmp: "savevm \(name)")
                    if !reply.isEmpty { log("savevm: \(reply.trimmingCharacters(in: .whitespacesAndNewlines))") }
                    if reply.lowercased().contains("error") { throw QEMUError(500, "savevm failed: \(reply.trimmingCharacters(in: .whitespacesAndNewlines))") }
                } else if running {
                    // storage snapshots of a running VM: pause writes for the moment they take
                    let domain = try runningDomain(vmid)
                    try domain.suspend()
                    defer { try? domain.resume() }
                    for disk in disks { try disk.plugin.snapshot(disk.name, snapshot: name) }
                } else {
                    for disk in disks {
                        try disk.plugin.snapshot(disk.name, snapshot: name)
                        log("snapshot of \(disk.drive.volid!)")
                    }
                }
            } catch {
                _ = try? modify(vmid) { $0.current["lock"] = nil }
                throw error
            }
            let withState = running && vmstate && disks.allSatisfy({ $0.name.hasSuffix(".qcow2") })
            try modify(vmid) { $0.recordSnapshot(name, description: description, extra: ["vmstate": withState ? "1" : nil, "runningmachine": nil]) }
            log("snapshot '\(name)' of VM \(vmid) taken")
        }
    }

    /// Rolls back: stops the VM, rolls every disk back, restores the snapshot's config; a snapshot with
    /// memory state resumes the VM where it was.
    public func rollback(_ vmid: Int, name: String, start: Bool, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "rollback VM \(vmid)") {
            let (config, _) = try load(vmid)
            try checkLock(config, vmid)
            guard let snapshot = config.snapshots[name] else { throw QEMUError(500, "snapshot '\(name)' does not exist") }
            if let domain = try domain(vmid), isRunning(vmid) {
                try domain.destroy()
                try await waitGone(vmid, timeout: 30)
                log("stopped VM \(vmid)")
            }
            try modify(vmid) { $0.current["lock"] = "rollback" }
            for disk in try snapshotDisks(snapshot) {
                try disk.plugin.rollback(disk.name, snapshot: name)
                log("rolled back \(disk.drive.volid!)")
            }
            try modify(vmid) { $0.restoreSnapshot(name, dropping: ["vmstate"]) }
            if snapshot["vmstate"] == "1" {
                try startLocked(vmid, paused: true, log: log)
                let domain = try runningDomain(vmid)
                let reply = try domain.monitorCommand(hmp: "loadvm \(name)")
                if reply.lowercased().contains("error") { throw QEMUError(500, "loadvm failed: \(reply.trimmingCharacters(in: .whitespacesAndNewlines))") }
                try domain.resume()
                log("restored the VM state of '\(name)'")
            } else if start {
                try startLocked(vmid, log: log)
            }
        }
    }

    /// Deletes a snapshot from every disk and from the config; its children get its parent.
    public func deleteSnapshot(_ vmid: Int, name: String, force: Bool, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "delete snapshot of VM \(vmid)") {
            let (config, _) = try load(vmid)
            if !force { try checkLock(config, vmid) }
            guard let snapshot = config.snapshots[name] else { throw QEMUError(500, "snapshot '\(name)' does not exist") }
            let running = isRunning(vmid)
            let disks = try snapshotDisks(snapshot)
            if running, disks.contains(where: { $0.name.hasSuffix(".qcow2") }) {
                // QEMU holds the qcow2 images open: it deletes the internal snapshot on all of them
                let reply = try runningDomain(vmid).monitorCommand(hmp: "delvm \(name)")
                if reply.lowercased().contains("error"), !force { throw QEMUError(500, "delvm failed: \(reply.trimmingCharacters(in: .whitespacesAndNewlines))") }
            }
            for disk in disks where !(running && disk.name.hasSuffix(".qcow2")) {
                do { try disk.plugin.deleteSnapshot(disk.name, snapshot: name) } catch {
                    guard force else { throw error }
                    log("warning: \(error)")
                }
            }
            try modify(vmid) { $0.removeSnapshot(name) }
            log("deleted snapshot '\(name)'")
        }
    }

    /// The snapshot tree as PVE lists it: each snapshot, then `current` ("You are here!").
    public func snapshotList(_ vmid: Int) throws -> [JSON] {
        let (config, digest) = try load(vmid)
        return config.snapshotList(digest: digest, running: isRunning(vmid))
    }
}

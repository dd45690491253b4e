import Blocking
import ClusterFS
import Foundation
import Guests
import Storage

extension ContainerManager {
    /// Removes a stopped container: its volumes, its config and its liblxc directory.
    public func destroy(_ vmid: Int, skiplock: Bool, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "destroy CT \(vmid)") {
            try await BlockingExecutor.shared.run { [self] in
                let (config, _) = try load(vmid)
                try store.checkLock(config, vmid, skiplock: skiplock)
                let ct = CTConfig(config.current)
                if ct.protection { throw GuestError(500, "can't remove CT \(vmid) - protection mode enabled") }
                if isRunning(vmid) { throw GuestError(500, "CT \(vmid) is running - destroy failed") }
                try store.modify(vmid) { $0.current["lock"] = "destroyed" }
                var volids = ct.volumes.map(\.volid)
                for section in config.snapshots.values { volids += CTConfig(section).volumes.map(\.volid) }
                var failures: [String] = []
                for volid in Set(volids).sorted() where VolumeID(volid)?.ownerVMID == vmid {
                    do { try storage.free(volid); log("removed \(volid)") } catch { failures.append("\(volid): \(error)") }
                }
                try? FileManager.default.removeItem(atPath: "\(lxcpath)/\(vmid)")
                try? FileManager.default.removeItem(atPath: logFile(vmid))
                try fs.delete(store.configPath(vmid))
                if !failures.isEmpty { throw GuestError(500, "CT \(vmid) removed, but volumes remain: \(failures.joined(separator: "; "))") }
                log("destroyed CT \(vmid)")
            }
        }
    }
}

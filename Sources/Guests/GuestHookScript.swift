import Foundation
import Glibc
import Storage

/// A guest's `hookscript` (a snippet, `local:snippets/hook.sh`): run as `SCRIPT VMID PHASE` at
/// `pre-start`, `post-start`, `pre-stop` and `post-stop`, as PVE runs it. A failing pre-start stops
/// the start; the other phases' failures are logged.
public enum GuestHookScript {
    /// The script's local path, checked: a snippets volume that exists and is executable.
    public static func path(_ volid: String, storage: Storage) throws -> String {
        guard let id = VolumeID(volid), id.name.hasPrefix("snippets/") else {
            throw GuestError(400, "hookscript '\(volid)' is not a snippets volume (STORAGE:snippets/NAME)")
        }
        let path = try storage.path(volid)
        guard FileManager.default.fileExists(atPath: path) else { throw GuestError(400, "hookscript '\(volid)' does not exist") }
        guard access(path, X_OK) == 0 else { throw GuestError(400, "script '\(path)' is not executable") }
        return path
    }

    /// Runs the script for `phase` if the guest has one. Blocking.
    public static func run(_ volid: String?, vmid: Int, phase: String, storage: Storage, log: (String) -> Void) throws {
        guard let volid else { return }
        do {
            let script = try path(volid, storage: storage)
            log("running hookscript \(volid) (\(phase))")
            let result = try Command.execute([script, "\(vmid)", phase])
            for line in (result.stdout + result.stderr).split(separator: "\n") { log(String(line)) }
            guard result.status == 0 else { throw GuestError(500, "hookscript \(volid) failed in \(phase) (exit code \(result.status))") }
        } catch {
            guard phase == "pre-start" else { return log("warning: \(error)") }
            throw error
        }
    }
}

import Foundation
import Guests
import Storage

/// `corral-lxc-start`, the small C program next to corrald that starts a container through liblxc
/// (see `Sources/corral-lxc-start/main.c`). liblxc's start forks; forking this many-threaded daemon
/// copied its whole address space for the monitor and cost 25–40 ms per start over `lxc-start`, and
/// the child could inherit a lock another thread held. Without the program (a build that lacks it)
/// the container is started in process, as before.
enum LXCStartHelper {
    static let path: String? = {
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        let path = (exe as NSString).deletingLastPathComponent + "/corral-lxc-start"
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()

    /// Starts container `name` of `lxcpath`; throws with liblxc's reason when it did not start.
    static func start(_ program: String, name: String, lxcpath: String) throws {
        let (status, _, stderr) = try Command.execute([program, lxcpath, name])
        guard status == 0 else {
            let reason = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw GuestError(500, reason.isEmpty ? "corral-lxc-start exited with \(status)" : reason)
        }
    }
}

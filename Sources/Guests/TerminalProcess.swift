import Foundation
import Glibc
import Storage

/// A program on a fresh pty, for a console tunnel: the container's attached shell, the node's shell.
/// It runs in its own session with the pty as controlling terminal; closing the tunnel hangs it up.
public enum TerminalProcess {
    /// Starts `arguments` on a new pty; returns the master side and what ends the session.
    public static func start(_ arguments: [String], name: String) throws -> (fd: Int32, release: @Sendable () -> Void) {
        // posix_openpt, unlockpt and ptsname as their ioctls, TIOCSPTLCK and TIOCGPTN (macros Swift does not see)
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        var unlock: Int32 = 0, number: UInt32 = 0
        guard master >= 0, ioctl(master, UInt(0x4004_5431), &unlock) == 0, ioctl(master, UInt(0x8004_5430), &number) == 0 else {
            if master >= 0 { close(master) }
            throw GuestError(500, "cannot allocate a pty: \(String(cString: strerror(errno)))")
        }
        let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else {
            close(master)
            throw GuestError(500, "cannot open the pty: \(String(cString: strerror(errno)))")
        }
        // spawned (a fork that execs at once): in this many-threaded daemon a fork that keeps working
        // in the child can hang on a lock another thread held; setsid -c makes the pty the session's terminal
        let pid: pid_t
        do {
            pid = try Command.spawn(["setsid", "-c"] + arguments, terminal: slave)
        } catch {
            close(master)
            close(slave)
            throw GuestError(wrapping: error, "cannot start \(arguments.first ?? "a terminal program")")
        }
        let thread = Thread {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            close(slave)
        }
        thread.name = name
        thread.start()
        // the program leads its own session (setsid execs it in place, as it is no group leader)
        return (master, { kill(-pid, SIGHUP) })
    }
}

import Foundation
import Glibc

/// `qemu-nbd` serving one image on a private unix socket, for as long as a backup reads it or a
/// restore writes it: the one way to see any image format (qcow2, vmdk, raw, a block device) as raw bytes.
public final class NBDServer {
    public let pid: pid_t
    public let socket: String

    /// `clients`: how many connections may read at once (a backup reads with several side by side).
    public init(image: String, format: String, writable: Bool, socket: String, clients: Int = 1) throws {
        self.socket = socket
        unlink(socket)
        var arguments = ["qemu-nbd", "--persistent", "--format=\(format)", "--socket=\(socket)", "--cache=none", "--aio=threads"]
        arguments += writable ? ["--discard=unmap"] : ["--read-only", "--shared=\(clients)"]
        arguments.append(image)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let (pid, error) = ChildSignals.spawn(arguments, actions: &actions)
        guard error == 0 else { throw VMAError("cannot run qemu-nbd (qemu-utils): \(String(cString: strerror(error)))") }
        self.pid = pid
        // the socket appears once the image is open
        for _ in 0..<200 {
            if access(socket, F_OK) == 0 { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { throw VMAError("qemu-nbd could not open \(image) (format \(format))") }
            usleep(10_000)
        }
        stop()
        throw VMAError("qemu-nbd did not serve \(image) within 2 s")
    }

    /// Ends the server; `--persistent` qemu-nbd may wait for clients on SIGTERM, so it gets a
    /// second to go before SIGKILL.
    public func stop() {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<100 {
            if waitpid(pid, &status, WNOHANG) == pid {
                unlink(socket)
                return
            }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        unlink(socket)
    }
}

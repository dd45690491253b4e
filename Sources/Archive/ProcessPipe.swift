import Foundation
import Glibc

/// A helper program on one end of a pipe: a compressor that the archive is written into (its
/// output a file), or a decompressor the archive is read from. Spawned, never forked with work in
/// the child (this daemon is many-threaded). Blocking: use from the blocking executor.
public final class ProcessPipe {
    public let pid: pid_t
    public let fd: Int32
    public let command: String

    /// `arguments` with stdin from our pipe and stdout into `output` (created, truncated).
    public static func writing(_ arguments: [String], output: String) throws -> ProcessPipe {
        let file = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard file >= 0 else { throw VMAError("cannot create \(output): \(String(cString: strerror(errno)))") }
        defer { close(file) }
        return try spawn(arguments, childStdin: nil, childStdout: file)
    }

    /// `arguments` with stdin from `input` and stdout into our pipe.
    public static func reading(_ arguments: [String], input: String) throws -> ProcessPipe {
        let file = open(input, O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { throw VMAError("cannot open \(input): \(String(cString: strerror(errno)))") }
        defer { close(file) }
        return try spawn(arguments, childStdin: file, childStdout: nil)
    }

    private static func spawn(_ arguments: [String], childStdin: Int32?, childStdout: Int32?) throws -> ProcessPipe {
        var p: [Int32] = [-1, -1]
        guard pipe(&p) == 0 else { throw VMAError("pipe failed") }
        for fd in p { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let childStdout {
            posix_spawn_file_actions_adddup2(&actions, p[0], 0)
            posix_spawn_file_actions_adddup2(&actions, childStdout, 1)
        } else if let childStdin {
            posix_spawn_file_actions_adddup2(&actions, childStdin, 0)
            posix_spawn_file_actions_adddup2(&actions, p[1], 1)
        }
        let (pid, error) = ChildSignals.spawn(arguments, actions: &actions)
        let ours = childStdout != nil ? p[1] : p[0]
        close(childStdout != nil ? p[0] : p[1])
        guard error == 0 else {
            close(ours)
            throw VMAError("cannot run \(arguments[0]): \(String(cString: strerror(error)))")
        }
        return ProcessPipe(pid: pid, fd: ours, command: arguments.joined(separator: " "))
    }

    private init(pid: pid_t, fd: Int32, command: String) {
        self.pid = pid
        self.fd = fd
        self.command = command
    }

    public func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + sent, bytes.count - sent) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw VMAError("\(command) stopped reading: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    /// Up to `count` bytes; fewer only at the end.
    public func read(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, count - got) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw VMAError("reading from \(command) failed: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            got += n
        }
        return got == count ? out : Array(out[0..<got])
    }

    /// Closes our end and waits; a non-zero exit is an error (a reader's early close is not).
    public func finish(ignoreStatus: Bool = false) throws {
        close(fd)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0, code = (status >> 8) & 0xff
        if !ignoreStatus && !(exited && code == 0) { throw VMAError("\(command) failed (status \(status))") }
    }
}

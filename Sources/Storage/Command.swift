import Archive
import Foundation
import Glibc

/// Runs a helper program (qemu-img, lvcreate, …) and collects its output. posix_spawn rather than
/// Foundation's Process: Process waits for every inherited pipe to close, and a child that leaves a
/// daemon behind would hold it forever.
public enum Command {
    public struct Failure: Error, CustomStringConvertible {
        public let command: String
        public let status: Int32
        public let output: String
        public var description: String {
            let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
            return "command '\(command)' failed: exit code \(status)" + (text.isEmpty ? "" : ": \(text)")
        }
    }

    /// Runs `arguments` (the first is the program, looked up in PATH) and returns stdout; stderr is
    /// folded into the failure's message.
    @discardableResult
    public static func run(_ arguments: [String], input: String? = nil) throws -> String {
        let (status, out, err) = try execute(arguments, input: input)
        guard status == 0 else { throw Failure(command: arguments.joined(separator: " "), status: status, output: err + out) }
        return out
    }

    /// Like `run`, but returns the exit status instead of throwing on a non-zero one.
    public static func execute(_ arguments: [String], input: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let outFile = tmpfile(), errFile = tmpfile()
        defer {
            if let outFile { fclose(outFile) }
            if let errFile { fclose(errFile) }
        }
        guard let outFile, let errFile else {
            throw Failure(command: arguments.joined(separator: " "), status: -1, output: "cannot create temporary files")
        }
        var inPipe: [Int32] = [-1, -1]
        if input != nil { guard pipe(&inPipe) == 0 else { throw Failure(command: arguments[0], status: -1, output: "pipe failed") } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input != nil {
            posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
            posix_spawn_file_actions_addclose(&actions, inPipe[1])
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, fileno(outFile), 1)
        posix_spawn_file_actions_adddup2(&actions, fileno(errFile), 2)
        let (pid, spawned) = spawnp(arguments, &actions, environment: ["LC_ALL": "C"])
        if input != nil { close(inPipe[0]) }
        guard spawned == 0 else {
            if input != nil { close(inPipe[1]) }
            throw Failure(
                command: arguments.joined(separator: " "), status: -1, output: "cannot run \(arguments[0]): \(String(cString: strerror(spawned)))")
        }
        if let input {
            let bytes = Array(input.utf8)
            _ = bytes.withUnsafeBytes { write(inPipe[1], $0.baseAddress, $0.count) }
            close(inPipe[1])
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, readAll(outFile), readAll(errFile))
    }

    /// Starts a program with `terminal` as its stdin, stdout and stderr and returns its pid (the caller
    /// waits for it). posix_spawn execs at once, which a fork in this many-threaded process must.
    public static func spawn(_ arguments: [String], terminal: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in Int32(0)...2 { posix_spawn_file_actions_adddup2(&actions, terminal, fd) }
        let (pid, spawned) = spawnp(arguments, &actions, environment: [:])
        guard spawned == 0 else {
            throw Failure(
                command: arguments.joined(separator: " "), status: -1, output: "cannot run \(arguments[0]): \(String(cString: strerror(spawned)))")
        }
        return pid
    }

    /// posix_spawnp with this process's environment (plus `extra`, and a PATH if it has none).
    private static func spawnp(
        _ arguments: [String], _ actions: inout posix_spawn_file_actions_t, environment extra: [String: String]
    ) -> (pid: pid_t, error: Int32) {
        var environment = ProcessInfo.processInfo.environment.merging(extra) { _, new in new }
        if environment["PATH"] == nil { environment["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin" }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        ChildSignals.prepare(&attributes)
        var pid: pid_t = 0
        let error = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
        return (pid, error)
    }

    private static func readAll(_ file: UnsafeMutablePointer<FILE>) -> String {
        rewind(file)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

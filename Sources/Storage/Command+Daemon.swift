import Archive
import Foundation
import Glibc

extension Command {
    /// Starts a long-running program detached from this process: its own session, stdin from
    /// /dev/null, output appended to `log`, and none of this process's descriptors (a FUSE or
    /// database descriptor kept open by it would outlive this daemon). Returns its pid; nobody waits
    /// for it (it is reparented when this process execs or exits).
    public static func detach(_ arguments: [String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o640)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // POSIX_SPAWN_SETSID (glibc 2.26), a macro Swift does not import
        ChildSignals.prepare(&attributes, flags: 0x80)
        var environment = ProcessInfo.processInfo.environment
        if environment["PATH"] == nil { environment["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin" }
        // posix_spawn_file_actions_addclosefrom_np is not imported either: bash closes what was inherited
        let closing = "for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ \"$fd\" -gt 2 ] && eval \"exec $fd>&-\"; done 2>/dev/null; exec \"$@\""
        let argv = (["/bin/bash", "-c", closing, "corral-detach"] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let error = posix_spawn(&pid, "/bin/bash", &actions, &attributes, argv, envp)
        guard error == 0 else {
            throw Failure(
                command: arguments.joined(separator: " "), status: -1, output: "cannot run \(arguments[0]): \(String(cString: strerror(error)))")
        }
        // reap it when it exits while this process still runs, so no zombie is left
        let child = pid
        Thread.detachNewThread {
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        }
        return child
    }
}

extension Command {
    /// Whether `pid` is a live process running `program` (not a zombie, not a reused pid of
    /// something else): what a pid file is checked with before it is trusted.
    public static func isRunning(_ pid: pid_t, program: String) -> Bool {
        guard pid > 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
        else { return false }
        let name = stat[stat.index(after: open)..<close]
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        // the kernel keeps 15 characters of a name
        return name == program.prefix(15) && state != "Z" && state != "X"
    }
}

extension Command {
    /// The pid a pid file names, if that process runs `program`.
    public static func runningPID(file: String, program: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)),
            isRunning(pid, program: program)
        else { return nil }
        return pid
    }

    /// SIGTERM, up to 5 s for it to end, then SIGKILL.
    public static func terminate(_ pid: pid_t, program: String) {
        kill(pid, SIGTERM)
        for _ in 0..<100 where isRunning(pid, program: program) { usleep(50_000) }
        if isRunning(pid, program: program) { kill(pid, SIGKILL) }
    }
}

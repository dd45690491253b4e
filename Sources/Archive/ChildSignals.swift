import Glibc

/// What a spawned program starts with: default handlers for the signals corrald ignores
/// (`SIGTERM`, `SIGINT`, `SIGHUP` it takes through its own handler, `SIGPIPE` its sockets report
/// as errors) and nothing blocked. Ignored signals survive exec, so without this a child such as
/// `qemu-nbd` would ignore our SIGTERM and last until SIGKILL.
public enum ChildSignals {
    /// Sets the attributes' signal mask and defaults; `flags` are further `POSIX_SPAWN_*` flags.
    public static func prepare(_ attributes: inout posix_spawnattr_t, flags: Int32 = 0) {
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(flags | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    }

    /// Spawns `arguments` (found on PATH, with corrald's environment) with `actions` and the signal
    /// set-up above. Returns the child's pid, or the error number of a spawn that failed.
    public static func spawn(_ arguments: [String], actions: inout posix_spawn_file_actions_t) -> (pid: pid_t, error: Int32) {
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        prepare(&attributes)
        var pid: pid_t = 0
        let error = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
        return (pid, error)
    }
}

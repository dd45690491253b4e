internal import CLXC
internal import CLXCShim
import Glibc

/// An error from liblxc; liblxc reports most failures only as a false return, so the function is named.
public struct LXCError: Error, CustomStringConvertible, Sendable {
    public let function: String
    public let message: String
    public var description: String { "\(function): \(message)" }
}

/// A container handle in an lxcpath; liblxc loads `<lxcpath>/<name>/config` when it is made. Each
/// method stands for one `struct lxc_container` function.
public final class LXCContainer: @unchecked Sendable {
    private let handle: UnsafeMutablePointer<lxc_container>
    public let name: String
    public let lxcpath: String

    /// Stands for `lxc_container_new`.
    public init(name: String, lxcpath: String) throws {
        guard let handle = lxc_container_new(name, lxcpath) else {
            throw LXCError(function: "lxc_container_new", message: "cannot allocate container \(name) in \(lxcpath)")
        }
        self.handle = handle
        self.name = name
        self.lxcpath = lxcpath
    }

    deinit { _ = lxc_container_put(handle) }

    private func check(_ ok: Bool, _ function: String, _ what: String) throws {
        guard ok else {
            let detail = handle.pointee.error_string.map { String(cString: $0) }
            throw LXCError(function: function, message: detail.map { "\(what): \($0)" } ?? what)
        }
    }

    /// Whether a configuration exists for the container. Stands for `lxc_container.is_defined`.
    public var isDefined: Bool { handle.pointee.is_defined(handle) }

    /// Stands for `lxc_container.is_running`.
    public var isRunning: Bool { handle.pointee.is_running(handle) }

    /// The state name liblxc reports (`STOPPED`, `RUNNING`, `FROZEN`, …). Stands for `lxc_container.state`.
    public var state: String { handle.pointee.state(handle).map { String(cString: $0) } ?? "UNKNOWN" }

    /// The host PID of the container's init, if it runs. Stands for `lxc_container.init_pid`.
    public var initPID: Int32? {
        let pid = handle.pointee.init_pid(handle)
        return pid > 0 ? pid : nil
    }

    /// Starts the container's init, daemonized: liblxc forks a monitor and returns once the container
    /// runs (or failed). Stands for `lxc_container.start` after `want_daemonize(true)` and
    /// `want_close_all_fds(true)`, so the monitor keeps none of the caller's descriptors.
    public func start() throws {
        _ = handle.pointee.want_daemonize(handle, true)
        _ = handle.pointee.want_close_all_fds(handle, true)
        try check(handle.pointee.start(handle, 0, nil), "start", "container \(name) did not start")
    }

    /// Kills the container at once. Stands for `lxc_container.stop`.
    public func stop() throws { try check(handle.pointee.stop(handle), "stop", "cannot stop container \(name)") }

    /// Sends the halt signal and waits up to `timeout` seconds; false when it still runs.
    /// Stands for `lxc_container.shutdown`.
    public func shutdown(timeout: Int32) -> Bool { handle.pointee.shutdown(handle, timeout) }

    /// Stands for `lxc_container.freeze`.
    public func freeze() throws { try check(handle.pointee.freeze(handle), "freeze", "cannot freeze container \(name)") }

    /// Stands for `lxc_container.unfreeze`.
    public func unfreeze() throws { try check(handle.pointee.unfreeze(handle), "unfreeze", "cannot thaw container \(name)") }

    /// A cgroup value of the running container (`memory.usage_in_bytes`). Stands for `lxc_container.get_cgroup_item`.
    public func cgroupItem(_ key: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = handle.pointee.get_cgroup_item(handle, key, &buffer, Int32(buffer.count))
        guard n > 0 else { return nil }
        var text = Self.text(buffer)
        while text.last == "\n" || text.last == " " { text.removeLast() }
        return text
    }

    /// Sets a cgroup value of the running container. Stands for `lxc_container.set_cgroup_item`.
    public func setCgroupItem(_ key: String, _ value: String) -> Bool { handle.pointee.set_cgroup_item(handle, key, value) }

    /// A pty on one of the container's terminals: tty `number` (0 is the console, -1 the first free
    /// one). Returns the pty's controlling descriptor, which the caller reads and writes and closes, and
    /// the tty descriptor that holds the terminal until it is closed. Stands for `lxc_container.console_getfd`.
    public func console(tty number: Int32) throws -> (pty: Int32, tty: Int32) {
        var tty = number
        var ptx: Int32 = -1
        let fd = handle.pointee.console_getfd(handle, &tty, &ptx)
        guard fd >= 0, ptx >= 0 else {
            throw LXCError(function: "console_getfd", message: "no free terminal on container \(name) (tty \(number))")
        }
        return (ptx, fd)
    }

    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The liblxc version. Stands for `lxc_get_version`.
    public static var libraryVersion: String { String(cString: lxc_get_version()) }

    /// Names of the containers defined in `lxcpath`. Stands for `list_defined_containers`.
    public static func definedNames(lxcpath: String) -> [String] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = list_defined_containers(lxcpath, &names, nil)
        guard count > 0, let names else { return [] }
        defer { free(names) }
        return (0..<Int(count)).compactMap { index in
            guard let name = names[index] else { return nil }
            defer { free(name) }
            return String(cString: name)
        }
    }

    /// Runs a program inside the running container and waits for it; returns its exit status.
    /// Stands for `lxc_container.attach_run_wait` with liblxc's default options, changed by `options`.
    public func run(_ argv: [String], options: LXCAttachOptions = LXCAttachOptions()) throws -> Int32 {
        guard let program = argv.first else { throw LXCError(function: "attach_run_wait", message: "no program given") }
        var attach = corral_lxc_attach_options_default()
        if let fd = options.stdin { attach.stdin_fd = fd }
        if let fd = options.stdout { attach.stdout_fd = fd }
        if let fd = options.stderr { attach.stderr_fd = fd }
        var env = options.environment.map { strdup($0) } + [nil]
        defer { env.forEach { free($0) } }
        var args = argv.map { UnsafePointer(strdup($0)) } + [nil]
        defer { args.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        let status = env.withUnsafeMutableBufferPointer { envp -> Int32 in
            if options.environment.count > 0 { attach.extra_env_vars = envp.baseAddress }
            return args.withUnsafeMutableBufferPointer { argvp in
                handle.pointee.attach_run_wait(handle, &attach, program, argvp.baseAddress)
            }
        }
        guard status >= 0 else { throw LXCError(function: "attach_run_wait", message: "cannot run \(program) in container \(name)") }
        // a wait status: the exit code, or 128+signal as shells report it
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }
}

/// What differs from liblxc's default attach options (all namespaces, the caller's environment and
/// stdio).
public struct LXCAttachOptions: Sendable {
    public var stdin: Int32?
    public var stdout: Int32?
    public var stderr: Int32?
    /// `NAME=value` entries set in the program's environment.
    public var environment: [String] = []

    public init(stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil, environment: [String] = []) {
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.environment = environment
    }
}

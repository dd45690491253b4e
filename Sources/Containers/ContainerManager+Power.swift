import Blocking
import Foundation
import Guests
import LXC
import Storage

extension ContainerManager {
    /// Starts a container: pending changes apply, the liblxc configuration is generated from the
    /// config and written to `<lxcpath>/<vmid>/config`, and liblxc starts it daemonized.
    public func start(_ vmid: Int, skiplock: Bool = false, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "start CT \(vmid)") {
            try await BlockingExecutor.shared.run { [self] in try startContainer(vmid, skiplock: skiplock, log: log) }
        }
    }

    func startContainer(_ vmid: Int, skiplock: Bool = false, log: @Sendable (String) -> Void) throws {
        var (config, _) = try load(vmid)
        try store.checkLock(config, vmid, skiplock: skiplock)
        if CTConfig(config.current).isTemplate { throw GuestError(500, "CT \(vmid) is a template; clone it instead") }
        if isRunning(vmid) { throw GuestError(500, "CT \(vmid) already running") }
        if !config.pending.values.isEmpty || !config.pendingDelete.isEmpty {
            config.applyPending { config, key, old, new in Self.moveToUnused(key: key, old: old, new: new, in: &config) }
            try store.save(vmid, config)
            log("applied pending changes")
        }
        try prepareDirectories()
        try refreshGuestSetup(vmid, CTConfig(config.current), log: log)
        try growPending(vmid, CTConfig(config.current), log: log)
        let lines = try LXCConfigBuilder.lines(CTConfig(config.current), context: lxcContext(vmid))
        if CTConfig(config.current).unprivileged { try ensureSubordinateIDs() }
        let dir = "\(lxcpath)/\(vmid)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try LXCConfigBuilder.seccompProfile(CTConfig(config.current)).write(toFile: dir + "/seccomp", atomically: true, encoding: .utf8)
        try LXCConfigBuilder.text(lines).write(toFile: dir + "/config", atomically: true, encoding: .utf8)
        let offset = logSize(vmid)
        let container = try container(vmid)
        try GuestStartHooks.shared.run(vmid: vmid, log: log)
        let hook = config.current["hookscript"]
        try GuestHookScript.run(hook, vmid: vmid, phase: "pre-start", storage: storage, log: log)
        do {
            if let helper = LXCStartHelper.path {
                try LXCStartHelper.start(helper, name: "\(vmid)", lxcpath: lxcpath)
            } else {
                try container.start()
            }
        } catch {
            let detail = lastLogErrors(vmid, since: offset)
            throw GuestError(500, "startup for container '\(vmid)' failed" + (detail.isEmpty ? ": \(error)" : ": \(detail)"))
        }
        log("CT \(vmid) started (init pid \(container.initPID.map(String.init) ?? "?"))")
        try GuestHookScript.run(hook, vmid: vmid, phase: "post-start", storage: storage, log: log)
    }

    /// What the files written into the guest depend on; when it changed since they were written
    /// (a new hostname, addresses, DNS), they are written again before the start.
    static func setupStamp(_ ct: CTConfig) -> String {
        ([ct.hostname ?? "", ct.nameservers.joined(separator: " "), ct.searchdomains.joined(separator: " ")]
            + ct.nics.map { "\($0.name) \($0.ip ?? "") \($0.ip6 ?? "")" }).joined(separator: "|")
    }

    func refreshGuestSetup(_ vmid: Int, _ ct: CTConfig, log: @Sendable (String) -> Void) throws {
        let stampFile = "\(lxcpath)/\(vmid)/setup-stamp", stamp = Self.setupStamp(ct)
        guard (try? String(contentsOfFile: stampFile, encoding: .utf8)) != stamp else { return }
        if let root = ct.rootfs {
            try withMounted(root.volume, vmid: vmid) { path in
                try RootfsSetup(root: path, owner: Self.rootOwner(unprivileged: ct.unprivileged)).apply(config: ct, ostype: ct.ostype)
            }
            log("updated hostname, network and DNS files in the container")
        }
        try FileManager.default.createDirectory(atPath: "\(lxcpath)/\(vmid)", withIntermediateDirectories: true)
        try stamp.write(toFile: stampFile, atomically: true, encoding: .utf8)
    }

    /// Kills the container at once.
    public func stop(_ vmid: Int, skiplock: Bool = false, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "stop CT \(vmid)") {
            let (config, _) = try load(vmid)
            try store.checkLock(config, vmid, skiplock: skiplock)
            let hook = config.current["hookscript"], storage = storage
            try await BlockingExecutor.shared.run { try GuestHookScript.run(hook, vmid: vmid, phase: "pre-stop", storage: storage, log: log) }
            try await stopLocked(vmid)
            log("CT \(vmid) stopped")
            try await BlockingExecutor.shared.run { try GuestHookScript.run(hook, vmid: vmid, phase: "post-stop", storage: storage, log: log) }
        }
    }

    public func stopLocked(_ vmid: Int) async throws {
        let container = try container(vmid)
        guard container.isRunning else { return }
        try await BlockingExecutor.shared.run {
            do { try container.stop() } catch { throw GuestError(wrapping: error) }
        }
    }

    /// Asks init to power off; after `timeout` (60 s) the container is killed with `forceStop`, or
    /// the call fails and the container keeps running.
    public func shutdown(_ vmid: Int, timeout: Int?, forceStop: Bool, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "shutdown CT \(vmid)") {
            try await shutdownLocked(vmid, timeout: timeout, forceStop: forceStop, log: log)
        }
    }

    func shutdownLocked(_ vmid: Int, timeout: Int?, forceStop: Bool, log: @escaping @Sendable (String) -> Void) async throws {
        let (config, _) = try load(vmid)
        try store.checkLock(config, vmid)
        let container = try container(vmid)
        guard container.isRunning else { return }
        if container.state == "FROZEN" { try? container.unfreeze() }
        let seconds = Int32(timeout ?? 60)
        let hook = config.current["hookscript"], storage = storage
        try await BlockingExecutor.shared.run { try GuestHookScript.run(hook, vmid: vmid, phase: "pre-stop", storage: storage, log: log) }
        let done = await BlockingExecutor.shared.run { container.shutdown(timeout: seconds) }
        if done {
            log("CT \(vmid) shut down")
        } else {
            guard forceStop else { throw GuestError(500, "CT \(vmid) did not shut down within \(seconds) s (it still runs)") }
            log("CT \(vmid) did not shut down within \(seconds) s; stopping it")
            try await stopLocked(vmid)
        }
        try await BlockingExecutor.shared.run { try GuestHookScript.run(hook, vmid: vmid, phase: "post-stop", storage: storage, log: log) }
    }

    /// Shuts down and starts again, so pending changes apply.
    public func reboot(_ vmid: Int, timeout: Int?, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "reboot CT \(vmid)") {
            try await shutdownLocked(vmid, timeout: timeout, forceStop: true, log: log)
            try await BlockingExecutor.shared.run { [self] in try startContainer(vmid, log: log) }
        }
    }

    /// Freezes every process of the container (its cgroup's freezer).
    public func suspend(_ vmid: Int, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "suspend CT \(vmid)") {
            do { try container(vmid).freeze() } catch { throw GuestError(wrapping: error) }
            log("CT \(vmid) frozen")
        }
    }

    public func resume(_ vmid: Int, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "resume CT \(vmid)") {
            do { try container(vmid).unfreeze() } catch { throw GuestError(wrapping: error) }
            log("CT \(vmid) resumed")
        }
    }
}

extension ContainerManager {
    /// `cmode: shell`: a login shell attached to the container on a new pty; returns the pty's
    /// controlling side and what ends the shell when the tunnel closes first (closing the pty hangs
    /// it up too). The shell's side is closed once the shell ends, which ends the tunnel.
    public func attachShell(_ vmid: Int) throws -> (fd: Int32, release: @Sendable () -> Void) {
        guard isRunning(vmid) else { throw GuestError(400, "CT \(vmid) not running") }
        // lxc-attach, not liblxc's attach: that forks and keeps working in the child (see TerminalProcess)
        return try TerminalProcess.start(
            ["lxc-attach", "-P", lxcpath, "-n", "\(vmid)", "--clear-env", "--set-var", "TERM=xterm-256color", "--", "/bin/sh", "-l"],
            name: "ct-shell-\(vmid)")
    }
}

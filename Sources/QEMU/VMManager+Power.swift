import Blocking
import Foundation
import Glibc
import Guests
import Libvirt
import Storage

extension VMManager {
    /// Starts the VM: applies pending changes, generates the domain from the config and starts it
    /// transient. A VM suspended to disk is restored from its saved state instead.
    public func start(_ vmid: Int, skiplock: Bool = false, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "start VM \(vmid)") {
            try await BlockingExecutor.shared.run { try self.startDomain(vmid, skiplock: skiplock, log: log) }
        }
    }

    func startDomain(_ vmid: Int, skiplock: Bool = false, paused: Bool = false, log: @escaping @Sendable (String) -> Void) throws {
        var (config, _) = try load(vmid)
        let resuming = config.current["lock"] == "suspended" && config.current["vmstate"] != nil
        if !resuming { try checkLock(config, vmid, skiplock: skiplock) }
        let vm = VMConfig(config.current)
        if vm.isTemplate { throw QEMUError(400, "you can't start a VM if it's a template") }
        if isRunning(vmid) { throw QEMUError(400, "VM \(vmid) already running") }
        if !config.pending.values.isEmpty || !config.pendingDelete.isEmpty {
            applyPending(&config)
            try save(vmid, config)
            log("applied pending changes")
        }
        try prepareRunDirectory()
        try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
        if !resuming {
            // the guest reads its cloud-init drive at boot: made fresh from the config every start
            if try allocateMissingCloudInit(vmid, &config.current, log: log) { try save(vmid, config) }
            try writeCloudInit(vmid, config.current.values, log: log)
            if config.special["cloudinit"] != nil {
                config.special["cloudinit"] = nil
                try save(vmid, config)
            }
        }
        let xml = try DomainXML.generate(VMConfig(config.current), context: domainContext(vmid))
        for volid in VMConfig(config.current).drives.compactMap(\.volid) {
            if let id = VolumeID(volid), let plugin = try? storage.plugin(id.storage) { try plugin.activateVolume(id.name) }
        }
        if resuming, let state = config.current["vmstate"] {
            let path = try storage.path(state)
            log("resuming VM \(vmid) from \(state)")
            // the saved image carries the domain as it ran (with the addresses libvirt gave its devices)
            try hypervisor.withOwnConnection { try $0.restoreDomain(from: path, xml: nil, paused: paused) }
            try modify(vmid) { c in
                c.current["vmstate"] = nil
                c.current["lock"] = nil
            }
            try? storage.free(state)
            return
        }
        for drive in VMConfig(config.current).drives where !drive.isCDROM {
            if let volid = drive.volid, let path = try? storage.path(volid), path.hasSuffix(".qcow2") { StaleBitmaps.remove(from: path, log: log) }
        }
        try GuestStartHooks.shared.run(vmid: vmid, log: log)
        let hook = config.current["hookscript"]
        try GuestHookScript.run(hook, vmid: vmid, phase: "pre-start", storage: storage, log: log)
        do {
            _ = try hypervisor.withOwnConnection { try $0.createDomain(xml: xml, paused: paused || config.current["freeze"] == "1") }
        } catch let error as LibvirtError {
            throw QEMUError(500, "start failed: \(error.message)")
        }
        log("started VM \(vmid)\(vm.kvm ? "" : " (software emulation, kvm: 0)")")
        try GuestHookScript.run(hook, vmid: vmid, phase: "post-start", storage: storage, log: log)
    }

    func runningDomain(_ vmid: Int) throws -> LibvirtDomain {
        guard let domain = try domain(vmid), let state = try? domain.state().state, state != .shutoff else {
            throw QEMUError(400, "VM \(vmid) not running")
        }
        return domain
    }

    /// Powers off at once (PVE's stop). With `timeout`, asks the guest first and forces after it.
    public func stop(_ vmid: Int, skiplock: Bool = false, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "stop VM \(vmid)") {
            let (config, _) = try load(vmid)
            if config.current["lock"] != "backup" { try? checkLock(config, vmid, skiplock: true) }
            guard let domain = try domain(vmid) else { return log("VM \(vmid) is not running") }
            let hook = config.current["hookscript"], storage = storage
            try await BlockingExecutor.shared.run { try GuestHookScript.run(hook, vmid: vmid, phase: "pre-stop", storage: storage, log: log) }
            do { try await BlockingExecutor.shared.run { try domain.destroy() } } catch let error as LibvirtError
                where error.isNoDomain || error.isInvalidState
            {}
            try await waitGone(vmid, timeout: 30)
            cleanupRuntime(vmid)
            log("stopped VM \(vmid)")
            try await BlockingExecutor.shared.run { try GuestHookScript.run(hook, vmid: vmid, phase: "post-stop", storage: storage, log: log) }
        }
    }

    /// ACPI shutdown; after `timeout` seconds either a hard stop (`forceStop`) or an error.
    public func shutdown(_ vmid: Int, timeout: Int?, forceStop: Bool, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "shutdown VM \(vmid)") {
            try await shutdownLocked(vmid, timeout: timeout, forceStop: forceStop, log: log)
        }
    }

    public func shutdownLocked(_ vmid: Int, timeout: Int?, forceStop: Bool, log: @escaping @Sendable (String) -> Void) async throws {
        let domain = try runningDomain(vmid)
        let hook = (try? load(vmid))?.0.current["hookscript"], storage = storage
        try await BlockingExecutor.shared.run { try GuestHookScript.run(hook, vmid: vmid, phase: "pre-stop", storage: storage, log: log) }
        if (try? domain.state().state) == .paused {
            // a paused guest cannot see the power button
            if forceStop { try domain.destroy() } else { throw QEMUError(500, "VM \(vmid) is paused - cannot shutdown") }
        } else {
            if let (config, _) = try? load(vmid), agentEnabled(config) {
                log("shutting down through the guest agent (the power button if it does not answer)")
                try domain.shutdownPreferringAgent()
            } else {
                try domain.shutdown()
            }
            do {
                try await waitGone(vmid, timeout: Double(timeout ?? 180))
            } catch {
                guard forceStop else { throw QEMUError(500, "VM quit/powerdown failed - got timeout") }
                log("VM \(vmid) still running after \(timeout ?? 180) s - terminating now with a hard stop")
                try? domain.destroy()
                try await waitGone(vmid, timeout: 30)
            }
        }
        cleanupRuntime(vmid)
        log("VM \(vmid) shut down")
        try await BlockingExecutor.shared.run { try GuestHookScript.run(hook, vmid: vmid, phase: "post-stop", storage: storage, log: log) }
    }

    /// PVE's reboot: shut down, then start again, so pending changes apply.
    public func reboot(_ vmid: Int, timeout: Int?, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "reboot VM \(vmid)") {
            try await shutdownLocked(vmid, timeout: timeout, forceStop: false, log: log)
            try await BlockingExecutor.shared.run { try self.startDomain(vmid, log: log) }
        }
    }

    public func reset(_ vmid: Int) async throws {
        try await locks.with(vmid, what: "reset VM \(vmid)") { try runningDomain(vmid).reset() }
    }

    /// Pauses the vCPUs, or with `todisk` saves the memory to a state volume and stops (hibernation):
    /// the config gets `vmstate` and `lock: suspended`, and the next start resumes from it.
    public func suspend(_ vmid: Int, toDisk: Bool, stateStorage: String?, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "suspend VM \(vmid)") {
            let domain = try runningDomain(vmid)
            guard toDisk else { return try domain.suspend() }
            let (config, _) = try load(vmid)
            let vm = VMConfig(config.current)
            guard
                let target = stateStorage ?? config.current["vmstatestorage"]
                    ?? vm.drives.compactMap({ $0.volid.flatMap(VolumeID.init)?.storage }).first
            else { throw QEMUError(400, "no storage for the VM state: give 'statestorage'") }
            let plugin = try storage.plugin(target)
            let stamp = Self.stateStamp()
            let name = try plugin.allocate(
                vmid: vmid, format: "raw", size: Int64(vm.memoryMiB) * 2 * 1_048_576,
                name: plugin.capabilities.contains(.files) ? "vm-\(vmid)-state-suspend-\(stamp).raw" : "vm-\(vmid)-state-suspend-\(stamp)")
            let volid = "\(target):\(name)"
            do {
                try modify(vmid) { c in
                    c.current["lock"] = "suspending"
                }
                try domain.save(to: try plugin.path(name))
                try modify(vmid) { c in
                    c.current["lock"] = "suspended"
                    c.current["vmstate"] = volid
                }
                cleanupRuntime(vmid)
                log("saved VM \(vmid) to \(volid)")
            } catch {
                try? plugin.free(name)
                _ = try? modify(vmid) { c in if c.current["lock"] == "suspending" { c.current["lock"] = nil } }
                throw error
            }
        }
    }

    static func stateStamp() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd-HH-mm-ss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date())
    }

    /// Resumes a paused VM; a VM suspended to disk is started from its saved state.
    public func resume(_ vmid: Int, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "resume VM \(vmid)") {
            let (config, _) = try load(vmid)
            if config.current["lock"] == "suspended", config.current["vmstate"] != nil, !isRunning(vmid) {
                return try await BlockingExecutor.shared.run { try self.startDomain(vmid, log: log) }
            }
            let domain = try runningDomain(vmid)
            try domain.resume()
        }
    }

    /// Waits until the domain has gone (transient domains vanish when they stop).
    func waitGone(_ vmid: Int, timeout: Double) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let domain = try? domain(vmid), let state = try? domain.state().state, state != .shutoff else { return }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw QEMUError(500, "VM \(vmid) did not stop within \(Int(timeout)) s")
    }

    /// QEMU runs as libvirt's unprivileged user (Debian: libvirt-qemu, group kvm) and binds its VNC,
    /// serial and agent sockets here, so the directory belongs to group kvm.
    func prepareRunDirectory() throws {
        try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        if let group = getgrnam("kvm") {
            chown(runDirectory, uid_t.max, group.pointee.gr_gid)
            chmod(runDirectory, 0o770)
        }
    }

    /// Sockets of a stopped VM (libvirt leaves unix sockets behind).
    func cleanupRuntime(_ vmid: Int) {
        for suffix in ["vnc", "qga", "serial0", "serial1", "serial2", "serial3"] { Glibc.unlink("\(runDirectory)/\(vmid).\(suffix)") }
    }
}

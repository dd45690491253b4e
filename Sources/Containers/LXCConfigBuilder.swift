import Foundation
import Guests
import Schema

/// How a container's configuration turns into liblxc's: a pure function of the config and the node's
/// context, so every translation has a golden test (`Tests/ContainersTests/Fixtures`).
public enum LXCConfigBuilder {
    /// What a volume is on the host.
    public enum VolumeKind: Sendable { case directory, image, block }

    public struct Context: Sendable {
        public var vmid: Int
        /// liblxc's distribution snippets (`common.conf`, `<ostype>.common.conf`, `userns.conf`).
        public var lxcConfigDirectory = "/usr/share/lxc/config"
        /// Which snippets exist there; only those are included.
        public var availableSnippets: Set<String> = []
        public var cgroupV2 = false
        /// Whether the memory controller accounts swap (`memory.memsw.*` exists on cgroup v1).
        public var swapAccounting = true
        public var logFile: String
        /// The script that loop-mounts image mount points inside the container's mount namespace.
        public var mountHook: String
        /// Host CPUs, for `cores`.
        public var hostCPUs = 1
        /// Where the container's seccomp profile (`seccompProfile(_:)`) is written before a start.
        public var seccompFile: String?
        public var resolve: @Sendable (String) throws -> (path: String, kind: VolumeKind)

        public init(vmid: Int, logFile: String, mountHook: String, resolve: @escaping @Sendable (String) throws -> (path: String, kind: VolumeKind)) {
            self.vmid = vmid
            self.logFile = logFile
            self.mountHook = mountHook
            self.resolve = resolve
        }
    }

    /// The unprivileged ID shift, as PVE sets it: container IDs 0–65535 are host IDs 100000–165535.
    public static let idShift = 100_000
    public static let idCount = 65_536

    /// The signal that asks init to power off: busybox-style inits take SIGUSR2, systemd SIGRTMIN+4.
    static func haltSignal(ostype: String) -> String {
        ["alpine", "unmanaged", "openwrt"].contains(ostype) ? "SIGUSR2" : "SIGRTMIN+4"
    }

    public static func lines(_ config: CTConfig, context: Context) throws -> [(String, String)] {
        var out: [(String, String)] = []
        func add(_ key: String, _ value: String) { out.append((key, value)) }
        let ostype = config.ostype
        let snippet = context.availableSnippets.contains("\(ostype).common.conf") ? "\(ostype).common.conf" : "common.conf"
        if context.availableSnippets.contains(snippet) { add("lxc.include", "\(context.lxcConfigDirectory)/\(snippet)") }
        if config.unprivileged {
            let userns = context.availableSnippets.contains("\(ostype).userns.conf") ? "\(ostype).userns.conf" : "userns.conf"
            if context.availableSnippets.contains(userns) { add("lxc.include", "\(context.lxcConfigDirectory)/\(userns)") }
        }
        add("lxc.arch", config.arch == "amd64" ? "x86_64" : config.arch)
        add("lxc.uts.name", config.hostname ?? "CT\(context.vmid)")
        add("lxc.tty.dir", "")
        add("lxc.tty.max", "\(config.ttyCount)")
        add("lxc.pty.max", "1024")
        if !config.console { add("lxc.console.path", "none") }
        add("lxc.signal.halt", haltSignal(ostype: ostype))
        add("lxc.log.file", context.logFile)
        add("lxc.log.level", "WARN")
        if config.unprivileged {
            add("lxc.idmap", "u 0 \(idShift) \(idCount)")
            add("lxc.idmap", "g 0 \(idShift) \(idCount)")
        }
        if config.feature("nesting") {
            add("lxc.mount.auto", "proc:rw sys:rw cgroup:rw:force")
            add("lxc.apparmor.allow_nesting", "1")
        }
        if config.feature("fuse") { add("lxc.mount.entry", "/dev/fuse dev/fuse none bind,create=file,optional 0 0") }
        if config.feature("mknod") {
            // creating device nodes needs a seccomp notifier that answers mknod for the container
            throw GuestError(400, "CT \(context.vmid): feature 'mknod' is not supported yet; remove it from 'features' to start")
        }
        if let file = context.seccompFile { add("lxc.seccomp.profile", file) }

        // root file system and mount points
        guard let root = config.rootfs else { throw GuestError(500, "CT \(context.vmid) has no rootfs") }
        let rootVolume = try root.isBind ? (root.volume, VolumeKind.directory) : context.resolve(root.volume)
        switch rootVolume.1 {
        case .image: add("lxc.rootfs.path", "loop:\(rootVolume.0)")
        case .block: add("lxc.rootfs.path", rootVolume.0)
        case .directory: add("lxc.rootfs.path", "dir:\(rootVolume.0)")
        }
        if root.readOnly { add("lxc.rootfs.options", "ro") }
        for mp in config.mountPoints {
            let target = String(mp.path.drop { $0 == "/" })
            guard !target.isEmpty, !mp.path.contains("..") else { throw GuestError(500, "\(mp.key): invalid mount point path '\(mp.path)'") }
            let volume = try mp.isBind ? (mp.volume, VolumeKind.directory) : context.resolve(mp.volume)
            let ro = mp.readOnly ? ",ro" : ""
            switch volume.1 {
            case .directory: add("lxc.mount.entry", "\(volume.0) \(target) none rbind,create=dir\(ro) 0 0")
            case .image, .block:
                // a mount entry cannot attach a loop device; the hook mounts it in the container's namespace
                add("lxc.hook.mount", "\(context.mountHook) \(volume.0) /\(target) \(mp.readOnly ? "ro" : "rw")")
            }
        }

        // resources
        let memory = Int64(config.memoryMiB) * 1_048_576, swap = Int64(config.swapMiB) * 1_048_576
        if context.cgroupV2 {
            add("lxc.cgroup2.memory.max", "\(memory)")
            add("lxc.cgroup2.memory.swap.max", "\(swap)")
        } else {
            add("lxc.cgroup.memory.limit_in_bytes", "\(memory)")
            if context.swapAccounting { add("lxc.cgroup.memory.memsw.limit_in_bytes", "\(memory + swap)") }
        }
        if let limit = config.cpulimit {
            let quota = Int(limit * 100_000)
            if context.cgroupV2 {
                add("lxc.cgroup2.cpu.max", "\(quota) 100000")
            } else {
                add("lxc.cgroup.cpu.cfs_period_us", "100000")
                add("lxc.cgroup.cpu.cfs_quota_us", "\(quota)")
            }
        }
        if let units = config.cpuunits {
            // v1 shares default to 1024, v2 weights to 100: PVE scales between them the same way
            if context.cgroupV2 { add("lxc.cgroup2.cpu.weight", "\(units)") } else { add("lxc.cgroup.cpu.shares", "\(units)") }
        }
        if let cores = config.cores, cores < context.hostCPUs {
            add(context.cgroupV2 ? "lxc.cgroup2.cpuset.cpus" : "lxc.cgroup.cpuset.cpus", cores == 1 ? "0" : "0-\(cores - 1)")
        }

        // network: a veth per NIC, the host end named as PVE names it, in the NIC's bridge
        let nics = config.nics
        if nics.isEmpty { add("lxc.net.0.type", "empty") }
        for (i, nic) in nics.enumerated() {
            let p = "lxc.net.\(i)"
            add("\(p).type", "veth")
            add("\(p).veth.pair", "veth\(context.vmid)i\(nic.index)")
            if let bridge = nic.bridge { add("\(p).link", bridge) }
            add("\(p).name", nic.name)
            if let mac = nic.hwaddr { add("\(p).hwaddr", mac) }
            if let mtu = nic.mtu { add("\(p).mtu", "\(mtu)") }
            if let tag = nic.tag { add("\(p).veth.vlan.id", "\(tag)") }
            if !nic.linkDown { add("\(p).flags", "up") }
            // static addresses are set before init runs, so they hold whatever the guest's own tools do
            if let ip = nic.ip, ip != "dhcp", ip != "manual" {
                add("\(p).ipv4.address", ip)
                if let gw = nic.gw { add("\(p).ipv4.gateway", gw) }
            }
            if let ip6 = nic.ip6, !["dhcp", "auto", "manual"].contains(ip6) {
                add("\(p).ipv6.address", ip6)
                if let gw = nic.gw6 { add("\(p).ipv6.gateway", gw) }
            }
        }

        // raw keys come last, so they override
        for line in config.section.lxc { add(line.key, line.value) }
        return out
    }

    /// liblxc's seccomp denylist: the calls no container may make (kernel modules, kexec, handles that
    /// escape the mount namespace), and, as PVE does, `keyctl` answered "not implemented" in an
    /// unprivileged container without the `keyctl` feature, so systemd and others fall back cleanly
    /// instead of failing on the kernel's per-user keyring limits.
    public static func seccompProfile(_ config: CTConfig) -> String {
        var rules = ["kexec_load errno 1", "open_by_handle_at errno 1", "init_module errno 1", "finit_module errno 1", "delete_module errno 1"]
        if config.unprivileged && !config.feature("keyctl") { rules.append("keyctl errno 38") }
        return "2\ndenylist\nreject_force_umount\n[all]\n" + rules.joined(separator: "\n") + "\n"
    }

    public static func text(_ lines: [(String, String)]) -> String {
        lines.map { "\($0.0) = \($0.1)" }.joined(separator: "\n") + "\n"
    }
}

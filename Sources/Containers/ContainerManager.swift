import ClusterFS
import Foundation
import Guests
import LXC
import Schema
import Storage
import Synchronization

/// Everything done to the containers of this node: configs in the cluster filesystem (the truth),
/// volumes on storages, and liblxc containers in an lxcpath of this node, whose configuration is
/// generated from the config at each start.
public final class ContainerManager: Sendable {
    public let store: GuestStore
    public let node: String
    public let storage: Storage
    public let locks: GuestLock
    /// Where liblxc keeps each container's generated configuration and state (`<lxcpath>/<vmid>/`).
    public let lxcpath: String
    public let runDirectory: String
    public let logDirectory: String
    public let consoles: ConsoleSessions
    /// The previous CPU reading per container, for a rate between two status calls.
    let cpuSamples = Mutex<[Int: (time: Double, usage: Double)]>([:])

    public init(
        fs: any ConfigTree, node: String, lxcpath: String, runDirectory: String, logDirectory: String, consoles: ConsoleSessions
    ) {
        self.store = GuestStore(fs: fs, node: node, type: "lxc")
        self.node = node
        self.storage = Storage(fs: fs, node: node)
        self.locks = GuestLock(directory: runDirectory + "/lock")
        self.lxcpath = lxcpath
        self.runDirectory = runDirectory
        self.logDirectory = logDirectory
        self.consoles = consoles
    }

    public var fs: any ConfigTree { store.fs }
    public func load(_ vmid: Int) throws -> (config: GuestConfig, digest: String) { try store.load(vmid) }
    public func vmids() -> [Int] { store.vmids() }

    /// The liblxc handle of a container (its generated configuration loaded, if there is one).
    public func container(_ vmid: Int) throws -> LXCContainer {
        do { return try LXCContainer(name: "\(vmid)", lxcpath: lxcpath) } catch { throw GuestError(wrapping: error) }
    }

    public func isRunning(_ vmid: Int) -> Bool { (try? container(vmid))?.isRunning ?? false }

    public var mountHookPath: String { runDirectory + "/lxc-mount-hook" }
    func logFile(_ vmid: Int) -> String { "\(logDirectory)/lxc-\(vmid).log" }

    /// What a volume is on the host: a directory, an image file, or a block device.
    func resolve(_ volid: String) throws -> (path: String, kind: LXCConfigBuilder.VolumeKind) {
        let path = try storage.path(volid)
        var st = stat()
        guard stat(path, &st) == 0 else { throw GuestError(500, "volume '\(volid)' does not exist (\(path))") }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return (path, .directory)
        case S_IFBLK: return (path, .block)
        default: return (path, .image)
        }
    }

    /// The node facts the generated configuration depends on.
    func lxcContext(_ vmid: Int) -> LXCConfigBuilder.Context {
        var context = LXCConfigBuilder.Context(vmid: vmid, logFile: logFile(vmid), mountHook: mountHookPath) { [self] volid in
            try resolve(volid)
        }
        let snippets = (try? FileManager.default.contentsOfDirectory(atPath: context.lxcConfigDirectory)) ?? []
        context.availableSnippets = Set(snippets.filter { $0.hasSuffix(".conf") })
        context.cgroupV2 = !FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory")
        context.swapAccounting = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
        context.hostCPUs = ProcessInfo.processInfo.activeProcessorCount
        context.seccompFile = "\(lxcpath)/\(vmid)/seccomp"
        return context
    }

    /// The generated liblxc configuration of the current config (what `pct showcmd`… prints as text).
    public func lxcConfigText(_ vmid: Int) throws -> String {
        let (config, _) = try load(vmid)
        return LXCConfigBuilder.text(try LXCConfigBuilder.lines(CTConfig(config.current), context: lxcContext(vmid)))
    }

    /// The run directory with the mount hook, and the log directory.
    func prepareDirectories() throws {
        let fm = FileManager.default
        for dir in [runDirectory, lxcpath, logDirectory] { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        chmod(lxcpath, 0o755)
        // runs in the container's mount namespace after the root file system is mounted: attaches an
        // image as a loop device there, so it goes away with the namespace
        let hook = """
            #!/bin/sh
            # corral: IMAGE TARGET ro|rw, then liblxc's NAME SECTION HOOK
            set -e
            mkdir -p "$LXC_ROOTFS_MOUNT$2"
            exec mount -o loop,"$3" "$1" "$LXC_ROOTFS_MOUNT$2"

            """
        if (try? String(contentsOfFile: mountHookPath, encoding: .utf8)) != hook {
            try hook.write(toFile: mountHookPath + ".tmp", atomically: false, encoding: .utf8)
            chmod(mountHookPath + ".tmp", 0o755)
            rename(mountHookPath + ".tmp", mountHookPath)
        }
    }

    /// The last error lines liblxc logged for a container, for a failure message.
    func lastLogErrors(_ vmid: Int, since offset: UInt64) -> String {
        guard let handle = FileHandle(forReadingAtPath: logFile(vmid)) else { return "" }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        let errors = text.split(separator: "\n").filter { $0.contains(" ERROR ") }.prefix(3).map { line -> String in
            // drop liblxc's "name stamp LEVEL source - file:function:line - " prefix
            let parts = line.components(separatedBy: " - ")
            return parts.count >= 3 ? parts.dropFirst(2).joined(separator: " - ") : String(line)
        }
        return errors.joined(separator: "; ")
    }

    func logSize(_ vmid: Int) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: logFile(vmid)))?[.size] as? NSNumber)?.uint64Value ?? 0
    }
}

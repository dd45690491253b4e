import Archive
import Blocking
import ClusterFS
import Foundation
import Glibc
import Guests
import Schema
import Storage

extension ContainerManager {
    /// A volume given as `storage:size` (`local:8`) asks for a new volume of that many GiB (0: a directory).
    static func newVolumeRequest(_ volume: String) -> (storage: String, gib: Double)? {
        guard let id = VolumeID(volume), let gib = id.newVolumeGiB else { return nil }
        return (id.storage, gib)
    }

    /// Host user and group that own the container's root: shifted when unprivileged.
    static func rootOwner(unprivileged: Bool) -> uid_t { unprivileged ? uid_t(LXCConfigBuilder.idShift) : 0 }

    /// Checks what can be checked before anything is made; errors name the parameter.
    func precheck(_ options: [String: String], ostemplate: String?) throws {
        var errors: [String: String] = [:]
        if let ostemplate {
            do {
                let path = try storage.path(ostemplate)
                if !FileManager.default.fileExists(atPath: path) { errors["ostemplate"] = "template '\(ostemplate)' does not exist" }
            } catch { errors["ostemplate"] = "\(error)" }
        }
        for (key, value) in options where CTOptionSchema.isVolume(key) && !key.hasPrefix("unused") {
            let props = (try? PropertyString.parse(value, format: CTOptionSchema.format(key)!)) ?? [:]
            guard let volume = props["volume"]?.plainText else { continue }
            if let request = Self.newVolumeRequest(volume) {
                do {
                    let plugin = try storage.plugin(request.storage)
                    if !plugin.entry.content.contains("rootdir") {
                        errors[key] = "storage '\(request.storage)' does not hold container volumes (content rootdir)"
                    }
                    if request.gib == 0 && !plugin.formats.contains("subvol") {
                        errors[key] = "storage '\(request.storage)' cannot make a volume of size 0 (a directory)"
                    }
                } catch { errors[key] = "\(error)" }
            } else if volume.hasPrefix("/") {
                if key == "rootfs" { errors[key] = "the root file system must be a storage volume" }
            } else if VolumeID(volume) != nil {
                do {
                    if !FileManager.default.fileExists(atPath: try storage.path(volume)) { errors[key] = "volume '\(volume)' does not exist" }
                } catch { errors[key] = "\(error)" }
            }
        }
        if let hook = options["hookscript"] {
            do { _ = try GuestHookScript.path(hook, storage: storage) } catch { errors["hookscript"] = "\(error)" }
        }
        if !errors.isEmpty { throw GuestError(400, "Parameter verification failed.", errors: errors) }
    }

    /// Allocates a volume of `gib` GiB (a directory for 0) with an ext4 file system owned by the
    /// container's root; the undo is registered with `reverter`. Returns the volume ID and size text.
    func allocateVolume(
        storage id: String, gib: Double, vmid: Int, unprivileged: Bool, reverter: Reverter, log: @Sendable (String) -> Void
    ) throws -> (volid: String, size: String?) {
        let plugin = try storage.plugin(id)
        let bytes = Int64(gib * 1_073_741_824)
        // a storage of sized directories (btrfs) gives containers a subvolume, as PVE does
        let format = gib == 0 || plugin.capabilities.contains(.sizedDirectories) ? "subvol" : "raw"
        let name = try plugin.allocate(vmid: vmid, format: format, size: bytes, name: nil)
        let volid = "\(id):\(name)", storage = storage
        reverter.add("free \(volid)") { try storage.free(volid) }
        let path = try plugin.path(name)
        let owner = Self.rootOwner(unprivileged: unprivileged)
        if format == "subvol" {
            chown(path, owner, owner)
            log("allocated \(volid) (a directory)")
            return (volid, gib == 0 ? nil : DiskSize.text(bytes))
        }
        // the root directory of the new file system belongs to the container's root from the start
        do { _ = try Command.run(["mkfs.ext4", "-q", "-F", "-E", "root_owner=\(owner):\(owner)", path]) } catch {
            throw GuestError(wrapping: error, "cannot make a file system on \(volid)")
        }
        log("allocated \(volid) (\(DiskSize.text(bytes)), ext4)")
        return (volid, DiskSize.text(bytes))
    }

    /// Mounts a volume on the host for the time of `body` (a directory volume is used in place).
    func withMounted<T>(_ volid: String, vmid: Int, _ body: (String) throws -> T) throws -> T {
        let (path, kind) = try resolve(volid)
        if kind == .directory { return try body(path) }
        // under the lxcpath (0755), not the run directory (0770 root:kvm once VMs ran): the shifted
        // root that unpacks an unprivileged template must be able to reach it
        let target = "\(lxcpath)/.setup-\(vmid)"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        do { _ = try Command.run(["mount"] + (kind == .image ? ["-o", "loop"] : []) + [path, target]) } catch {
            rmdir(target)
            throw GuestError(wrapping: error, "cannot mount \(volid)")
        }
        defer {
            _ = try? Command.run(["umount", target])
            rmdir(target)
        }
        return try body(target)
    }

    /// The root file system mounted with the given mount points' volumes beneath it (each at its
    /// path, parents first), for the time of `body`: what a backup reads and a create or restore
    /// fills. Unmounted in reverse order.
    func withMountedTree<T>(_ ct: CTConfig, vmid: Int, mountPoints: [CTConfig.MountPoint], _ body: (String) throws -> T) throws -> T {
        guard let rootfs = ct.rootfs else { throw GuestError(500, "CT \(vmid) has no rootfs") }
        return try withMounted(rootfs.volume, vmid: vmid) { root in
            var mounted: [String] = []
            defer { for target in mounted.reversed() { _ = try? Command.run(["umount", target]) } }
            for mp in mountPoints {
                guard let volid = mp.volid else { continue }
                let (path, kind) = try resolve(volid)
                // missing directories on the way belong to the container's root, as if it made them
                let owner = Self.rootOwner(unprivileged: ct.unprivileged)
                var target = root
                for part in mp.path.split(separator: "/") {
                    target += "/" + part
                    if mkdir(target, 0o755) == 0 { chown(target, owner, owner) }
                }
                let options = kind == .directory ? ["--bind"] : kind == .image ? ["-o", "loop"] : []
                do { _ = try Command.run(["mount"] + options + [path, target]) } catch {
                    throw GuestError(wrapping: error, "cannot mount \(mp.key) (\(volid)) at \(mp.path)")
                }
                mounted.append(target)
            }
            return try body(root)
        }
    }

    /// Unprivileged containers need root's subordinate IDs for the shift (as PVE's packaging adds them).
    func ensureSubordinateIDs() throws {
        for file in ["/etc/subuid", "/etc/subgid"] {
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            let covered = text.split(separator: "\n").contains { line in
                let f = line.split(separator: ":")
                guard f.count == 3, f[0] == "root", let start = Int(f[1]), let count = Int(f[2]) else { return false }
                return start <= LXCConfigBuilder.idShift && start + count >= LXCConfigBuilder.idShift + LXCConfigBuilder.idCount
            }
            if !covered {
                let line = "root:\(LXCConfigBuilder.idShift):\(LXCConfigBuilder.idCount)\n"
                try (text + (text.isEmpty || text.hasSuffix("\n") ? "" : "\n") + line).write(toFile: file, atomically: true, encoding: .utf8)
            }
        }
    }

    /// Unpacks a template archive into a mounted root file system; unprivileged, tar runs in a user
    /// namespace with the shift, so every file gets its shifted owner as the archive says.
    func extract(template: String, into root: String, unprivileged: Bool, log: @Sendable (String) -> Void) throws {
        let archive = try storage.path(template)
        log("extracting \(template)")
        let tar = ["tar", "-xpf", archive, "-C", root, "--numeric-owner", "--xattrs-include=user.*", "--exclude=./dev/*", "--exclude=./etc/vzdump"]
        var command = tar
        if unprivileged {
            try ensureSubordinateIDs()
            let map = "\(LXCConfigBuilder.idShift):\(LXCConfigBuilder.idCount)"
            command = ["lxc-usernsexec", "-m", "u:0:\(map)", "-m", "g:0:\(map)", "--"] + tar
        }
        do {
            if let (store, snapshot) = ChunkedBackupReader.locate(archive) {
                // a chunk store's backup: its tar stream fed to tar's stdin
                command[command.firstIndex(of: archive)!] = "-"
                let pipe = try ProcessPipe.writing(command, output: "/dev/null")
                do {
                    try ChunkedBackupReader(store: store, snapshot: snapshot).read(stream: "root.tar") { try pipe.write($0) }
                    try pipe.finish()
                } catch {
                    try? pipe.finish(ignoreStatus: true)
                    throw error
                }
            } else {
                _ = try Command.run(command)
            }
        } catch { throw GuestError(wrapping: error, "cannot extract \(template)") }
    }

    /// Creates a container: reserves the VMID (`lock: create`), allocates and fills the root file
    /// system from the template, sets it up, then writes the final config. Any failure removes
    /// everything made so far.
    public func create(vmid: Int, parameters: [String: JSON], log: @escaping @Sendable (String) -> Void) async throws {
        var options = CTOptionSchema.options(from: parameters)
        guard let template = parameters["ostemplate"]?.plainText else {
            throw GuestError.parameter("ostemplate", "property is missing and it is not optional")
        }
        let password = parameters["password"]?.plainText, keys = parameters["ssh-public-keys"]?.plainText
        if options["unprivileged"] == nil { options["unprivileged"] = "1" }
        if options["rootfs"] == nil { options["rootfs"] = "\(parameters["storage"]?.plainText ?? "local"):4" }
        let unprivileged = options["unprivileged"] == "1"
        let requested = options
        try await locks.with(vmid, what: "create CT \(vmid)") {
            try await BlockingExecutor.shared.run { [self] in
                let reverter = Reverter()
                do {
                    try store.reserve(vmid, lock: "create")
                    let path = store.configPath(vmid), fs = fs
                    reverter.add("remove \(path)") { try fs.delete(path) }
                    let options = try materialize(requested, vmid: vmid, unprivileged: unprivileged, reverter: reverter, log: log)
                    var section = GuestConfig.Section(values: options)
                    section.description = section.values.removeValue(forKey: "description")
                    if section["hostname"] == nil { section["hostname"] = "CT\(vmid)" }
                    // the mount points' volumes are mounted where they belong, so the archive fills them
                    let volumeMounts = CTConfig(section).mountPoints.filter { $0.volid != nil }
                    try withMountedTree(CTConfig(section), vmid: vmid, mountPoints: volumeMounts) { root in
                        try extract(template: template, into: root, unprivileged: unprivileged, log: log)
                        if section["ostype"] == nil { section["ostype"] = RootfsSetup.detectOSType(root: root) }
                        let setup = RootfsSetup(root: root, owner: Self.rootOwner(unprivileged: unprivileged))
                        try setup.apply(config: CTConfig(section), ostype: section["ostype"]!)
                        if let password { try setup.setRootPassword(password) }
                        if let keys { try setup.addSSHKeys(keys) }
                    }
                    section["arch"] = section["arch"] ?? "amd64"
                    section["memory"] = section["memory"] ?? "512"
                    section["swap"] = section["swap"] ?? "512"
                    var config = GuestConfig()
                    config.current = section
                    try store.save(vmid, config)
                    try prepareDirectories()
                    try FileManager.default.createDirectory(atPath: "\(lxcpath)/\(vmid)", withIntermediateDirectories: true)
                    try Self.setupStamp(CTConfig(section)).write(toFile: "\(lxcpath)/\(vmid)/setup-stamp", atomically: true, encoding: .utf8)
                    reverter.succeed()
                    log("created CT \(vmid) (\(section["ostype"]!), \(unprivileged ? "unprivileged" : "privileged"))")
                } catch {
                    reverter.revert(log: log)
                    throw error
                }
            }
        }
    }

    /// Allocates the volumes asked for as `storage:size` and fills in generated values (MACs).
    func materialize(
        _ options: [String: String], vmid: Int, unprivileged: Bool, reverter: Reverter, log: @Sendable (String) -> Void
    ) throws -> [String: String] {
        var out = options
        // the root file system first, so it gets the first disk name as in PVE
        for key in options.keys.sorted(by: { ($0 == "rootfs" ? "" : $0) < ($1 == "rootfs" ? "" : $1) }) {
            guard let format = CTOptionSchema.format(key) else { continue }
            if CTOptionSchema.isVolume(key) && !key.hasPrefix("unused") {
                var props = try PropertyString.parse(options[key]!, format: format)
                guard let volume = props["volume"]?.plainText, let request = Self.newVolumeRequest(volume) else { continue }
                let made = try allocateVolume(
                    storage: request.storage, gib: request.gib, vmid: vmid, unprivileged: unprivileged, reverter: reverter, log: log)
                props["volume"] = .string(made.volid)
                props["size"] = made.size.map { .string($0) }
                out[key] = Self.printVolume(props)
            } else if Schema.indexedFamily(key) == "net" {
                var props = try PropertyString.parse(options[key]!, format: format)
                if props["hwaddr"] == nil { props["hwaddr"] = .string(MACAddress.new(fs)) }
                if props["name"] == nil { props["name"] = .string("eth\(key.dropFirst(3))") }
                if props["type"] == nil { props["type"] = "veth" }
                out[key] = Self.printProperties(props, first: "name")
            }
        }
        return out
    }

    /// A volume as PVE prints it: the volume first, then the options sorted.
    static func printVolume(_ props: [String: JSON]) -> String {
        var parts = [props["volume"]?.plainText ?? ""]
        for key in props.keys.sorted() where key != "volume" { parts.append("\(key)=\(GuestOptionSchema.configText(props[key]!))") }
        return parts.joined(separator: ",")
    }

    /// A property string with every key named, `first` first (`name=eth0,bridge=…`).
    static func printProperties(_ props: [String: JSON], first: String) -> String {
        let keys = props.keys.sorted { ($0 == first ? "" : $0) < ($1 == first ? "" : $1) }
        return keys.map { "\($0)=\(GuestOptionSchema.configText(props[$0]!))" }.joined(separator: ",")
    }
}

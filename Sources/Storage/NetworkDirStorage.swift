import Foundation
import Glibc
import Schema

/// A directory storage on a network file system the node mounts itself: `nfs`, `cifs` and `cephfs`
/// (PVE's types and options). Activation mounts the share at `path` (`/mnt/pve/<storage>` unless
/// given) unless it is mounted there already; everything else is a directory storage's. Secrets (a
/// CIFS password, a Ceph secret) live in `priv/storage/<storage>.pw` and reach the mount through a
/// root-only credentials file, never the command line.
public struct NetworkDirStorage: StoragePlugin {
    public enum Kind: String, Sendable, CaseIterable {
        case nfs, cifs, cephfs

        /// The file system types /proc/mounts shows for a mount of this kind.
        var mountTypes: Set<String> {
            switch self {
            case .nfs: ["nfs", "nfs4"]
            case .cifs: ["cifs", "smb3"]
            case .cephfs: ["ceph", "fuse.ceph-fuse"]
            }
        }

        /// The kernel module that must be there (these test machines have none of them).
        var filesystem: String {
            switch self {
            case .nfs: "nfs"
            case .cifs: "cifs"
            case .cephfs: "ceph"
            }
        }
    }

    static let fileOptions: [String: Schema] = [
        "path": Schema.string(format: "pve-storage-path").optional(), "format": Schema.string(enum: ["raw", "qcow2", "vmdk"]).optional(),
        "preallocation": Schema.string(enum: ["off", "metadata", "falloc", "full"]).optional(),
        "create-base-path": Schema.boolean().optional(), "create-subdirs": Schema.boolean().optional(), "content-dirs": Schema.string().optional(),
    ]

    static func driver(_ kind: Kind) -> StorageDriver {
        var options = fileOptions
        switch kind {
        case .nfs:
            options["server"] = Schema.string(format: "pve-storage-server")
            options["export"] = Schema.string(format: "pve-storage-path")
            options["options"] = Schema.string(format: "pve-storage-options").optional()
        case .cifs:
            options["server"] = Schema.string(format: "pve-storage-server")
            options["share"] = Schema.string()
            options["subdir"] = Schema.string(format: "pve-storage-path").optional()
            options["username"] = Schema.string().optional()
            options["password"] = Schema.string(maxLength: 256).optional()
            options["domain"] = Schema.string(maxLength: 256).optional()
            options["smbversion"] = Schema.string(enum: ["default", "2.0", "2.1", "3", "3.0", "3.11"]).optional()
            options["options"] = Schema.string(format: "pve-storage-options").optional()
        case .cephfs:
            options["monhost"] = Schema.string(format: "pve-storage-portal-dns-list").optional()
            options["username"] = Schema.string().optional()
            options["subdir"] = Schema.string(format: "pve-storage-path").optional()
            options["fs-name"] = Schema.string().optional()
            options["keyring"] = Schema.string().optional()
            options["options"] = Schema.string(format: "pve-storage-options").optional()
        }
        let content: Set<String> = kind == .cephfs ? ["vztmpl", "iso", "backup", "snippets", "import"] : DirStorage.driver.content
        return StorageDriver(
            type: kind.rawValue, content: content, defaultContent: kind == .cephfs ? ["backup"] : ["images"],
            formats: kind == .cephfs ? ["raw"] : ["raw", "qcow2", "vmdk"], defaultFormat: "raw",
            capabilities: [.snapshots, .linkedClones, .files, .fileContent, .localPaths, .shared], options: options
        ) { entry throws(StorageError) in try NetworkDirStorage(kind: kind, entry: entry) }
    }

    public let kind: Kind
    public let entry: StorageConfig.Entry
    public var capabilities: StorageCapabilities { Self.driver(kind).capabilities }
    public var defaultFormat: String { entry["format"] ?? "raw" }
    public var formats: Set<String> { Self.driver(kind).formats }
    let files: DirStorage
    let mountpoint: String

    public init(kind: Kind, entry: StorageConfig.Entry) throws(StorageError) {
        self.kind = kind
        self.entry = entry
        mountpoint = entry["path"] ?? "/mnt/pve/\(entry.id)"
        var local = entry
        if local["path"] == nil { local.options.append(.init("path", mountpoint)) }
        files = try DirStorage(entry: local)
    }

    /// What is mounted where, and the mount command (with its credentials file, if any).
    public var source: String {
        switch kind {
        case .nfs: return "\(entry["server"] ?? ""):\(entry["export"] ?? "")"
        case .cifs:
            let server = (entry["server"] ?? "").contains(":") ? "[\(entry["server"]!)]" : entry["server"] ?? ""
            return "//\(server)/\(entry["share"] ?? "")" + (entry["subdir"].map { $0.hasPrefix("/") ? $0 : "/" + $0 } ?? "")
        case .cephfs:
            let monitors = (entry["monhost"] ?? "").split(whereSeparator: { $0 == " " || $0 == "," || $0 == ";" }).joined(separator: ",")
            return "\(monitors):\(entry["subdir"] ?? "/")"
        }
    }

    /// `mount -t TYPE [-o OPTIONS] SOURCE PATH`; `credentials` is the file holding the secret, if any.
    public func mountCommand(credentials: String?) -> [String] {
        var options: [String] = []
        switch kind {
        case .nfs: break
        case .cifs:
            if let user = entry["username"] { options.append("username=\(user)") } else { options.append("guest") }
            if let credentials { options.append("credentials=\(credentials)") }
            if let domain = entry["domain"] { options.append("domain=\(domain)") }
            let version = entry["smbversion"] ?? "default"
            if version != "default" { options.append("vers=\(version)") }
        case .cephfs:
            options.append("name=\(entry["username"] ?? "admin")")
            if let credentials { options.append("secretfile=\(credentials)") }
            if let fs = entry["fs-name"] { options.append("fs=\(fs)") }
        }
        if let extra = entry["options"] { options.append(extra) }
        return ["mount", "-t", kind == .cephfs ? "ceph" : kind.rawValue] + (options.isEmpty ? [] : ["-o", options.joined(separator: ",")]) + [
            source, mountpoint,
        ]
    }

    public var isMounted: Bool {
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        return mounts.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 2 && fields[1] == mountpoint && kind.mountTypes.contains(String(fields[2]))
        }
    }

    /// The kernel can mount this kind (its module is loaded or loadable).
    public var kernelSupport: Bool {
        let known = (try? String(contentsOfFile: "/proc/filesystems", encoding: .utf8)) ?? ""
        if known.split(separator: "\n").contains(where: { $0.split(separator: "\t").last.map(String.init) == kind.filesystem }) { return true }
        return (try? Command.execute(["modprobe", "-n", kind.filesystem]))?.status == 0
    }

    public func activate() throws(StorageError) {
        guard !isMounted else { return try files.activate() }
        guard kernelSupport else {
            throw StorageError(500, "unable to activate storage '\(entry.id)' - this node's kernel cannot mount \(kind.filesystem) file systems")
        }
        do { try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true) } catch {
            throw StorageError(500, "unable to activate storage '\(entry.id)' - cannot create '\(mountpoint)': \(error.localizedDescription)")
        }
        var credentials: String?
        if let secret = entry["password"] ?? entry["keyring"] {
            let file = NSTemporaryDirectory() + "corral-mount-\(entry.id)-\(getpid())"
            let text = kind == .cifs ? "password=\(secret)\n" : secret + "\n"
            guard FileManager.default.createFile(atPath: file, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw StorageError(500, "cannot write the credentials for storage '\(entry.id)'")
            }
            credentials = file
        }
        defer { if let credentials { unlink(credentials) } }
        let result: (status: Int32, stdout: String, stderr: String)
        do { result = try Command.execute(mountCommand(credentials: credentials)) } catch { throw StorageError(wrapping: error) }
        guard result.status == 0 else {
            throw StorageError(
                500,
                "unable to activate storage '\(entry.id)' - mounting \(source) on \(mountpoint) failed: \((result.stderr + result.stdout).trimmingCharacters(in: .whitespacesAndNewlines))"
            )
        }
        try files.activate()
    }

    public func deactivate() throws(StorageError) {
        guard isMounted else { return }
        do { try Command.run(["umount", mountpoint]) } catch { throw StorageError(wrapping: error, "storage '\(entry.id)'") }
    }

    /// A share that is not mounted is not reachable: nothing is read from the empty directory below it.
    func mounted() throws(StorageError) {
        guard isMounted else { throw StorageError(500, "storage '\(entry.id)' is not mounted (\(source) on \(mountpoint))") }
    }

    public func path(_ name: String) throws(StorageError) -> String { try files.path(name) }
    public func allocate(vmid: Int, format: String, size: Int64, name: String?) throws(StorageError) -> String {
        try mounted()
        return try files.allocate(vmid: vmid, format: format, size: size, name: name)
    }
    public func free(_ name: String) throws(StorageError) {
        try mounted()
        try files.free(name)
    }
    public func list(content: String?, vmid: Int?) throws(StorageError) -> [VolumeInfo] {
        try mounted()
        return try files.list(content: content, vmid: vmid)
    }
    public func status() throws(StorageError) -> (total: Int64, used: Int64, available: Int64) {
        try mounted()
        return try files.status()
    }
    public func size(_ name: String) throws(StorageError) -> Int64 { try files.size(name) }
    public func resize(_ name: String, to bytes: Int64) throws(StorageError) { try files.resize(name, to: bytes) }
    public func canSnapshot(_ name: String) -> Bool { files.canSnapshot(name) }
    public func snapshot(_ name: String, snapshot: String) throws(StorageError) { try files.snapshot(name, snapshot: snapshot) }
    public func rollback(_ name: String, snapshot: String) throws(StorageError) { try files.rollback(name, snapshot: snapshot) }
    public func deleteSnapshot(_ name: String, snapshot: String) throws(StorageError) { try files.deleteSnapshot(name, snapshot: snapshot) }
    public func makeBase(_ name: String) throws(StorageError) -> String { try files.makeBase(name) }
    public func linkedClone(_ base: String, vmid: Int, name: String?) throws(StorageError) -> String {
        try files.linkedClone(base, vmid: vmid, name: name)
    }
    public func canLinkClone(_ name: String) -> Bool { files.canLinkClone(name) }
}

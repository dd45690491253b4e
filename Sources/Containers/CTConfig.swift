import Guests
import Schema

/// The typed view of a container's config section (`lxc/<vmid>.conf`), with PVE's defaults.
public struct CTConfig: Sendable {
    public var section: GuestConfig.Section

    public init(_ section: GuestConfig.Section) { self.section = section }

    func properties(_ key: String) -> [String: JSON] {
        guard let value = section.values[key], let format = CTOptionSchema.format(key) else { return [:] }
        return (try? PropertyString.parse(value, format: format)) ?? [:]
    }

    func flag(_ key: String, default value: Bool) -> Bool {
        guard let text = section.values[key] else { return value }
        return text == "1" || text == "on" || text == "yes" || text == "true"
    }

    func int(_ key: String, default value: Int) -> Int { section.values[key].flatMap { Int($0) } ?? value }

    public var hostname: String? { section.values["hostname"] }
    public var arch: String { section.values["arch"] ?? "amd64" }
    public var ostype: String { section.values["ostype"] ?? "unmanaged" }
    public var memoryMiB: Int { int("memory", default: 512) }
    public var swapMiB: Int { int("swap", default: 512) }
    public var cores: Int? { section.values["cores"].flatMap { Int($0) } }
    public var cpulimit: Double? { section.values["cpulimit"].flatMap { Double($0) }.flatMap { $0 > 0 ? $0 : nil } }
    public var cpuunits: Int? { section.values["cpuunits"].flatMap { Int($0) } }
    public var unprivileged: Bool { flag("unprivileged", default: false) }
    public var onboot: Bool { flag("onboot", default: false) }
    public var isTemplate: Bool { flag("template", default: false) }
    public var protection: Bool { flag("protection", default: false) }
    public var lock: String? { section.values["lock"] }
    public var ttyCount: Int { int("tty", default: 2) }
    public var consoleMode: String { section.values["cmode"] ?? "tty" }
    public var console: Bool { flag("console", default: true) }
    public var tags: [String] { Formats.splitList(section.values["tags"] ?? "") }
    public var nameservers: [String] { Formats.splitList(section.values["nameserver"] ?? "") }
    public var searchdomains: [String] { Formats.splitList(section.values["searchdomain"] ?? "") }

    /// `features`: nesting, keyctl, fuse, mknod, mount (file system types), force_rw_sys.
    public var features: [String: JSON] { properties("features") }
    public func feature(_ name: String) -> Bool { features[name].map { $0.plainText == "1" || $0 == .bool(true) } ?? false }

    /// The root file system or a mount point: a volume (or a host path, for bind mounts) mounted at `path`.
    public struct MountPoint: Sendable {
        public var key: String
        public var volume: String
        /// Where it is mounted in the container (`/` for rootfs).
        public var path: String
        public var options: [String: JSON]
        public var readOnly: Bool { options["ro"]?.plainText == "1" }
        /// A host directory or device bind-mounted as is (no storage volume).
        public var isBind: Bool { volume.hasPrefix("/") }
        public var sizeText: String? { options["size"]?.plainText }
        public var volid: String? { isBind ? nil : volume }
    }

    public var rootfs: MountPoint? {
        let props = properties("rootfs")
        guard let volume = props["volume"]?.plainText else { return nil }
        return MountPoint(key: "rootfs", volume: volume, path: "/", options: props)
    }

    /// Mount points, ordered by their path so parents mount before children.
    public var mountPoints: [MountPoint] {
        section.values.keys.filter { Schema.indexedFamily($0) == "mp" }.compactMap { key in
            let props = properties(key)
            guard let volume = props["volume"]?.plainText, let path = props["mp"]?.plainText else { return nil }
            return MountPoint(key: key, volume: volume, path: path, options: props)
        }.sorted { $0.path.count < $1.path.count || ($0.path.count == $1.path.count && $0.key < $1.key) }
    }

    /// Every volume the config holds: rootfs, mount points and unused ones.
    public var volumes: [(key: String, volid: String)] {
        var out: [(String, String)] = []
        if let root = rootfs, let volid = root.volid { out.append(("rootfs", volid)) }
        for mp in mountPoints { if let volid = mp.volid { out.append((mp.key, volid)) } }
        for key in section.values.keys.sorted() where Schema.indexedFamily(key) == "unused" {
            if let volume = properties(key)["volume"]?.plainText ?? section.values[key] { out.append((key, volume)) }
        }
        return out
    }

    public struct NIC: Sendable {
        public var key: String
        public var index: Int
        public var options: [String: JSON]
        public var name: String { options["name"]?.plainText ?? "eth\(index)" }
        public var bridge: String? { options["bridge"]?.plainText }
        public var hwaddr: String? { options["hwaddr"]?.plainText }
        public var ip: String? { options["ip"]?.plainText }
        public var gw: String? { options["gw"]?.plainText }
        public var ip6: String? { options["ip6"]?.plainText }
        public var gw6: String? { options["gw6"]?.plainText }
        public var mtu: Int? { options["mtu"]?.intValue.map(Int.init) }
        public var tag: Int? { options["tag"]?.intValue.map(Int.init) }
        public var rate: Double? { options["rate"].flatMap { Double($0.plainText) } }
        public var linkDown: Bool { options["link_down"]?.plainText == "1" }
    }

    public var nics: [NIC] {
        section.values.keys.filter { Schema.indexedFamily($0) == "net" }.compactMap { key in
            guard let index = Int(key.dropFirst(3)) else { return nil }
            return NIC(key: key, index: index, options: properties(key))
        }.sorted { $0.index < $1.index }
    }
}

import Foundation
import Guests
import LXC
import Schema
import Storage

/// Containers as one kind of guest: what the shared guest code (snapshots, clones, templates,
/// resource rows, backup, migration) needs to know of them. Snapshots freeze the container for the
/// moment they take; storages that cannot snapshot (a dir storage's raw images and directories)
/// make the call fail before anything changes.
extension ContainerManager: GuestBackend {
    /// The volumes snapshots and copies cover: the rootfs and volume mount points (bind mounts and
    /// mount points with `backup=0` excluded).
    public func volumes(_ section: GuestConfig.Section) throws -> [GuestVolume] {
        let ct = CTConfig(section)
        return try ([ct.rootfs].compactMap { $0 } + ct.mountPoints).compactMap { mp in
            guard let volid = mp.volid, mp.options["backup"]?.plainText != "0" || mp.key == "rootfs", let id = VolumeID(volid) else { return nil }
            return GuestVolume(key: mp.key, volid: volid, plugin: try storage.plugin(id.storage))
        }
    }

    public func replacingVolume(in section: GuestConfig.Section, key: String, with volid: String) throws -> String {
        guard let format = CTOptionSchema.format(key), let value = section[key] else { throw GuestError(500, "no volume '\(key)'") }
        var props = try PropertyString.parse(value, format: format)
        props["volume"] = .string(volid)
        return Self.printVolume(props)
    }

    public func isTemplate(_ section: GuestConfig.Section) -> Bool { CTConfig(section).isTemplate }

    public func clonedSection(_ section: GuestConfig.Section, newid: Int, name: String?, description: String?) -> GuestConfig.Section {
        var section = section
        for nic in CTConfig(section).nics {
            var props = nic.options
            props["hwaddr"] = .string(MACAddress.new(fs))
            section[nic.key] = Self.printProperties(props, first: "name")
        }
        section["hostname"] = name ?? "CT\(newid)"
        if let description { section.description = description }
        return section
    }

    public var resourceOmittedKeys: [String] { ["pid", "maxswap", "swap", "frozen", "ha"] }

    public func startLocked(_ vmid: Int, log: @escaping @Sendable (String) -> Void) throws { try startContainer(vmid, log: log) }

    public func freeze(_ vmid: Int) throws {
        do { try container(vmid).freeze() } catch { throw GuestError(wrapping: error) }
    }

    public func thaw(_ vmid: Int) throws {
        do { try container(vmid).unfreeze() } catch { throw GuestError(wrapping: error) }
    }

    /// The storage snapshot of every volume, with the container frozen meanwhile (if it runs).
    public func takeSnapshot(
        _ vmid: Int, name: String, volumes: [GuestVolume], vmstate: Bool, log: @escaping @Sendable (String) -> Void
    ) throws -> Bool {
        // a container the user froze stays frozen; a running one is frozen for the moment
        let container = try container(vmid)
        try snapshotOnStorages(vmid, name: name, volumes: volumes, pause: container.isRunning && container.state == "RUNNING", log: log)
        return false
    }
}

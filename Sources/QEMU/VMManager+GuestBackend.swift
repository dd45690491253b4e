import Foundation
import Guests
import Libvirt
import Schema
import Storage

/// VMs as one kind of guest: what the shared guest code (snapshots, clones, templates, resource
/// rows, backup, migration) needs to know of them.
extension VMManager: GuestBackend {
    /// Disks that snapshots and copies cover (CD-ROMs and host paths excluded).
    public func volumes(_ section: GuestConfig.Section) throws -> [GuestVolume] {
        try VMConfig(section).drives.filter { !$0.isCDROM && $0.volid.flatMap(VolumeID.init) != nil }.map { drive in
            GuestVolume(key: drive.key, volid: drive.volid!, plugin: try storage.plugin(VolumeID(drive.volid!)!.storage))
        }
    }

    public func replacingVolume(in section: GuestConfig.Section, key: String, with volid: String) throws -> String {
        guard let format = VMOptionSchema.format(key), let value = section[key] else { throw QEMUError(500, "no disk '\(key)'") }
        var props = try PropertyString.parse(value, format: format)
        props["file"] = .string(volid)
        return Self.printDrive(props, format: format)
    }

    public func isTemplate(_ section: GuestConfig.Section) -> Bool { VMConfig(section).isTemplate }

    public func clonedSection(_ section: GuestConfig.Section, newid: Int, name: String?, description: String?) -> GuestConfig.Section {
        var section = section
        section["name"] = name ?? "Copy-of-VM-\(section["name"] ?? "\(newid)")"
        if let description { section.description = description }
        section["smbios1"] = "uuid=\(UUID().uuidString.lowercased())"
        section["vmgenid"] = UUID().uuidString.lowercased()
        for nic in VMConfig(section).nics {
            var props = nic.options
            props["macaddr"] = .string(Self.randomMAC(prefix: macPrefix()))
            section[nic.key] = Self.printNIC(props, format: VMOptionSchema.format(nic.key)!)
        }
        // the clone gets a cloud-init volume of its own, made at its first start (the image is generated anyway)
        for drive in VMConfig(section).drives where CloudInit.isCloudInitFile(drive.file) {
            guard let id = VolumeID(drive.file), let format = VMOptionSchema.format(drive.key) else { continue }
            var props = drive.options
            props["file"] = .string("\(id.storage):cloudinit")
            section[drive.key] = Self.printDrive(props, format: format)
        }
        return section
    }

    public var resourceOmittedKeys: [String] { ["qmpstatus", "ha", "running-machine", "pid", "agent", "freemem", "balloon"] }

    public func startLocked(_ vmid: Int, log: @escaping @Sendable (String) -> Void) throws { try startDomain(vmid, log: log) }

    public func stopLocked(_ vmid: Int) async throws {
        guard let domain = try domain(vmid), isRunning(vmid) else { return }
        try domain.destroy()
        try await waitGone(vmid, timeout: 30)
    }

    public func freeze(_ vmid: Int) throws { try runningDomain(vmid).suspend() }
    public func thaw(_ vmid: Int) throws { try runningDomain(vmid).resume() }
}

import Foundation
import Guests
import Schema
import Storage

/// What a restore needs from the VM side: the archived config made this VM's again.
extension VMManager {
    /// The archived section with its disks on their new volumes (`key` → volid, bytes), excluded disks
    /// commented out as PVE does, a new vmgenid, and with `unique` new MACs and SMBIOS UUID.
    public func restoredSection(
        _ archived: GuestConfig.Section, volumes: [String: (volid: String, bytes: UInt64)], unique: Bool
    ) -> GuestConfig.Section {
        var section = archived
        section["lock"] = nil
        for (key, value) in archived.values where VMOptionSchema.isDrive(key) {
            guard let format = VMOptionSchema.format(key), var props = try? PropertyString.parse(value, format: format) else { continue }
            if let volume = volumes[key] {
                props["file"] = .string(volume.volid)
                props["size"] = .string(DiskSize.text(Int64(volume.bytes)))
                props["format"] = nil
                section[key] = Self.printDrive(props, format: format)
            } else if props["media"]?.plainText != "cdrom", !CloudInit.isCloudInitFile(props["file"]?.plainText ?? "") {
                // a disk that was not in the archive (backup=0) is not the restored VM's
                section[key] = nil
                section.description = (section.description.map { $0 + "\n" } ?? "") + "#\(key): \(value)"
            } else if let file = props["file"]?.plainText, CloudInit.isCloudInitFile(file), let id = VolumeID(file) {
                props["file"] = .string("\(id.storage):cloudinit")
                section[key] = Self.printDrive(props, format: format)
            }
        }
        if section["vmgenid"] != nil { section["vmgenid"] = UUID().uuidString.lowercased() }
        if unique {
            for nic in VMConfig(section).nics {
                var props = nic.options
                props["macaddr"] = .string(Self.randomMAC(prefix: macPrefix()))
                section[nic.key] = Self.printNIC(props, format: VMOptionSchema.format(nic.key)!)
            }
            if let smbios = section["smbios1"] {
                section["smbios1"] = smbios.split(separator: ",").map {
                    $0.hasPrefix("uuid=") ? "uuid=\(UUID().uuidString.lowercased())" : String($0)
                }
                .joined(separator: ",")
            }
        }
        return section
    }
}

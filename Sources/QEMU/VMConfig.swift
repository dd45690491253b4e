import Guests
import Schema
import Storage

/// A typed view of a VM's config section: the options the domain XML and the API need, read through
/// the option schema (so `memory: 512` and `memory: current=512` mean the same).
public struct VMConfig: Sendable {
    public var section: GuestConfig.Section

    public init(_ section: GuestConfig.Section) { self.section = section }

    public subscript(key: String) -> String? { section.values[key] }

    /// A property-string option parsed against its format (empty when absent or malformed).
    public func properties(_ key: String) -> [String: JSON] {
        guard let text = section.values[key], let format = VMOptionSchema.format(key) else { return [:] }
        return (try? PropertyString.parse(text, format: format)) ?? [:]
    }

    func flag(_ key: String, default value: Bool) -> Bool {
        guard let text = section.values[key] else { return value }
        return ["1", "true", "yes", "on"].contains(text.lowercased())
    }

    func int(_ key: String, default value: Int) -> Int { section.values[key].flatMap { Int($0) } ?? value }

    public var name: String? { section.values["name"] }
    public var memoryMiB: Int { properties("memory")["current"]?.intValue.map(Int.init) ?? int("memory", default: 512) }
    /// 0 disables the balloon device; unset means "same as memory".
    public var balloonMiB: Int? { section.values["balloon"].flatMap { Int($0) } }
    public var sockets: Int { int("sockets", default: 1) }
    public var cores: Int { int("cores", default: 1) }
    public var maxVCPUs: Int { sockets * cores }
    public var vcpus: Int { min(int("vcpus", default: maxVCPUs), maxVCPUs) }
    public var kvm: Bool { flag("kvm", default: true) }
    public var acpi: Bool { flag("acpi", default: true) }
    public var tablet: Bool { flag("tablet", default: true) }
    public var onboot: Bool { flag("onboot", default: false) }
    public var isTemplate: Bool { flag("template", default: false) }
    public var protection: Bool { flag("protection", default: false) }
    public var lock: String? { section.values["lock"] }
    public var tags: [String] { Formats.splitList(section.values["tags"] ?? "") }

    /// One disk or CD-ROM drive.
    public struct Drive: Sendable {
        public var key: String
        public var bus: String
        public var index: Int
        public var file: String
        public var options: [String: JSON]
        public var isCDROM: Bool { options["media"]?.plainText == "cdrom" || file == "cdrom" }
        public var isNone: Bool { file == "none" }
        /// The volume of a disk on a storage (nil for CD-ROMs without media and for host paths).
        public var volid: String? { file.hasPrefix("/") || file == "none" || file == "cdrom" ? nil : file }
        public var sizeText: String? { options["size"]?.plainText }
    }

    /// Drives in key order (ide, sata, scsi, virtio; then index), `unused*` excluded.
    public var drives: [Drive] {
        section.values.keys.compactMap { key -> Drive? in
            guard let family = Schema.indexedFamily(key), VMOptionSchema.buses[family] != nil,
                let index = Int(key.dropFirst(family.count))
            else { return nil }
            let options = properties(key)
            guard let file = options["file"]?.plainText else { return nil }
            return Drive(key: key, bus: family, index: index, file: file, options: options)
        }.sorted { ($0.bus, $0.index) < ($1.bus, $1.index) }
    }

    /// Volumes referenced as `unused[n]`.
    public var unusedVolumes: [(key: String, volid: String)] {
        section.values.keys.filter { $0.hasPrefix("unused") }.sorted().compactMap { key in
            properties(key)["file"].map { (key, $0.plainText) }
        }
    }

    public struct NIC: Sendable {
        public var key: String
        public var index: Int
        public var options: [String: JSON]
        public var model: String { options["model"]?.plainText ?? "virtio" }
        public var mac: String? { options["macaddr"]?.plainText }
        public var bridge: String? { options["bridge"]?.plainText }
    }

    public var nics: [NIC] {
        section.values.keys.compactMap { key -> NIC? in
            guard Schema.indexedFamily(key) == "net", let index = Int(key.dropFirst(3)) else { return nil }
            return NIC(key: key, index: index, options: properties(key))
        }.sorted { $0.index < $1.index }
    }

    /// The boot order as device keys (`order=scsi0;ide2;net0`; legacy `cdn` letters mapped as PVE does).
    public var bootOrder: [String] {
        let boot = properties("boot")
        if let order = boot["order"]?.plainText { return order.split(separator: ";").map(String.init) }
        let legacy = boot["legacy"]?.plainText ?? (section.values["boot"].flatMap { $0.contains("=") ? nil : $0 } ?? "cdn")
        var out: [String] = []
        for letter in legacy {
            switch letter {
            case "c":
                let bootdisk = section.values["bootdisk"] ?? drives.first { !$0.isCDROM }?.key
                if let bootdisk { out.append(bootdisk) }
            case "d": out += drives.filter(\.isCDROM).map(\.key)
            case "n": out += nics.map(\.key)
            default: break
            }
        }
        return out
    }

    /// The SMBIOS UUID (PVE generates one at create and keeps it).
    public var uuid: String? { properties("smbios1")["uuid"]?.plainText }
}

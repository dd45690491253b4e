import ClusterFS
import Foundation
import Guests
import Schema
import Storage

extension VMManager {
    /// A disk given as `storage:size` (`local:8`) asks for a new volume of that many GiB.
    static func newDiskRequest(_ file: String) -> (storage: String, gib: Double)? {
        guard let id = VolumeID(file), let gib = id.newVolumeGiB, gib > 0 else { return nil }
        return (id.storage, gib)
    }

    /// The text a config line holds for a validated value (booleans as 1/0, as PVE writes them).
    static func configText(_ value: JSON) -> String { GuestOptionSchema.configText(value) }

    /// Checks what can be checked before anything is made: storages exist and hold images, ISO
    /// volumes exist, no option refers to what this build cannot do at create. Errors name the parameter.
    func precheck(_ options: [String: String]) throws {
        var errors: [String: String] = [:]
        for (key, value) in options where VMOptionSchema.isDrive(key) {
            let props = (try? PropertyString.parse(value, format: VMOptionSchema.format(key)!)) ?? [:]
            guard let file = props["file"]?.plainText else { continue }
            if let volume = VolumeID(file), volume.name == "cloudinit" {
                do {
                    if !(try storage.plugin(volume.storage)).entry.content.contains("images") {
                        errors[key] = "storage '\(volume.storage)' does not hold disk images"
                    }
                } catch { errors[key] = "\(error)" }
                continue
            }
            if let source = props["import-from"]?.plainText {
                guard let volume = VolumeID(file), volume.newVolumeGiB == 0 else {
                    errors[key] = "import-from needs a new volume of size 0 as its target (STORAGE:0)"
                    continue
                }
                do {
                    let plugin = try storage.plugin(volume.storage)
                    if !plugin.entry.content.contains("images") { errors[key] = "storage '\(volume.storage)' does not hold disk images" }
                    _ = try Self.imageInfo(try importPath(source))
                } catch { errors[key] = "\(error)" }
                continue
            }
            if let request = Self.newDiskRequest(file) {
                do {
                    let plugin = try storage.plugin(request.storage)
                    if !plugin.entry.content.contains("images") { errors[key] = "storage '\(request.storage)' does not hold disk images" }
                    if let format = props["format"]?.plainText, !plugin.formats.contains(format) {
                        errors[key] = "storage '\(request.storage)' does not support format '\(format)'"
                    }
                } catch { errors[key] = "\(error)" }
            } else if let volid = VolumeID(file) {
                do {
                    let path = try storage.path(volid.description)
                    if NetworkDiskSource(path) != nil {
                        // a volume QEMU reaches over the network: its storage says whether it is there
                        _ = try storage.plugin(volid.storage).size(volid.name)
                    } else if !FileManager.default.fileExists(atPath: path) {
                        errors[key] = "volume '\(file)' does not exist"
                    }
                } catch { errors[key] = "\(error)" }
            }
        }
        if let hook = options["hookscript"] {
            do { _ = try GuestHookScript.path(hook, storage: storage) } catch { errors["hookscript"] = "\(error)" }
        }
        if !errors.isEmpty { throw QEMUError(400, "Parameter verification failed.", errors: errors) }
    }

    /// Allocates the disks asked for as `storage:size` and fills in generated values (MAC addresses);
    /// every allocation registers its undo with `reverter`.
    func materialize(_ options: [String: String], vmid: Int, reverter: Reverter, log: @Sendable (String) -> Void) throws -> [String: String] {
        var out = options
        for key in options.keys.sorted() {
            let value = options[key]!
            if VMOptionSchema.isDrive(key), let format = VMOptionSchema.format(key) {
                var props = try PropertyString.parse(value, format: format)
                guard let file = props["file"]?.plainText else { continue }
                if let volume = VolumeID(file), volume.name == "cloudinit" {
                    out[key] = try allocateCloudInit(props, storage: volume.storage, vmid: vmid, format: format, reverter: reverter)
                    log("\(key): successfully created disk '\(out[key]!)'")
                    continue
                }
                if let source = props["import-from"]?.plainText, let target = VolumeID(file) {
                    let imported = try importDisk(
                        source: source, storage: target.storage, format: props["format"]?.plainText, vmid: vmid, reverter: reverter, log: log)
                    props["file"] = .string(imported.volid)
                    props["size"] = .string(DiskSize.text(imported.bytes))
                    props["format"] = nil
                    props["import-from"] = nil
                    out[key] = Self.printDrive(props, format: format)
                    continue
                }
                guard let request = Self.newDiskRequest(file) else {
                    // an existing volume: its size is the storage's to say, whatever the caller sent (as PVE)
                    if props["media"]?.plainText != "cdrom", let volume = VolumeID(file), let plugin = try? storage.plugin(volume.storage),
                        let bytes = try? plugin.size(volume.name)
                    {
                        props["size"] = .string(DiskSize.text(bytes))
                        out[key] = Self.printDrive(props, format: format)
                    }
                    continue
                }
                let plugin = try storage.plugin(request.storage)
                let fmt = props["format"]?.plainText ?? plugin.defaultFormat
                let bytes = Int64(request.gib * 1_073_741_824)
                let name = try plugin.allocate(vmid: vmid, format: fmt, size: bytes, name: nil)
                let volid = "\(request.storage):\(name)"
                log("allocated \(volid) (\(DiskSize.text(bytes)), \(fmt))")
                let storage = storage
                reverter.add("free \(volid)") { try storage.free(volid) }
                props["file"] = .string(volid)
                props["size"] = .string(DiskSize.text(bytes))
                props["format"] = nil
                if key == "efidisk0" { props["efitype"] = props["efitype"] ?? "4m" }
                out[key] = Self.printDrive(props, format: format)
            } else if Schema.indexedFamily(key) == "net", let format = VMOptionSchema.format(key) {
                var props = try PropertyString.parse(value, format: format)
                if props["macaddr"] == nil { props["macaddr"] = .string(Self.randomMAC(prefix: macPrefix())) }
                out[key] = Self.printNIC(props, format: format)
            }
        }
        return out
    }

    func macPrefix() -> String? { MACAddress.datacenterPrefix(fs) }

    static func randomMAC(prefix: String?) -> String { MACAddress.random(prefix: prefix) }

    /// A drive as PVE prints it: the volume first, then the options sorted.
    static func printDrive(_ props: [String: JSON], format: PropertyStringFormat) -> String {
        var parts = [props["file"]?.plainText ?? "none"]
        for key in props.keys.sorted() where key != "file" { parts.append("\(key)=\(configText(props[key]!))") }
        return parts.joined(separator: ",")
    }

    /// A NIC as PVE prints it: `model=MAC` first.
    static func printNIC(_ props: [String: JSON], format: PropertyStringFormat) -> String {
        var parts: [String] = []
        let model = props["model"]?.plainText ?? "virtio"
        if let mac = props["macaddr"]?.plainText { parts.append("\(model)=\(mac)") } else { parts.append(model) }
        for key in props.keys.sorted() where key != "model" && key != "macaddr" { parts.append("\(key)=\(configText(props[key]!))") }
        return parts.joined(separator: ",")
    }

    /// The config options among validated API parameters, as config text.
    static func options(from parameters: [String: JSON]) -> [String: String] { VMOptionSchema.schema.options(from: parameters) }

    /// Creates a VM: reserves the VMID by creating its config (`lock: create`), allocates the disks,
    /// then writes the final config. Any failure removes everything made so far.
    public func create(vmid: Int, parameters: [String: JSON], log: @escaping @Sendable (String) -> Void) async throws {
        var options = Self.options(from: parameters)
        try await locks.with(vmid, what: "create VM \(vmid)") {
            let reverter = Reverter()
            do {
                try store.reserve(vmid, lock: "create")
                let path = configPath(vmid), fs = fs
                reverter.add("remove \(path)") { try fs.delete(path) }
                options = try materialize(options, vmid: vmid, reverter: reverter, log: log)
                if options["smbios1"] == nil { options["smbios1"] = "uuid=\(UUID().uuidString.lowercased())" }
                if options["vmgenid"] == nil || options["vmgenid"] == "1" { options["vmgenid"] = UUID().uuidString.lowercased() }
                let description = options.removeValue(forKey: "description")
                var config = GuestConfig()
                config.current = GuestConfig.Section(values: options, description: description)
                config.current["meta"] = "creation-qemu=corral,ctime=\(Int(Date().timeIntervalSince1970))"
                try save(vmid, config)
                reverter.succeed()
                log("created VM \(vmid)")
            } catch {
                reverter.revert(log: log)
                throw error
            }
        }
    }
}

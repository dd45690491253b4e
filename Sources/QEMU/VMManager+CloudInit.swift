import Foundation
import Guests
import Libvirt
import Schema
import Storage

/// The cloud-init drive: a 4 MiB volume (`vm-<vmid>-cloudinit`) that holds an ISO 9660 image of the
/// files `CloudInit` generates. It is made when a drive is set to `STORAGE:cloudinit`, written at
/// every start and on `PUT …/cloudinit`, and freed with the drive.
extension VMManager {
    static let cloudInitBytes: Int64 = 4 << 20
    /// The files must fit the 4 MiB volume with room for the ISO's own structures.
    static let cloudInitMaxFiles = 3 << 20

    /// Allocates the volume for a `STORAGE:cloudinit` drive; returns the new drive value.
    func allocateCloudInit(_ props: [String: JSON], storage id: String, vmid: Int, format: PropertyStringFormat, reverter: Reverter) throws -> String
    {
        let plugin = try storage.plugin(id)
        guard plugin.entry.content.contains("images") else { throw QEMUError(400, "storage '\(id)' does not hold disk images") }
        let files = plugin.capabilities.contains(.files)
        let fmt = props["format"]?.plainText ?? (files ? "qcow2" : "raw")
        let name = try plugin.allocate(
            vmid: vmid, format: fmt, size: Self.cloudInitBytes, name: files ? "vm-\(vmid)-cloudinit.\(fmt)" : "vm-\(vmid)-cloudinit")
        let volid = "\(id):\(name)"
        let storage = storage
        reverter.add("free \(volid)") { try storage.free(volid) }
        var out = props
        out["file"] = .string(volid)
        out["media"] = "cdrom"
        out["format"] = nil
        out["size"] = nil
        return Self.printDrive(out, format: format)
    }

    /// A drive still naming `STORAGE:cloudinit` (a clone's, before its first start) gets its volume.
    func allocateMissingCloudInit(_ vmid: Int, _ section: inout GuestConfig.Section, log: @Sendable (String) -> Void) throws -> Bool {
        var changed = false
        for key in Self.cloudInitDrives(section.values) {
            guard let format = VMOptionSchema.format(key), let props = try? PropertyString.parse(section[key]!, format: format),
                let file = props["file"]?.plainText, let id = VolumeID(file), id.name == "cloudinit"
            else { continue }
            section[key] = try allocateCloudInit(props, storage: id.storage, vmid: vmid, format: format, reverter: Reverter())
            log("\(key): allocated \(section[key]!)")
            changed = true
        }
        return changed
    }

    /// The keys of drives that hold a cloud-init volume.
    static func cloudInitDrives(_ values: [String: String]) -> [String] {
        values.keys.filter { key in
            guard VMOptionSchema.isDrive(key), let format = VMOptionSchema.format(key),
                let file = (try? PropertyString.parse(values[key]!, format: format))?["file"]?.plainText
            else { return false }
            return CloudInit.isCloudInitFile(file)
        }.sorted()
    }

    func hostResolvConf() -> String { (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? "" }

    func cloudInit(_ vmid: Int, _ values: [String: String]) -> CloudInit {
        CloudInit(options: values, vmid: vmid, hostResolvConf: hostResolvConf())
    }

    /// Reads the `cicustom` snippets (each a volume of content `snippets`, at most 1 MiB).
    func cloudInitCustom(_ values: [String: String]) throws -> (String) throws -> String? {
        var parts: [String: String] = [:]
        for part in (values["cicustom"] ?? "").split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { parts[kv[0]] = kv[1] }
        }
        let storage = storage
        return { kind in
            guard let volid = parts[kind] else { return nil }
            guard let id = VolumeID(volid), id.name.hasPrefix("snippets/") else { throw QEMUError(500, "\(volid) is not in the snippets directory") }
            let path = try storage.path(volid)
            guard let data = FileManager.default.contents(atPath: path) else { throw QEMUError(500, "cannot read \(volid) (\(path))") }
            guard data.count <= 1 << 20 else { throw QEMUError(500, "file '\(path)' too long - aborting") }
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// Writes the image into every cloud-init volume of the config. Blocking (genisoimage, qemu-img).
    func writeCloudInit(_ vmid: Int, _ values: [String: String], log: @Sendable (String) -> Void) throws {
        let keys = Self.cloudInitDrives(values)
        guard !keys.isEmpty else { return }
        let ci = cloudInit(vmid, values)
        let files = try ci.files(custom: try cloudInitCustom(values))
        guard files.values.reduce(0, { $0 + $1.utf8.count }) <= Self.cloudInitMaxFiles else {
            throw QEMUError(500, "Cloud-Init sum of snippets too big (> 3 MiB)")
        }
        let staging = "\(runDirectory)/cloudinit/\(vmid)"
        try? FileManager.default.removeItem(atPath: staging)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let root = staging + "/files"
        for (path, text) in files {
            let full = root + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: full))
        }
        let iso = staging + "/image.iso"
        log("generating cloud-init ISO")
        do {
            try Command.run(["genisoimage", "-quiet", "-iso-level", "3", "-J", "-R", "-V", ci.label, "-o", iso, root])
        } catch { throw QEMUError(500, "making the cloud-init image failed: \(error)") }
        for key in keys {
            let drive = VMConfig(GuestConfig.Section(values: [key: values[key]!]))
            guard let volid = drive.properties(key)["file"]?.plainText, let id = VolumeID(volid) else { continue }
            let plugin = try storage.plugin(id.storage)
            try plugin.activateVolume(id.name)
            let path = try storage.path(volid)
            guard NetworkDiskSource(path) == nil else { throw QEMUError(500, "\(key): a cloud-init drive on a network volume is not supported") }
            // the image is written over the start of the volume, whose size stays 4 MiB (PVE's qemu-img dd)
            let size = try plugin.size(id.name)
            guard let handle = FileHandle(forUpdatingAtPath: iso) else { throw QEMUError(500, "cannot open \(iso)") }
            let isoSize = Int64(try handle.seekToEnd())
            guard isoSize <= size else { throw QEMUError(500, "the cloud-init image (\(isoSize) bytes) does not fit \(volid)") }
            try handle.truncate(atOffset: UInt64(size))
            try handle.close()
            let format = path.hasSuffix(".qcow2") ? "qcow2" : path.hasSuffix(".vmdk") ? "vmdk" : "raw"
            do {
                try Command.run(["qemu-img", "convert", "-n", "-f", "raw", "-O", format, iso, path])
            } catch { throw QEMUError(500, "writing \(volid) failed: \(error)") }
        }
    }

    /// `PUT …/cloudinit`: writes the image again from the current config; a running VM gets its
    /// medium ejected first and inserted after, as a CD-ROM change.
    public func regenerateCloudInit(_ vmid: Int, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, timeout: 10, what: "update cloud-init of VM \(vmid)") {
            let (config, _) = try load(vmid)
            try checkLock(config, vmid)
            let keys = Self.cloudInitDrives(config.current.values)
            guard !keys.isEmpty else { return }
            let running = isRunning(vmid)
            let domain = running ? try domain(vmid) : nil
            let vm = VMConfig(config.current)
            let drives = vm.drives.filter { keys.contains($0.key) }
            let context = domainContext(vmid)
            if let domain {
                for drive in drives { try domain.updateDevice(xml: try Self.diskXML(drive, config: vm, context: context, ejected: true)) }
            }
            try writeCloudInit(vmid, config.current.values, log: log)
            if let domain {
                for drive in drives { try domain.updateDevice(xml: try Self.diskXML(drive, config: vm, context: context, ejected: false)) }
            }
            if config.special["cloudinit"] != nil { _ = try modify(vmid) { $0.special["cloudinit"] = nil } }
        }
    }

    static func diskXML(_ drive: VMConfig.Drive, config: VMConfig, context: DomainContext, ejected: Bool) throws -> String {
        var x = XMLWriter()
        try DomainXML.disk(drive, config: config, context: context, order: config.bootOrder, &x)
        guard ejected else { return x.text }
        return x.text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("<source ") }.joined(separator: "\n")
    }

    // MARK: what changed since the image was made

    /// Keys whose changes on a running VM are remembered in `[special:cloudinit]` until the next image.
    static func isCloudInitTracked(_ key: String) -> Bool {
        CloudInit.keys.contains(key) || key == "name" || ["ipconfig", "net"].contains(Schema.indexedFamily(key) ?? "")
    }

    /// Records one change of a running VM's cloud-init option: the value the image still has, or the
    /// key in `added`; a change back to what the image has forgets the record (PVE's rules).
    static func recordCloudInitChange(_ key: String, old: String?, new: String?, in section: inout GuestConfig.Section) {
        var added = Set((section["added"] ?? "").split(separator: ",").map(String.init))
        let recorded = section[key]
        switch (old, new) {
        case (.some, .some(let new)):
            if let recorded {
                if recorded == new {
                    section[key] = nil
                    added.remove(key)
                }
            } else if !added.contains(key) {
                section[key] = old
            }
        case (.none, .some(let new)):
            if let recorded {
                if recorded == new {
                    section[key] = nil
                    added.remove(key)
                }
            } else {
                added.insert(key)
            }
        case (.some(let old), .none):
            if recorded == nil {
                if added.contains(key) { added.remove(key) } else { section[key] = old }
            }
        case (.none, .none): break
        }
        section["added"] = added.isEmpty ? nil : added.sorted().joined(separator: ",")
    }

    /// `GET …/cloudinit`: each set option with the value the image has and the pending one.
    public func cloudInitPending(_ vmid: Int) throws -> [JSON] {
        let (config, _) = try load(vmid)
        var current = config.current.values
        var image = config.special["cloudinit"]?.values ?? [:]
        if current["cipassword"] != nil { current["cipassword"] = "**********" }
        if image["cipassword"] != nil { image["cipassword"] = "**********" }
        let added = (image.removeValue(forKey: "added") ?? "").split(whereSeparator: { ",; ".contains($0) }).map(String.init)
        var out: [JSON] = added.map { .object(["key": .string($0), "pending": current[$0].map(JSON.string) ?? .null]) }
        let truthy: (String?) -> Bool = { $0 != nil && $0 != "" && $0 != "0" }
        for key in CloudInit.keys.sorted() where truthy(current[key]) && !added.contains(key) {
            if truthy(image[key]) {
                out.append(["key": .string(key), "value": .string(image[key]!), "pending": .string(current[key]!)])
            } else {
                out.append(["key": .string(key), "value": .string(current[key]!)])
            }
        }
        for key in image.keys.sorted() where !truthy(current[key]) { out.append(["key": .string(key), "delete": 1]) }
        return out
    }
}

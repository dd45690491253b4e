import Guests
import Schema

/// What the domain XML needs besides the config: names and paths on this node.
public struct DomainContext: Sendable {
    public var domainName: String
    public var vmid: Int
    public var node: String
    /// Where the VNC, serial and guest-agent sockets go.
    public var runDirectory: String
    /// Where serial console logs go.
    public var logDirectory: String
    /// A volume's local path and whether it is a block device.
    public var resolve: @Sendable (String) throws -> (path: String, block: Bool)

    public init(
        domainName: String, vmid: Int, node: String, runDirectory: String, logDirectory: String,
        resolve: @escaping @Sendable (String) throws -> (path: String, block: Bool)
    ) {
        self.domainName = domainName
        self.vmid = vmid
        self.node = node
        self.runDirectory = runDirectory
        self.logDirectory = logDirectory
        self.resolve = resolve
    }

    public func vncSocket() -> String { "\(runDirectory)/\(vmid).vnc" }
    public func serialSocket(_ n: Int) -> String { "\(runDirectory)/\(vmid).serial\(n)" }
    public func serialLog(_ n: Int) -> String { "\(logDirectory)/\(vmid).serial\(n).log" }
    public func agentSocket() -> String { "\(runDirectory)/\(vmid).qga" }
}

/// Translates a VM config into libvirt domain XML. Pure: the same config and context always give the
/// same text, which the golden tests (`Tests/QEMUTests/Fixtures`) pin down.
public enum DomainXML {
    public struct Unsupported: Error, CustomStringConvertible {
        public let options: [String]
        public var description: String {
            "option(s) \(options.joined(separator: ", ")) are stored but not supported at start by this version of Corral; remove them to start the VM"
        }
    }

    /// Options that are stored but cannot be applied yet: starting refuses them by name.
    static let unsupportedFamilies: Set<String> = [
        "hostpci", "usb", "parallel", "virtiofs", "numa",
    ]
    static let unsupportedKeys: Set<String> = [
        "audio0", "ivshmem", "amd-sev", "intel-tdx", "tpmstate0", "spice_enhancements", "tdf",
        "startdate", "hugepages", "keephugepages",
    ]

    public static func unsupported(_ config: VMConfig) -> [String] {
        var out = config.section.values.keys.filter { key in
            unsupportedKeys.contains(key) || Schema.indexedFamily(key).map { unsupportedFamilies.contains($0) && key != "numa" } ?? false
        }
        if config.properties("vga")["type"].map({ ["qxl2", "qxl3", "qxl4", "virtio-gl"].contains($0.plainText) }) == true { out.append("vga") }
        if config.bootOrder.contains(where: { $0.hasPrefix("hostpci") || $0.hasPrefix("usb") }) { out.append("boot") }
        return out.sorted()
    }

    static let scsiModels = [
        "lsi": "lsilogic", "lsi53c810": "lsilogic", "megasas": "megasas", "pvscsi": "vmpvscsi",
        "virtio-scsi-pci": "virtio-scsi", "virtio-scsi-single": "virtio-scsi",
    ]
    static let nicModels = [
        "virtio": "virtio", "e1000": "e1000", "e1000e": "e1000e", "rtl8139": "rtl8139", "vmxnet3": "vmxnet3",
        "e1000-82540em": "e1000-82540em", "e1000-82544gc": "e1000-82544gc", "e1000-82545em": "e1000-82545em",
        "i82551": "i82551", "i82557b": "i82557b", "i82559er": "i82559er", "ne2k_isa": "ne2k_isa", "ne2k_pci": "ne2k_pci", "pcnet": "pcnet",
    ]
    static let videoModels = ["std": "vga", "cirrus": "cirrus", "vmware": "vmvga", "qxl": "qxl", "virtio": "virtio", "none": "none"]

    public static func generate(_ config: VMConfig, context: DomainContext) throws -> String {
        let bad = unsupported(config)
        guard bad.isEmpty else { throw Unsupported(options: bad) }
        var x = XMLWriter()
        let windows = (config["ostype"] ?? "").hasPrefix("w")
        x.open(
            "domain", ["type": config.kvm ? "kvm" : "qemu", "xmlns:qemu": config["args"] != nil ? "http://libvirt.org/schemas/domain/qemu/1.0" : nil])
        x.leaf("name", context.domainName)
        if let uuid = config.uuid { x.leaf("uuid", uuid) }
        if let vmgenid = config["vmgenid"], vmgenid != "0" { x.leaf("genid", vmgenid == "1" ? nil : vmgenid) }
        if let name = config.name { x.leaf("title", name) }
        x.open("metadata")
        x.empty("corral:vm", ["xmlns:corral": "https://corral.invalid/xmlns/vm/1", "vmid": "\(context.vmid)", "node": context.node])
        x.close("metadata")
        let memory = config.memoryMiB
        x.leaf("memory", "\(memory)", ["unit": "MiB"])
        if let balloon = config.balloonMiB, balloon > 0, balloon < memory { x.leaf("currentMemory", "\(balloon)", ["unit": "MiB"]) }
        if config["allow-ksm"] == "0" {
            x.open("memoryBacking")
            x.empty("nosharepages")
            x.close("memoryBacking")
        }
        x.leaf(
            "vcpu", "\(config.maxVCPUs)",
            ["placement": "static", "current": config.vcpus < config.maxVCPUs ? "\(config.vcpus)" : nil, "cpuset": config["affinity"]])
        if let limit = config["cpulimit"].flatMap(Double.init), limit > 0 || config["cpuunits"] != nil {
            x.open("cputune")
            if let units = config["cpuunits"] { x.leaf("shares", units) }
            if limit > 0 {
                x.leaf("period", "100000")
                x.leaf("quota", "\(Int(limit * 100_000))")
            }
            x.close("cputune")
        } else if let units = config["cpuunits"] {
            x.open("cputune")
            x.leaf("shares", units)
            x.close("cputune")
        }

        let machine = config.properties("machine")["type"]?.plainText ?? "pc"
        let ovmf = config["bios"] == "ovmf"
        x.open("os", ovmf ? ["firmware": nil] : [:])
        x.leaf("type", "hvm", ["arch": "x86_64", "machine": machine])
        if ovmf {
            x.leaf("loader", "/usr/share/OVMF/OVMF_CODE_4M.fd", ["readonly": "yes", "type": "pflash"])
            if let efi = config.properties("efidisk0")["file"]?.plainText, efi != "none" {
                x.leaf("nvram", try context.resolve(efi).path)
            }
        }
        // the domain's <uuid> already is the SMBIOS UUID; sysinfo only for the other fields
        let smbios = config.properties("smbios1").filter { $0.key != "uuid" && $0.key != "base64" }
        if !smbios.isEmpty { x.empty("smbios", ["mode": "sysinfo"]) }
        x.close("os")
        if !smbios.isEmpty {
            x.open("sysinfo", ["type": "smbios"])
            x.open("system")
            let base64 = config.properties("smbios1")["base64"]?.boolValue == true
            for key in ["manufacturer", "product", "version", "serial", "sku", "family"] {
                guard var value = smbios[key]?.plainText else { continue }
                if base64, key != "uuid", let decoded = Base64Text.decode(value) { value = decoded }
                x.leaf("entry", value, ["name": key])
            }
            x.close("system")
            x.close("sysinfo")
        }
        x.open("features")
        if config.acpi { x.empty("acpi") }
        x.empty("apic")
        if windows {
            x.open("hyperv", ["mode": "custom"])
            x.empty("relaxed", ["state": "on"])
            x.empty("vapic", ["state": "on"])
            x.empty("spinlocks", ["state": "on", "retries": "8191"])
            x.close("hyperv")
        }
        x.close("features")
        try cpu(config, &x)
        x.empty("clock", ["offset": config["localtime"] == "1" || (config["localtime"] == nil && windows) ? "localtime" : "utc"])
        x.leaf("on_poweroff", "destroy")
        x.leaf("on_reboot", config["reboot"] == "0" ? "destroy" : "restart")
        x.leaf("on_crash", "destroy")

        x.open("devices")
        try devices(config, context: context, machine: machine, &x)
        x.close("devices")
        if let args = config["args"] {
            x.open("qemu:commandline")
            for arg in ShellWords.split(args) { x.empty("qemu:arg", ["value": arg]) }
            x.close("qemu:commandline")
        }
        x.close("domain")
        return x.text
    }

    static func cpu(_ config: VMConfig, _ x: inout XMLWriter) throws {
        let cpu = config.properties("cpu")
        let type = cpu["cputype"]?.plainText ?? (config.kvm ? "x86-64-v2-AES" : "qemu64")
        var attributes: [String: String?] = [:]
        var model: String?
        switch type {
        case "host": attributes = ["mode": "host-passthrough", "check": "none"]
        case "max": attributes = ["mode": "maximum", "check": "none"]
        case "x86-64-v2-AES", "x86-64-v2", "x86-64-v3", "x86-64-v4":
            // PVE's x86-64 levels are QEMU's generic models plus flags; the nearest libvirt models keep them portable
            attributes = ["mode": "custom", "match": "exact", "check": "none"]
            model = type.hasPrefix("x86-64-v2") ? "Nehalem" : type == "x86-64-v3" ? "Haswell-noTSX" : "Skylake-Server-noTSX-IBRS"
        default:
            attributes = ["mode": "custom", "match": "exact", "check": "none"]
            model = type
        }
        x.open("cpu", attributes)
        if let model { x.leaf("model", model, ["fallback": "forbid"]) }
        x.empty("topology", ["sockets": "\(config.sockets)", "dies": "1", "cores": "\(config.cores)", "threads": "1"])
        if type == "x86-64-v2-AES" { x.empty("feature", ["policy": "require", "name": "aes"]) }
        for flag in (cpu["flags"]?.plainText ?? "").split(separator: ";") {
            let name = String(flag.dropFirst())
            x.empty("feature", ["policy": flag.hasPrefix("+") ? "require" : "disable", "name": name])
        }
        if config["numa"] == "1" {
            x.open("numa")
            let perSocket = config.memoryMiB / config.sockets
            for socket in 0..<config.sockets {
                let first = socket * config.cores, last = first + config.cores - 1
                x.empty(
                    "cell", ["id": "\(socket)", "cpus": first == last ? "\(first)" : "\(first)-\(last)", "memory": "\(perSocket)", "unit": "MiB"])
            }
            x.close("numa")
        }
        x.close("cpu")
    }

    static func devices(_ config: VMConfig, context: DomainContext, machine: String, _ x: inout XMLWriter) throws {
        let order = config.bootOrder
        let scsihw = config["scsihw"] ?? "lsi"
        let drives = config.drives
        if drives.contains(where: { $0.bus == "scsi" }) {
            x.empty("controller", ["type": "scsi", "index": "0", "model": scsiModels[scsihw] ?? "lsilogic"])
        }
        if machine.contains("q35") && drives.contains(where: { $0.bus == "ide" }) {
            throw DomainXMLError(
                "the q35 machine has no IDE bus: move \(drives.filter { $0.bus == "ide" }.map(\.key).joined(separator: ", ")) to sata or scsi")
        }
        for drive in drives { try disk(drive, config: config, context: context, order: order, &x) }
        for nic in config.nics { interface(nic, context: context, order: order, &x) }
        for n in 0..<4 {
            guard let serial = config["serial\(n)"] else { continue }
            if serial == "socket" {
                x.open("serial", ["type": "unix"])
                x.empty("source", ["mode": "bind", "path": context.serialSocket(n)])
                x.empty("log", ["file": context.serialLog(n), "append": "on"])
                x.open("target", ["type": "isa-serial", "port": "\(n)"])
                x.empty("model", ["name": "isa-serial"])
                x.close("target")
                x.close("serial")
            } else {
                x.open("serial", ["type": "dev"])
                x.empty("source", ["path": serial])
                x.empty("target", ["port": "\(n)"])
                x.close("serial")
            }
        }
        let agent = config.properties("agent")
        if agent["enabled"]?.boolValue == true {
            x.open("channel", ["type": "unix"])
            x.empty("source", ["mode": "bind", "path": context.agentSocket()])
            x.empty("target", ["type": agent["type"]?.plainText == "isa" ? "guestfwd" : "virtio", "name": "org.qemu.guest_agent.0"])
            x.close("channel")
        }
        if config.tablet { x.empty("input", ["type": "tablet", "bus": "usb"]) }
        let vga = config.properties("vga")["type"]?.plainText ?? "std"
        if vga.hasPrefix("serial") {
            x.open("video")
            x.empty("model", ["type": "none"])
            x.close("video")
        } else {
            x.empty("graphics", ["type": "vnc", "socket": context.vncSocket()])
            x.open("video")
            let memory = config.properties("vga")["memory"]?.intValue
            x.empty("model", ["type": videoModels[vga] ?? "vga", "vram": memory.map { "\($0 * 1024)" }])
            x.close("video")
        }
        if config.balloonMiB == 0 {
            x.empty("memballoon", ["model": "none"])
        } else {
            x.open("memballoon", ["model": "virtio"])
            x.empty("stats", ["period": "2"])
            x.close("memballoon")
        }
        let rng = config.properties("rng0")
        if config["rng0"] != nil {
            x.open("rng", ["model": "virtio"])
            x.leaf("backend", rng["source"]?.plainText ?? "/dev/urandom", ["model": "random"])
            x.close("rng")
        }
        let watchdog = config.properties("watchdog")
        if config["watchdog"] != nil {
            x.empty("watchdog", ["model": watchdog["model"]?.plainText ?? "i6300esb", "action": watchdog["action"]?.plainText ?? "reset"])
        }
    }

    static let busPrefix = ["ide": "hd", "sata": "sd", "scsi": "sd", "virtio": "vd"]

    /// The guest-visible target name: scsi0 → sda, virtio1 → vdb, ide2 → hdc, sata0 → sd(a+31+n).
    public static func target(_ drive: VMConfig.Drive) -> String {
        let offset = drive.bus == "sata" ? 31 + drive.index : drive.index
        return busPrefix[drive.bus, default: "sd"] + letters(offset)
    }

    static func letters(_ n: Int) -> String {
        var n = n, out = ""
        repeat {
            out = String(UnicodeScalar(UInt8(97 + n % 26))) + out
            n = n / 26 - 1
        } while n >= 0
        return out
    }

    static func disk(_ drive: VMConfig.Drive, config: VMConfig, context: DomainContext, order: [String], _ x: inout XMLWriter) throws {
        let o = drive.options
        let cdrom = drive.isCDROM
        var source: (path: String, block: Bool)?
        if drive.file != "none" && drive.file != "cdrom" { source = try context.resolve(drive.file) }
        let format =
            o["format"]?.plainText ?? (source.map { $0.path.hasSuffix(".qcow2") ? "qcow2" : $0.path.hasSuffix(".vmdk") ? "vmdk" : "raw" } ?? "raw")
        let network = source.flatMap { NetworkDiskSource($0.path) }
        x.open("disk", ["type": network != nil ? "network" : source?.block == true ? "block" : "file", "device": cdrom ? "cdrom" : "disk"])
        let cache = o["cache"]?.plainText ?? "none"
        x.empty(
            "driver",
            [
                "name": "qemu", "type": format, "cache": cdrom ? nil : (cache == "none" ? "none" : cache),
                "discard": o["discard"]?.plainText == "on" ? "unmap" : nil,
                "detect_zeroes": o["detect_zeroes"]?.boolValue == false ? "off" : nil,
                "io": o["aio"]?.plainText,
                "iothread": o["iothread"]?.boolValue == true && drive.bus == "virtio" ? "1" : nil,
            ])
        if let network {
            x.open("source", ["protocol": network.protocolName, "name": network.name])
            for host in network.hosts { x.empty("host", ["name": host.name, "port": host.port]) }
            x.close("source")
            // a Ceph user's key is a libvirt secret of usage `ceph-<user>` (made when the storage is activated)
            if let user = network.user {
                x.open("auth", ["username": user])
                x.empty("secret", ["type": "ceph", "usage": "ceph-\(user)"])
                x.close("auth")
            }
        } else if let source {
            x.empty("source", [source.block ? "dev" : "file": source.path])
        }
        let ssd = o["ssd"]?.boolValue == true && drive.bus != "virtio"
        x.empty("target", ["dev": target(drive), "bus": drive.bus, "rotation_rate": ssd ? "1" : nil])
        if let position = order.firstIndex(of: drive.key) { x.empty("boot", ["order": "\(position + 1)"]) }
        if cdrom || o["ro"]?.boolValue == true { x.empty("readonly") }
        if let serial = o["serial"]?.plainText { x.leaf("serial", serial) }
        if let wwn = o["wwn"]?.plainText { x.leaf("wwn", String(wwn.dropFirst(2))) }
        // PVE's bus layout: scsi N on unit N of controller 0 (one controller is enough up to 31 units
        // only with virtio-scsi; others are refused earlier by the schema's limits)
        if drive.bus == "scsi" {
            x.empty("address", ["type": "drive", "controller": "0", "bus": "0", "target": "0", "unit": "\(drive.index)"])
        } else if drive.bus == "ide" {
            x.empty("address", ["type": "drive", "controller": "0", "bus": "\(drive.index / 2)", "target": "0", "unit": "\(drive.index % 2)"])
        } else if drive.bus == "sata" {
            x.empty("address", ["type": "drive", "controller": "0", "bus": "\(drive.index)", "target": "0", "unit": "0"])
        }
        x.close("disk")
    }

    static func interface(_ nic: VMConfig.NIC, context: DomainContext, order: [String], _ x: inout XMLWriter) {
        let o = nic.options
        let bridge = nic.bridge
        x.open("interface", ["type": bridge == nil ? "user" : "bridge"])
        if let bridge { x.empty("source", ["bridge": bridge]) }
        if let mac = nic.mac { x.empty("mac", ["address": mac.lowercased()]) }
        x.empty("model", ["type": nicModels[nic.model] ?? nic.model])
        if bridge != nil { x.empty("target", ["dev": "tap\(context.vmid)i\(nic.index)"]) }
        if let queues = o["queues"]?.intValue, queues > 1 { x.empty("driver", ["queues": "\(queues)"]) }
        if let tag = o["tag"]?.intValue {
            x.open("vlan")
            x.empty("tag", ["id": "\(tag)"])
            x.close("vlan")
        }
        if let rate = o["rate"]?.doubleValue, rate > 0 {
            // PVE's rate is MB/s; libvirt's average is KiB/s
            let kib = "\(Int(rate * 1024))"
            x.open("bandwidth")
            x.empty("inbound", ["average": kib])
            x.empty("outbound", ["average": kib])
            x.close("bandwidth")
        }
        if let mtu = o["mtu"]?.intValue, nic.model == "virtio" { x.empty("mtu", ["size": mtu == 1 ? "1500" : "\(mtu)"]) }
        if o["link_down"]?.boolValue == true { x.empty("link", ["state": "down"]) }
        if let position = order.firstIndex(of: nic.key) { x.empty("boot", ["order": "\(position + 1)"]) }
        x.close("interface")
    }
}

public struct DomainXMLError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

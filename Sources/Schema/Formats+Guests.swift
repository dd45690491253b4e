/// Named formats of guest options. The property-string ones check sub-keys and values; the ones for
/// features Corral does not run yet (PCI passthrough, SEV, cloud-init files) check only the syntax,
/// so such configs are accepted and stored, and refused with a message when the guest starts.
extension Formats {
    static func propertyFormat(_ name: String, _ format: PropertyStringFormat) -> NamedFormat {
        NamedFormat(name: name) { text in
            do {
                _ = try PropertyString.parse(text, format: format)
                return nil
            } catch let error as PropertyString.Error { return error.message } catch { return "\(error)" }
        }
    }

    static func syntaxOnly(_ name: String) -> NamedFormat {
        NamedFormat(name: name) { text in
            do {
                _ = try PropertyString.split(text)
                return nil
            } catch let error as PropertyString.Error { return error.message } catch { return "\(error)" }
        }
    }

    /// A property string whose keys must be among `allowed` (a bare value is `defaultKey`'s).
    static func keys(_ text: String, allowed: Set<String>, what: String, defaultKey: String? = nil) -> String? {
        guard let parts = try? PropertyString.split(text) else { return "invalid \(what) specification" }
        for part in parts {
            guard let key = part.key ?? defaultKey, allowed.contains(key) else { return "unknown \(what) key '\(part.key ?? part.value)'" }
        }
        return nil
    }

    /// `[ip=dhcp|manual|CIDR][,gw=IPv4][,ip6=auto|dhcp|manual|CIDR][,gw6=IPv6]`; a gateway needs a static address.
    static func ipconfig(_ text: String) -> String? {
        guard let parts = try? PropertyString.split(text) else { return "invalid ipconfig specification" }
        var fields: [String: String] = [:]
        for part in parts {
            guard let key = part.key, ["ip", "gw", "ip6", "gw6"].contains(key) else { return "unknown ipconfig key '\(part.key ?? part.value)'" }
            fields[key] = part.value
        }
        func cidr(_ value: String, v6: Bool) -> Bool {
            let p = value.split(separator: "/", omittingEmptySubsequences: false)
            guard p.count == 2, let prefix = Int(p[1]), prefix >= 0, prefix <= (v6 ? 128 : 32) else { return false }
            return v6 ? IPAddress.isIPv6(String(p[0])) : IPAddress.isIPv4(String(p[0]))
        }
        if let ip = fields["ip"], !["dhcp", "manual"].contains(ip), !cidr(ip, v6: false) {
            return "invalid IPv4 address '\(ip)' (dhcp, manual or address/prefix)"
        }
        if let ip6 = fields["ip6"], !["auto", "dhcp", "manual"].contains(ip6), !cidr(ip6, v6: true) {
            return "invalid IPv6 address '\(ip6)' (auto, dhcp, manual or address/prefix)"
        }
        if let gw = fields["gw"] {
            guard IPAddress.isIPv4(gw) else { return "invalid IPv4 gateway '\(gw)'" }
            guard let ip = fields["ip"], cidr(ip, v6: false) else { return "gateway 'gw' needs a static 'ip'" }
        }
        if let gw6 = fields["gw6"] {
            guard IPAddress.isIPv6(gw6) else { return "invalid IPv6 gateway '\(gw6)'" }
            guard let ip6 = fields["ip6"], cidr(ip6, v6: true) else { return "gateway 'gw6' needs a static 'ip6'" }
        }
        return nil
    }

    static let storageContents: Set<String> = ["images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"]

    static let bootDevice = "(ide|sata|scsi|virtio)\\d+|net\\d+|hostpci\\d+|usb\\d+|efidisk0|tpmstate0"

    /// The property-string formats behind named guest formats, for readers of config values.
    public static let guestPropertyFormats: [String: PropertyStringFormat] = [
        "pve-qm-boot": PropertyStringFormat(
            ["legacy": Schema.string(pattern: "[acdn]{1,4}").optional(), "order": Schema.string().optional()], defaultKey: "legacy"),
        "pve-startup-order": PropertyStringFormat(
            [
                "order": Schema.integer(minimum: 0).optional(), "up": Schema.integer(minimum: 0).optional(),
                "down": Schema.integer(minimum: 0).optional(),
            ],
            defaultKey: "order"),
        "pve-qm-smbios1": PropertyStringFormat(
            ["uuid", "version", "serial", "manufacturer", "product", "sku", "family"].reduce(into: [String: Schema]()) {
                $0[$1] = Schema.string().optional()
            }.merging(["base64": Schema.boolean().optional()]) { a, _ in a }),
        "pve-vm-cpu-conf": PropertyStringFormat(
            [
                "cputype": Schema.string(pattern: "[A-Za-z0-9_.+\\-]+").optional(),
                "flags": Schema.string(pattern: "[+-][A-Za-z0-9_.\\-]+(;[+-][A-Za-z0-9_.\\-]+)*").optional(),
                "hidden": Schema.boolean().optional(), "hv-vendor-id": Schema.string(pattern: "[a-zA-Z0-9]{1,12}").optional(),
                "phys-bits": Schema.string(pattern: "host|\\d+").optional(), "guest-phys-bits": Schema.integer(minimum: 32, maximum: 64).optional(),
                "reported-model": Schema.string().optional(),
            ], defaultKey: "cputype"),
        "pve-qm-watchdog": PropertyStringFormat(
            [
                "model": Schema.string(enum: ["i6300esb", "ib700"]).optional(),
                "action": Schema.string(enum: ["reset", "shutdown", "poweroff", "pause", "debug", "none"]).optional(),
            ],
            defaultKey: "model"),
        "pve-qm-rng": PropertyStringFormat(
            [
                "source": Schema.string(enum: ["/dev/urandom", "/dev/random", "/dev/hwrng"]),
                "max_bytes": Schema.integer(minimum: 0).optional(), "period": Schema.integer(minimum: 0).optional(),
            ],
            defaultKey: "source"),
    ]

    static let guestEntries: [NamedFormat] = [
        NamedFormat(name: "pve-qm-boot") { text in
            if PatternCache.matches("[acdn]{1,4}", text) { return nil }
            do {
                let values = try PropertyString.parse(
                    text,
                    format: PropertyStringFormat(
                        ["legacy": Schema.string(pattern: "[acdn]{1,4}").optional(), "order": Schema.string().optional()],
                        defaultKey: "legacy"))
                for device in (values["order"]?.plainText ?? "").split(separator: ";") {
                    if !PatternCache.matches(bootDevice, String(device)) { return "invalid boot device '\(device)'" }
                }
                return nil
            } catch let error as PropertyString.Error { return error.message } catch { return "\(error)" }
        },
        // a container's nameservers: IP addresses, link-local IPv6 ones with their %interface
        list("lxc-ip-with-ll-iface-list") { text in
            let address = text.split(separator: "%", maxSplits: 1).first.map(String.init) ?? text
            return IPAddress.isIP(address) ? nil : "value '\(text)' is not a valid IP address"
        },
        // a container NIC's addresses: from DHCP (or SLAAC), left to the guest, or static
        NamedFormat(name: "pve-ipv4-config") {
            ["dhcp", "manual"].contains($0) || IPAddress.isCIDR($0, v4: true, v6: false) ? nil : "value '\($0)' is not dhcp, manual or an IPv4 CIDR"
        },
        NamedFormat(name: "pve-ipv6-config") {
            ["auto", "dhcp", "manual"].contains($0) || IPAddress.isCIDR($0, v4: false, v6: true)
                ? nil : "value '\($0)' is not auto, dhcp, manual or an IPv6 CIDR"
        },
        // a container volume: a storage volume, STORAGE:SIZE for a new one, or a host path to bind
        NamedFormat(name: "pve-lxc-mp-string") { text in
            if text.hasPrefix("/") { return text.contains("\0") || text.split(separator: "/").contains("..") ? "invalid path '\(text)'" : nil }
            return Checks.volumeID(text) == nil ? nil : "value '\(text)' is not a volume ID, STORAGE:SIZE or an absolute path"
        },
        NamedFormat(name: "pve-lxc-dev-string") {
            $0.hasPrefix("/dev/") && !$0.contains("..") ? nil : "value '\($0)' is not a device path under /dev"
        },
        // `host` (take the node's), or a zone name under /usr/share/zoneinfo
        regex("pve-ct-timezone", "host|[A-Za-z][A-Za-z0-9_+\\-]*(/[A-Za-z0-9_+\\-]+){0,2}", "time zone"),
        regex("pve-qm-bootdisk", "(ide|sata|scsi|virtio)\\d+", "boot disk"),
        propertyFormat("pve-startup-order", guestPropertyFormats["pve-startup-order"]!),
        NamedFormat(name: "pve-hotplug-features") { text in
            if text == "0" || text == "1" { return nil }
            let known: Set<String> = ["network", "disk", "cpu", "memory", "usb", "cloudinit"]
            return text.split(separator: ",").first { !known.contains(String($0)) }.map { "invalid hotplug feature '\($0)'" }
        },
        propertyFormat("pve-qm-smbios1", guestPropertyFormats["pve-qm-smbios1"]!),
        propertyFormat("pve-vm-cpu-conf", guestPropertyFormats["pve-vm-cpu-conf"]!),
        propertyFormat("pve-qm-watchdog", guestPropertyFormats["pve-qm-watchdog"]!),
        propertyFormat("pve-qm-rng", guestPropertyFormats["pve-qm-rng"]!),
        NamedFormat(name: "pve-qm-ide") { text in
            guard let first = try? PropertyString.split(text).first else { return "invalid drive specification" }
            let file = first.key == nil || first.key == "file" || first.key == "volume" ? first.value : ""
            if file == "none" || file == "cdrom" || file.hasPrefix("/") || Checks.volumeID(file) == nil { return nil }
            return "invalid volume '\(file)'"
        },
        list("pve-storage-content-list") { storageContents.contains($0) ? nil : "invalid content type '\($0)'" },
        NamedFormat(name: "pve-storage-content") { storageContents.contains($0) ? nil : "invalid content type '\($0)'" },
        list("storage-pair-list") { pair in
            let parts = pair.split(separator: ":", omittingEmptySubsequences: false)
            return parts.count <= 2 && parts.allSatisfy({ !$0.isEmpty }) ? nil : "invalid storage mapping '\(pair)'"
        },
        NamedFormat(name: "pve-qm-ipconfig", check: ipconfig),
        NamedFormat(name: "backup-performance") { keys($0, allowed: ["max-workers", "pbs-entries-max"], what: "performance") },
        NamedFormat(name: "backup-fleecing") { keys($0, allowed: ["enabled", "storage"], what: "fleecing", defaultKey: "enabled") },
        NamedFormat(name: "pve-qm-cicustom") { text in
            guard let parts = try? PropertyString.split(text) else { return "invalid cicustom specification" }
            for part in parts {
                guard let key = part.key, ["meta", "network", "user", "vendor"].contains(key) else {
                    return "unknown cicustom key '\(part.key ?? part.value)'"
                }
                if Checks.volumeID(part.value) == nil { return "invalid volume '\(part.value)' for '\(key)'" }
            }
            return nil
        },
        syntaxOnly("pve-qm-hostpci"),
        syntaxOnly("pve-qemu-sev-fmt"), syntaxOnly("pve-qemu-tdx-fmt"),
    ]
}

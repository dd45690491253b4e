/// A named string format (PVE's `register_format`): a check that returns why a value is invalid, or nil.
public struct NamedFormat: Sendable {
    public let name: String
    public let check: @Sendable (String) -> String?
}

/// The registry of named formats. Domains register formats of their own (property-string formats such
/// as `pve-qm-ide`) as their issues land; a test checks that every format an endpoint declares exists.
public enum Formats {
    public static func lookup(_ name: String) -> NamedFormat? { builtin[name] }
    public static var names: [String] { builtin.keys.sorted() }

    /// A `-list` format accepts values separated by commas, semicolons or whitespace (PVE's split_list).
    static func list(_ name: String, of element: @escaping @Sendable (String) -> String?) -> NamedFormat {
        NamedFormat(name: name) { text in
            for item in Formats.splitList(text) {
                if let why = element(item) { return why }
            }
            return nil
        }
    }

    public static func splitList(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == "," || $0 == ";" || $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\0" })
            .map(String.init)
    }

    /// An NFS/CIFS/Ceph server: an IP address (IPv6 perhaps in brackets) or a DNS name.
    static func storageServer(_ text: String) -> String? {
        let bare = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
        return IPAddress.isIP(bare) || Checks.dnsName(bare) == nil ? nil : "value '\(text)' is not a server address or name"
    }

    /// An iSCSI portal or monitor: a server with an optional port.
    static func storagePortal(_ text: String) -> String? {
        if storageServer(text) == nil { return nil }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port),
            storageServer(String(text[..<colon])) == nil
        else { return "value '\(text)' is not a portal (server[:port])" }
        return nil
    }

    /// `keep-all=1` or `keep-last=N,keep-daily=N,…` (PVE's retention options).
    static func pruneBackups(_ text: String) -> String? {
        let keys: Set<String> = ["keep-all", "keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly"]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, keys.contains(String(parts[0])), let n = Int(parts[1]), n >= 0 else {
                return "value '\(text)' is not a retention setting (keep-last=N,keep-daily=N,… or keep-all=1)"
            }
        }
        return nil
    }

    /// Formats of directory realms' options (domains.cfg).
    static let realmFormats: [NamedFormat] = [
        regex("ldap-simple-attr", "[A-Za-z0-9_][A-Za-z0-9_;-]*", "LDAP attribute name"),
        list("ldap-simple-attr-list") { PatternCache.matches("[A-Za-z0-9_][A-Za-z0-9_;-]*", $0) ? nil : "invalid LDAP attribute name '\($0)'" },
        NamedFormat(name: "pve-tfa-config") { text in
            if let why = Formats.keyValues(text, allowed: ["type", "digits", "id", "key", "step", "url"], required: "type") { return why }
            return ["oath", "yubico"].contains(Formats.keyValue(text, "type") ?? "") ? nil : "type must be 'oath' or 'yubico'"
        },
        NamedFormat(name: "realm-sync-options") { text in
            Formats.keyValues(text, allowed: ["enable-new", "full", "purge", "remove-vanished", "scope"], required: nil)
        },
    ]

    /// `key=value,…` with only `allowed` keys (and `required` present): why not, or nil.
    static func keyValues(_ text: String, allowed: Set<String>, required: String?) -> String? {
        var keys: Set<String> = []
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, allowed.contains(String(parts[0])) else {
                return "value '\(text)' is not a list of \(allowed.sorted().joined(separator: ", ")) settings"
            }
            keys.insert(String(parts[0]))
        }
        if let required, !keys.contains(required) { return "value '\(text)' lacks '\(required)'" }
        return nil
    }

    static func keyValue(_ text: String, _ key: String) -> String? {
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == key { return String(parts[1]) }
        }
        return nil
    }

    /// A DNS name, a leading `*.` allowed (ACME wildcard certificates).
    static let acmeDomain = "(\\*\\.)?([a-zA-Z0-9]([a-zA-Z0-9\\-]*[a-zA-Z0-9])?\\.)*[a-zA-Z0-9]([a-zA-Z0-9\\-]*[a-zA-Z0-9])?"

    static func regex(_ name: String, _ pattern: String, _ what: String) -> NamedFormat {
        NamedFormat(name: name) { PatternCache.matches(pattern, $0) ? nil : "value '\($0)' does not look like a valid \(what)" }
    }

    private static let entries: [NamedFormat] = {
        let id = "[a-z][a-z0-9\\-_.]*[a-z0-9]"
        // PVE's configuration IDs (option names a `delete` list may hold): hyphens too (`prune-backups`)
        let configid = "[a-z][a-z0-9_\\-]+"
        var all: [NamedFormat] = [
            NamedFormat(name: "pve-node") { Checks.node($0) },
            list("pve-node-list", of: Checks.node),
            NamedFormat(name: "pve-vmid") { Checks.vmid($0) },
            list("pve-vmid-list", of: Checks.vmid),
            regex("pve-configid", configid, "configuration ID"),
            list("pve-configid-list") { PatternCache.matches(configid, $0) ? nil : "invalid configuration ID '\($0)'" },
            regex("pve-storage-id", "[a-z][a-z0-9\\-_.]*[a-z0-9]", "storage ID"),
            list("pve-storage-id-list") { PatternCache.matches(id, $0) ? nil : "invalid storage ID '\($0)'" },
            regex("pve-poolid", "[A-Za-z0-9_\\-]+", "pool ID"),
            regex("pve-groupid", "[A-Za-z0-9\\.\\-_]+", "group ID"),
            list("pve-groupid-list") { PatternCache.matches("[A-Za-z0-9\\.\\-_]+", $0) ? nil : "invalid group ID '\($0)'" },
            regex("pve-roleid", "[A-Za-z0-9\\.\\-_]+", "role ID"),
            list("pve-roleid-list") { PatternCache.matches("[A-Za-z0-9\\.\\-_]+", $0) ? nil : "invalid role ID '\($0)'" },
            regex("pve-realm", "[A-Za-z][A-Za-z0-9\\.\\-_]+", "realm name"),
            NamedFormat(name: "pve-userid") { Checks.userid($0) },
            list("pve-userid-list", of: Checks.userid),
            NamedFormat(name: "pve-tokenid") { Checks.tokenid($0) },
            list("pve-tokenid-list", of: Checks.tokenid),
            regex("pve-priv", "[A-Za-z]+(\\.[A-Za-z]+)*", "privilege name"),
            list("pve-priv-list") { PatternCache.matches("[A-Za-z]+(\\.[A-Za-z]+)*", $0) ? nil : "invalid privilege '\($0)'" },
            regex("pve-acme-domain", acmeDomain, "domain name"),
            regex("pve-acme-alias", acmeDomain, "domain name"),
            regex("pve-acme-domain-list", "\(acmeDomain)(;\(acmeDomain))*", "list of domain names"),
            regex("pve-iface", "[a-zA-Z][a-zA-Z0-9_]{1,20}([:\\.]\\d+)?", "interface name"),
            list("pve-iface-list") { PatternCache.matches("[a-zA-Z][a-zA-Z0-9_]{1,20}([:\\.]\\d+)?", $0) ? nil : "invalid interface name '\($0)'" },
            regex("pve-bridge-id", "[-_.\\w\\d]+", "bridge name"),
            list("pve-bridge-id-list") { PatternCache.matches("[-_.\\w\\d]+", $0) ? nil : "invalid bridge name '\($0)'" },
            NamedFormat(name: "disk-size") { Checks.diskSize($0) },
            NamedFormat(name: "urlencoded") { Checks.urlencoded($0) },
            NamedFormat(name: "ipv4") { IPAddress.isIPv4($0) ? nil : "value '\($0)' is not a valid IPv4 address" },
            NamedFormat(name: "ipv6") { IPAddress.isIPv6($0) ? nil : "value '\($0)' is not a valid IPv6 address" },
            NamedFormat(name: "ip") { IPAddress.isIP($0) ? nil : "value '\($0)' is not a valid IP address" },
            list("ip-list") { IPAddress.isIP($0) ? nil : "value '\($0)' is not a valid IP address" },
            NamedFormat(name: "address") { Checks.address($0) },
            // a Graphite metric prefix: dot-separated labels of letters, digits and inner hyphens
            regex("graphite-path", "[A-Za-z0-9]([A-Za-z0-9\\-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9\\-]*[A-Za-z0-9])?)*", "Graphite path"),
            list("address-list", of: Checks.address),
            NamedFormat(name: "CIDR") { IPAddress.isCIDR($0, v4: true, v6: true) ? nil : "value '\($0)' is not a valid CIDR" },
            NamedFormat(name: "CIDRv4") { IPAddress.isCIDR($0, v4: true, v6: false) ? nil : "value '\($0)' is not a valid IPv4 CIDR" },
            NamedFormat(name: "CIDRv6") { IPAddress.isCIDR($0, v4: false, v6: true) ? nil : "value '\($0)' is not a valid IPv6 CIDR" },
            NamedFormat(name: "IPorCIDR") {
                IPAddress.isIP($0) || IPAddress.isCIDR($0, v4: true, v6: true) ? nil : "value '\($0)' is not an IP address or CIDR"
            },
            NamedFormat(name: "IPorCIDRorAlias") {
                IPAddress.isIP($0) || IPAddress.isCIDR($0, v4: true, v6: true)
                    || PatternCache.matches("(?:(?:dc|guest)/)?[A-Za-z][A-Za-z0-9\\-_]+", $0)
                    ? nil : "value '\($0)' is not an IP address, CIDR or alias"
            },
            // firewall rule fields: the shape here, the meaning (aliases, IP sets, services) where the rule compiles
            NamedFormat(name: "pve-fw-addr-spec") {
                PatternCache.matches("[A-Za-z0-9_.:/+\\-,!]+", $0) ? nil : "value '\($0)' is not an address list, alias or IP set"
            },
            regex("pve-fw-dport-spec", "[A-Za-z0-9_\\-]+(?::[A-Za-z0-9_\\-]+)?(?:,[A-Za-z0-9_\\-]+(?::[A-Za-z0-9_\\-]+)?)*", "port list"),
            regex("pve-fw-sport-spec", "[A-Za-z0-9_\\-]+(?::[A-Za-z0-9_\\-]+)?(?:,[A-Za-z0-9_\\-]+(?::[A-Za-z0-9_\\-]+)?)*", "port list"),
            regex("pve-fw-protocol-spec", "[A-Za-z0-9\\-]+", "protocol"),
            regex("pve-fw-icmp-type-spec", "[A-Za-z0-9\\-]+", "ICMP type"),
            list("pve-fw-conntrack-helper") {
                ["amanda", "ftp", "irc", "netbios-ns", "pptp", "sane", "sip", "snmp", "tftp"].contains($0) ? nil : "unknown conntrack helper '\($0)'"
            },
            list("pve-vlan-id-or-range-list") {
                PatternCache.matches("[0-9]{1,4}(?:-[0-9]{1,4})?", $0) ? nil : "value '\($0)' is not a VLAN ID or range"
            },
            regex("pve-sdn-vnet-id", "[a-z][a-z0-9]{0,7}", "VNet name"),
            regex("pve-sdn-zone-id", "[a-z][a-z0-9]{0,7}", "zone name"),
            regex("pve-sdn-controller-id", "[a-z][a-z0-9_\\-]{0,62}", "controller name"),
            regex("pve-sdn-ipam-id", "[a-z][a-z0-9_\\-]{0,62}", "IPAM name"),
            regex("pve-sdn-dns-id", "[a-z][a-z0-9_\\-]{0,62}", "DNS plugin name"),
            regex("pve-sdn-fabric-id", "[a-z][a-z0-9_\\-]{0,7}", "fabric name"),
            regex("pve-sdn-isis-net", "[0-9a-fA-F.]+", "IS-IS NET"),
            list("pve-sdn-bgp-rt-list") { PatternCache.matches("[0-9.]+:[0-9]+", $0) ? nil : "value '\($0)' is not a route target" },
            // a subnet is named by its CIDR when made, by `zone-address-prefix` afterwards
            NamedFormat(name: "pve-sdn-subnet-id") {
                IPAddress.isCIDR($0, v4: true, v6: true) || PatternCache.matches("[a-z][a-z0-9]{0,7}-[0-9a-fA-F.:]+-[0-9]{1,3}", $0)
                    ? nil : "value '\($0)' is not a subnet (CIDR or zone-address-prefix)"
            },
            NamedFormat(name: "pve-sdn-dhcp-range") { Checks.dhcpRange($0) },
            NamedFormat(name: "ipv4mask") { IPAddress.isIPv4Mask($0) ? nil : "value '\($0)' is not a valid IPv4 netmask" },
            regex("mac-addr", "(?i:[0-9a-f]{2}(?::[0-9a-f]{2}){5})", "MAC address"),
            regex("mac-prefix", "(?i:[0-9a-f]{2}(?::[0-9a-f]{2}){0,2}:?)", "MAC address prefix"),
            NamedFormat(name: "dns-name") { Checks.dnsName($0) },
            list("dns-name-list", of: Checks.dnsName),
            regex("email", "[\\w\\+\\-\\~]+(\\.[\\w\\+\\-\\~]+)*@[a-zA-Z0-9\\-]+(\\.[a-zA-Z0-9\\-]+)*", "email address"),
            NamedFormat(name: "email-opt") { $0.isEmpty ? nil : Checks.email($0) },
            list("email-list", of: Checks.email),
            NamedFormat(name: "email-or-username") {
                Checks.email($0) == nil || Checks.userid($0) == nil ? nil : "value '\($0)' is neither an email address nor a user"
            },
            list("email-or-username-list") {
                Checks.email($0) == nil || Checks.userid($0) == nil ? nil : "value '\($0)' is neither an email address nor a user"
            },
            list("string-list") { _ in nil },
            list("pve-tag-list") { PatternCache.matches("[a-z0-9_][a-z0-9_\\-\\+\\.]*", $0.lowercased()) ? nil : "invalid tag '\($0)'" },
            NamedFormat(name: "pve-volume-id") { Checks.volumeID($0) },
            NamedFormat(name: "pve-volume-id-or-qm-path") {
                Checks.volumeID($0) == nil || $0.hasPrefix("/") || $0 == "none" || $0 == "cdrom" ? nil : "value '\($0)' is not a volume ID or path"
            },
            NamedFormat(name: "pve-volume-id-or-absolute-path") {
                Checks.volumeID($0) == nil || $0.hasPrefix("/") ? nil : "value '\($0)' is not a volume ID or absolute path"
            },
            NamedFormat(name: "pve-storage-path") { $0.hasPrefix("/") && !$0.contains("\0") ? nil : "value '\($0)' is not an absolute path" },
            // storage backends' own formats: LVM names, servers and portals, mount options, retention
            regex("pve-storage-vgname", "[a-zA-Z0-9\\.\\+_][a-zA-Z0-9\\.\\+_\\-]*", "volume group name"),
            NamedFormat(name: "pve-storage-server") { storageServer($0) },
            NamedFormat(name: "pve-storage-portal-dns") { storagePortal($0) },
            list("pve-storage-portal-dns-list") { storagePortal($0) },
            NamedFormat(name: "pve-storage-options") {
                $0.isEmpty || $0.contains(where: \.isWhitespace) ? "value '\($0)' is not a list of mount options" : nil
            },
            NamedFormat(name: "prune-backups") { pruneBackups($0) },
            list("pve-dir-override-list") { item in
                let parts = item.split(separator: "=", maxSplits: 1)
                return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty ? nil : "value '\(item)' is not CONTENT=DIRECTORY"
            },
            regex("pve-replication-job-id", "[1-9][0-9]{2,8}-\\d{1,9}", "replication job ID"),
            regex("pve-ha-resource-or-vm-id", "(?:(?:vm|ct):)?[1-9][0-9]{2,8}", "HA resource ID"),
            list("pve-ha-resource-id-list") { PatternCache.matches("(?:vm|ct):[1-9][0-9]{2,8}", $0) ? nil : "invalid HA resource ID '\($0)'" },
            // `node[:priority]`, as HA rules and groups name nodes
            list("pve-ha-node-list") { item in
                let parts = item.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                if let problem = Checks.node(parts[0]) { return problem }
                return parts.count == 1 || (Int(parts[1]).map { $0 >= 0 } ?? false) ? nil : "invalid priority in '\(item)'"
            },
            NamedFormat(name: "pve-task-status-type-list") { text in
                Formats.splitList(text).first { !["ok", "error", "warning", "unknown"].contains($0) }.map { "unknown task status type '\($0)'" }
            },
            list("pve-day-of-week-list") { ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].contains($0) ? nil : "invalid day '\($0)'" },
            NamedFormat(name: "pve-cpuset") {
                PatternCache.matches("\\d+(-\\d+)?(,\\d+(-\\d+)?)*", $0) ? nil : "value '\($0)' is not a valid CPU set"
            },
            NamedFormat(name: "pem-string") { $0.contains("-----BEGIN ") ? nil : "value is not PEM encoded" },
            NamedFormat(name: "pem-certificate-chain") { $0.contains("-----BEGIN CERTIFICATE-----") ? nil : "value is not a PEM certificate chain" },
            NamedFormat(name: "pve-command-batch") { (try? JSONParser.parse($0))?.arrayValue != nil ? nil : "value is not a JSON array of commands" },
            NamedFormat(name: "pve-calendar-event") { Checks.calendarEvent($0) },
        ]
        all += guestEntries
        all += realmFormats
        for kind in ["zone", "vnet", "subnet", "controller", "ipam", "dns", "fabric"] {
            all.append(regex("pve-sdn-\(kind)-id", "[a-zA-Z][a-zA-Z0-9_\\-./:]*", "SDN \(kind) ID"))
        }
        return all
    }()

    private static let builtin: [String: NamedFormat] = Dictionary(
        entries.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
}

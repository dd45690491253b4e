import Foundation
import Guests
import Schema
import TLS

/// The cloud-init drive's files, from a VM's options, as PVE writes them (same file names, keys,
/// order and indentation, so images and guests behave the same): nocloud (`cidata`: user-data,
/// meta-data, network-config, vendor-data), configdrive2 (`config-2`: the OpenStack layout with a
/// Debian interfaces file) and opennebula (`CONTEXT`: context.sh). A pure function of its inputs.
public struct CloudInit: Sendable {
    public let options: [String: String]
    public let vmid: Int
    /// The host's /etc/resolv.conf: DNS falls back to it when the VM names none.
    public let hostResolvConf: String

    public init(options: [String: String], vmid: Int, hostResolvConf: String) {
        self.options = options
        self.vmid = vmid
        self.hostResolvConf = hostResolvConf
    }

    /// The options that configure the drive's contents (PVE's list; `ipconfigN` are counted by family).
    public static let keys: Set<String> = ["citype", "ciuser", "cipassword", "ciupgrade", "cicustom", "searchdomain", "nameserver", "sshkeys"]

    /// Whether a drive's file is a cloud-init volume (`local:cloudinit` asks for one, `vm-100-cloudinit.qcow2` is one).
    public static func isCloudInitFile(_ file: String) -> Bool {
        file.range(of: #"[:/](vm-\d+-)?cloudinit(\.(raw|qcow2|vmdk))?$"#, options: .regularExpression) != nil
    }

    static let windows: Set<String> = ["wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8", "win10", "win11"]
    var isWindows: Bool { options["ostype"].map { Self.windows.contains($0) } ?? false }

    /// nocloud unless set, or configdrive2 for Windows (what cloudbase-init reads).
    public var type: String { options["citype"] ?? (isWindows ? "configdrive2" : "nocloud") }

    public var label: String {
        switch type {
        case "configdrive2": return "config-2"
        case "opennebula": return "CONTEXT"
        default: return "cidata"
        }
    }

    // MARK: names and DNS

    var hostname: String {
        let name = options["name"] ?? "VM\(vmid)"
        return name.split(separator: ".", maxSplits: 1).first.map(String.init) ?? name
    }

    var fqdn: String {
        let name = options["name"] ?? "VM\(vmid)"
        if name.contains(".") { return name }
        if let domain = options["searchdomain"] { return "\(name).\(domain)" }
        return name
    }

    /// Search domains and name servers: the VM's, else the host's (first search word, up to three servers).
    var dns: (search: [String], servers: [String]) {
        var hostSearch: [String] = [], hostServers: [String] = []
        for line in hostResolvConf.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard words.count >= 2 else { continue }
            if words[0] == "search" || words[0] == "domain" { hostSearch = [words[1]] }
            if words[0] == "nameserver", hostServers.count < 3, IPAddress.isIP(words[1]) { hostServers.append(words[1]) }
        }
        let split: (String) -> [String] = { $0.split(whereSeparator: \.isWhitespace).map(String.init) }
        return (options["searchdomain"].map(split) ?? hostSearch, options["nameserver"].map(split) ?? hostServers)
    }

    /// The SSH keys, decoded from the config's URL encoding, blank lines left out.
    var sshKeys: [String]? {
        guard let encoded = options["sshkeys"] else { return nil }
        let decoded = encoded.removingPercentEncoding ?? encoded
        return decoded.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    // MARK: interfaces

    struct Interface {
        let index: Int
        let mac: String
        let mtu: String?
        let ip: String?, gw: String?, ip6: String?, gw6: String?
    }

    /// The NICs with an `ipconfigN`, in the order PVE walks them (by key as text: net10 before net2).
    var interfaces: [Interface] {
        options.keys.filter { $0.hasPrefix("net") && Int($0.dropFirst(3)) != nil }.sorted().compactMap { key in
            let n = Int(key.dropFirst(3))!
            guard let ipconfig = options["ipconfig\(n)"], let nic = options[key] else { return nil }
            var fields: [String: String] = [:]
            for part in ipconfig.split(separator: ",") {
                let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
                if kv.count == 2 { fields[kv[0]] = kv[1] }
            }
            if fields["ip"] == nil && fields["ip6"] == nil {
                fields["ip"] = "dhcp"
                fields["ip6"] = "dhcp"
            }
            let props = VMConfig(GuestConfig.Section(values: [key: nic])).properties(key)
            let mac = props["macaddr"]?.plainText.lowercased() ?? "", mtu = props["mtu"]?.plainText
            return Interface(index: n, mac: mac, mtu: mtu, ip: fields["ip"], gw: fields["gw"], ip6: fields["ip6"], gw6: fields["gw6"])
        }
    }

    static func splitCIDR(_ cidr: String) -> (address: String, prefix: Int)? {
        let parts = cidr.split(separator: "/")
        guard parts.count == 2, let prefix = Int(parts[1]) else { return nil }
        return (String(parts[0]), prefix)
    }

    static func netmask(_ prefix: Int) -> String {
        let bits: UInt32 = prefix <= 0 ? 0 : prefix >= 32 ? .max : ~(UInt32.max >> UInt32(prefix))
        return [24, 16, 8, 0].map { String((bits >> UInt32($0)) & 0xff) }.joined(separator: ".")
    }

    // MARK: files

    public var userData: String {
        var out = "#cloud-config\nhostname: \(hostname)\nmanage_etc_hosts: true\nfqdn: \(fqdn)\n"
        let user = options["ciuser"]
        if let user { out += "user: \(user)\n" }
        if user == "root" { out += "disable_root: False\n" }
        if let password = options["cipassword"] { out += "password: \(password)\n" }
        if let keys = sshKeys {
            out += "ssh_authorized_keys:\n" + keys.map { "  - \($0)\n" }.joined()
        }
        out += "chpasswd:\n  expire: False\n"
        if user != "root" { out += "users:\n  - default\n" }
        if options["ciupgrade"].map({ $0 != "0" }) ?? true { out += "package_upgrade: true\n" }
        return out
    }

    /// cloud-init's network config version 1.
    public var networkConfigV1: String {
        var out = "version: 1\nconfig:\n"
        for nic in interfaces {
            out += "    - type: physical\n      name: eth\(nic.index)\n      mac_address: '\(nic.mac)'\n      subnets:\n"
            if let ip = nic.ip {
                if ip == "dhcp" {
                    out += "      - type: dhcp4\n"
                } else if let (address, prefix) = Self.splitCIDR(ip) {
                    out += "      - type: static\n        address: '\(address)'\n        netmask: '\(Self.netmask(prefix))'\n"
                    if let gw = nic.gw { out += "        gateway: '\(gw)'\n" }
                }
            }
            if let ip6 = nic.ip6 {
                if ip6 == "dhcp" {
                    out += "      - type: dhcp6\n"
                } else if ip6 == "auto" {
                    out += "      - type: ipv6_slaac\n"
                } else {
                    out += "      - type: static6\n        address: '\(ip6)'\n"
                    if let gw6 = nic.gw6 { out += "        gateway: '\(gw6)'\n" }
                }
            }
        }
        let (search, servers) = dns
        out += "    - type: nameserver\n"
        if !servers.isEmpty { out += "      address:\n" + servers.map { "      - '\($0)'\n" }.joined() }
        if !search.isEmpty { out += "      search:\n" + search.map { "      - '\($0)'\n" }.joined() }
        return out
    }

    /// The Debian interfaces file of configdrive2 (Linux guests: DNS under `lo`).
    public var configDriveNetwork: String {
        var out = "auto lo\niface lo inet loopback\n\n"
        let (search, servers) = dns
        if !servers.isEmpty { out += "        dns_nameservers \(servers.joined(separator: " "))\n" }
        if !search.isEmpty { out += "        dns_search \(search.joined(separator: " "))\n" }
        out += interfaceStanzas(dnsPerStanza: nil)
        return out
    }

    /// configdrive2 for Windows (cloudbase-init): no `lo`, name servers on each static stanza.
    var configDriveNetworkWindows: String {
        let servers = dns.servers
        return interfaceStanzas(dnsPerStanza: servers.isEmpty ? nil : servers.joined(separator: " "))
    }

    func interfaceStanzas(dnsPerStanza: String?) -> String {
        var out = ""
        for nic in interfaces {
            out += "auto eth\(nic.index)\n"
            if let ip = nic.ip {
                if ip == "dhcp" {
                    out += "iface eth\(nic.index) inet dhcp\n"
                } else if let (address, prefix) = Self.splitCIDR(ip) {
                    out += "iface eth\(nic.index) inet static\n        address \(address)\n        netmask \(Self.netmask(prefix))\n"
                    if let gw = nic.gw { out += "        gateway \(gw)\n" }
                    if let dnsPerStanza { out += "        dns-nameservers \(dnsPerStanza)\n" }
                }
            }
            if let ip6 = nic.ip6 {
                if ip6 == "dhcp" || ip6 == "auto" {
                    out += "iface eth\(nic.index) inet6 \(ip6)\n"
                } else if let (address, prefix) = Self.splitCIDR(ip6) {
                    out += "iface eth\(nic.index) inet6 static\n        address \(address)\n        netmask \(prefix)\n"
                    if let gw6 = nic.gw6 { out += "        gateway \(gw6)\n" }
                    if let dnsPerStanza { out += "        dns-nameservers \(dnsPerStanza)\n" }
                }
            }
        }
        return out
    }

    static func sha1(_ text: String) -> String { Digest.sha1Hex(Array(text.utf8)) }

    public func nocloudMetaData(user: String, network: String) -> String { "instance-id: \(Self.sha1(user + network))\n" }

    public func configDriveMetaData(user: String, network: String) -> String {
        let uuid = Self.sha1(user + network)
        guard isWindows else {
            return "{\n     \"uuid\": \"\(uuid)\",\n     \"network_config\": { \"content_path\": \"/content/0000\" }\n}\n"
        }
        var meta: [String: JSON] = ["uuid": .string(uuid), "network_config": .object(["content_path": "/content/0000"])]
        if let password = options["cipassword"], !password.isEmpty { meta["admin_pass"] = .string(password) }
        if let keys = sshKeys, !keys.isEmpty {
            meta["public_keys"] = .object(Dictionary(uniqueKeysWithValues: keys.enumerated().map { ("key-\($0.offset)", JSON.string($0.element)) }))
        }
        return JSON.object(meta).jsonString
    }

    var openNebulaContext: String {
        var out = "USERNAME=\(options["ciuser"] ?? "root")\n"
        if let password = options["cipassword"] {
            let encoded = Data(password.utf8).base64EncodedString(options: [.lineLength76Characters, .endLineWithLineFeed])
            out += "CRYPTED_PASSWORD_BASE64=\(encoded)\n\n"
        }
        if let keys = sshKeys { out += "SSH_PUBLIC_KEY=\"\(keys.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "\n"))\"\n" }
        out += "SET_HOSTNAME=\(hostname)\n"
        let (search, servers) = dns
        if !servers.isEmpty { out += "DNS=\"\(servers.joined(separator: " "))\"\n" }
        if !search.isEmpty { out += "SEARCH_DOMAIN=\"\(search.joined(separator: " "))\"\n" }
        var network = false
        for nic in interfaces {
            let p = "ETH\(nic.index)"
            if let ip = nic.ip {
                network = true
                if ip == "dhcp" {
                    out += "\(p)_DHCP=YES\n"
                } else if let (address, prefix) = Self.splitCIDR(ip) {
                    // PVE leaves the MAC lines empty; kept so guests see the same file
                    out += "\(p)_IP=\(address)\n\(p)_MASK=\(Self.netmask(prefix))\n\(p)_MAC=\n"
                    if let gw = nic.gw { out += "\(p)_GATEWAY=\(gw)\n" }
                }
                if let mtu = nic.mtu { out += "\(p)_MTU=\(mtu)\n" }
            }
            if let ip6 = nic.ip6 {
                network = true
                if ip6 == "dhcp" {
                    out += "\(p)_DHCP6=YES\n"
                } else if ip6 == "auto" {
                    out += "\(p)_AUTO6=YES\n"
                } else if let (address, prefix) = Self.splitCIDR(ip6) {
                    out += "\(p)_IP6=\(address)\n\(p)_MASK6=\(prefix)\n\(p)_MAC6=\n"
                    if let gw6 = nic.gw6 { out += "\(p)_GATEWAY6=\(gw6)\n" }
                }
                if let mtu = nic.mtu { out += "\(p)_MTU=\(mtu)\n" }
            }
        }
        if network { out += "NETWORK=YES\n" }
        return out
    }

    /// The drive's files (path inside the image → contents). `custom` reads a `cicustom` snippet
    /// (user, network, meta, vendor); a custom file replaces the generated one whole.
    public func files(custom: (String) throws -> String? = { _ in nil }) throws -> [String: String] {
        switch type {
        case "opennebula":
            return ["context.sh": openNebulaContext]
        case "configdrive2":
            let user = try custom("user") ?? userData
            let network = try custom("network") ?? (isWindows ? configDriveNetworkWindows : configDriveNetwork)
            return [
                "openstack/latest/user_data": user, "openstack/content/0000": network,
                "openstack/latest/meta_data.json": try custom("meta") ?? configDriveMetaData(user: user, network: network),
                "openstack/latest/vendor_data.json": try custom("vendor") ?? "",
            ]
        default:
            let user = try custom("user") ?? userData
            let network = try custom("network") ?? networkConfigV1
            return [
                "user-data": user, "network-config": network, "meta-data": try custom("meta") ?? nocloudMetaData(user: user, network: network),
                "vendor-data": try custom("vendor") ?? "",
            ]
        }
    }

    /// What `cloudinit/dump` shows: always generated (snippets left out), the password masked for
    /// callers who may not see it.
    public func dump(_ kind: String, maskPassword: Bool) -> String {
        let user = userData
        let network = type == "nocloud" ? networkConfigV1 : configDriveNetwork
        switch kind {
        case "user":
            guard maskPassword, options["cipassword"] != nil else { return user }
            return user.split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.hasPrefix("password: ") ? "password: **********" : String($0) }.joined(separator: "\n")
        case "network": return network
        default: return type == "nocloud" ? nocloudMetaData(user: user, network: network) : configDriveMetaData(user: user, network: network)
        }
    }
}

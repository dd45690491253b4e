import Guests
import Testing

@testable import QEMU

/// The cloud-init files against texts PVE's generator produces for the same options (golden).
@Suite struct CloudInitTests {
    static let keys = "ssh-ed25519%20AAAAC3Nza%20me%40host%0Assh-rsa%20AAAAB3%20you%40x%0A"
    static let web1: [String: String] = [
        "name": "web1", "searchdomain": "example.com", "ciuser": "admin", "cipassword": "$5$abcdefgh$XYZ", "sshkeys": keys,
        "net0": "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0", "ipconfig0": "ip=192.0.2.10/24,gw=192.0.2.1,ip6=2001:db8::10/64,gw6=2001:db8::1",
        "net1": "virtio=BC:24:11:AA:BB:DD", "ipconfig1": "ip=dhcp,ip6=auto", "net10": "e1000=BC:24:11:AA:BB:EE", "ipconfig10": "ip6=dhcp",
        "net2": "virtio=BC:24:11:AA:BB:FF", "nameserver": "1.1.1.1 9.9.9.9",
    ]

    @Test func userDataHasPVEsKeysInPVEsOrder() {
        let ci = CloudInit(options: Self.web1, vmid: 100, hostResolvConf: "")
        #expect(
            ci.userData
                == "#cloud-config\nhostname: web1\nmanage_etc_hosts: true\nfqdn: web1.example.com\nuser: admin\npassword: $5$abcdefgh$XYZ\n"
                + "ssh_authorized_keys:\n  - ssh-ed25519 AAAAC3Nza me@host\n  - ssh-rsa AAAAB3 you@x\nchpasswd:\n  expire: False\n"
                + "users:\n  - default\npackage_upgrade: true\n")
        let root = CloudInit(options: ["name": "a.b.example.org", "ciuser": "root", "ciupgrade": "0"], vmid: 100, hostResolvConf: "")
        #expect(
            root.userData
                == "#cloud-config\nhostname: a\nmanage_etc_hosts: true\nfqdn: a.b.example.org\nuser: root\ndisable_root: False\n"
                + "chpasswd:\n  expire: False\n")
        let bare = CloudInit(options: [:], vmid: 100, hostResolvConf: "")
        #expect(bare.userData.hasPrefix("#cloud-config\nhostname: VM100\nmanage_etc_hosts: true\nfqdn: VM100\nchpasswd:"))
    }

    @Test func networkConfigIsVersionOneInKeyOrder() {
        let ci = CloudInit(options: Self.web1, vmid: 100, hostResolvConf: "")
        let expected = """
            version: 1
            config:
                - type: physical
                  name: eth0
                  mac_address: 'bc:24:11:aa:bb:cc'
                  subnets:
                  - type: static
                    address: '192.0.2.10'
                    netmask: '255.255.255.0'
                    gateway: '192.0.2.1'
                  - type: static6
                    address: '2001:db8::10/64'
                    gateway: '2001:db8::1'
                - type: physical
                  name: eth1
                  mac_address: 'bc:24:11:aa:bb:dd'
                  subnets:
                  - type: dhcp4
                  - type: ipv6_slaac
                - type: physical
                  name: eth10
                  mac_address: 'bc:24:11:aa:bb:ee'
                  subnets:
                  - type: dhcp6
                - type: nameserver
                  address:
                  - '1.1.1.1'
                  - '9.9.9.9'
                  search:
                  - 'example.com'

            """
        #expect(ci.networkConfigV1 == expected)
        #expect(ci.nocloudMetaData(user: ci.userData, network: ci.networkConfigV1) == "instance-id: 50c9c0b5817f8bf47fa44544d311b839cd9cccd9\n")
        let files = try? ci.files()
        #expect(files?.keys.sorted() == ["meta-data", "network-config", "user-data", "vendor-data"] && files?["vendor-data"] == "")
        #expect(ci.label == "cidata")
    }

    @Test func dnsFallsBackToTheHostAndConfigDriveUsesInterfacesFiles() {
        let host =
            "domain ignored.lan\nsearch first.lan second.lan\nnameserver 10.0.0.53\nnameserver ::1\nnameserver 10.0.0.54\nnameserver 10.0.0.55\n"
        let ci = CloudInit(
            options: ["citype": "configdrive2", "net0": "virtio=BC:24:11:AA:BB:CC", "ipconfig0": "ip=192.0.2.10/24,gw=192.0.2.1,ip6=auto"], vmid: 7,
            hostResolvConf: host)
        #expect(
            ci.configDriveNetwork
                == "auto lo\niface lo inet loopback\n\n        dns_nameservers 10.0.0.53 ::1 10.0.0.54\n        dns_search first.lan\n"
                + "auto eth0\niface eth0 inet static\n        address 192.0.2.10\n        netmask 255.255.255.0\n        gateway 192.0.2.1\n"
                + "iface eth0 inet6 auto\n")
        #expect(ci.label == "config-2")
        let files = (try? ci.files()) ?? [:]
        #expect(files["openstack/latest/meta_data.json"]?.contains("\"network_config\": { \"content_path\": \"/content/0000\" }") == true)
        #expect(files["openstack/content/0000"] == ci.configDriveNetwork)
        // an interface without ipconfig is left out; one with an empty ipconfig asks for DHCP on both
        let dhcp = CloudInit(options: ["net0": "virtio=AA:BB:CC:DD:EE:FF", "ipconfig0": ""], vmid: 7, hostResolvConf: "")
        #expect(dhcp.networkConfigV1.contains("      - type: dhcp4\n      - type: dhcp6\n"))
        #expect(dhcp.networkConfigV1.hasSuffix("    - type: nameserver\n"))
    }

    @Test func windowsGuestsGetConfigDriveWithTheirPasswordInMetaData() throws {
        let ci = CloudInit(options: ["ostype": "win11", "cipassword": "Secret1", "sshkeys": Self.keys], vmid: 9, hostResolvConf: "")
        #expect(ci.type == "configdrive2")
        let meta = ci.configDriveMetaData(user: "u", network: "n")
        #expect(meta.contains("\"admin_pass\":\"Secret1\"") && meta.contains("\"key-1\":\"ssh-rsa AAAAB3 you@x\""))
        #expect(try VMManager.hashCloudInitPassword("Secret1", ostype: "win11") == "Secret1")
        let hashed = try? VMManager.hashCloudInitPassword("Secret1", ostype: "l26")
        #expect(hashed?.hasPrefix("$5$") == true)
        #expect(try VMManager.hashCloudInitPassword("$6$salt$hash", ostype: nil) == "$6$salt$hash")
    }

    @Test func changesOfARunningVMAreRecordedAsPVERecordsThem() {
        var section = GuestConfig.Section()
        VMManager.recordCloudInitChange("ciuser", old: "old", new: "new", in: &section)
        #expect(section["ciuser"] == "old")
        VMManager.recordCloudInitChange("ciuser", old: "new", new: "newer", in: &section)
        #expect(section["ciuser"] == "old")
        VMManager.recordCloudInitChange("ciuser", old: "newer", new: "old", in: &section)
        #expect(section["ciuser"] == nil)
        VMManager.recordCloudInitChange("sshkeys", old: nil, new: "k", in: &section)
        VMManager.recordCloudInitChange("ipconfig0", old: nil, new: "ip=dhcp", in: &section)
        #expect(section["added"] == "ipconfig0,sshkeys")
        VMManager.recordCloudInitChange("sshkeys", old: "k", new: nil, in: &section)
        #expect(section["added"] == "ipconfig0")
        VMManager.recordCloudInitChange("nameserver", old: "1.1.1.1", new: nil, in: &section)
        #expect(section["nameserver"] == "1.1.1.1")
        #expect(CloudInit.isCloudInitFile("local:cloudinit") && CloudInit.isCloudInitFile("local:100/vm-100-cloudinit.qcow2"))
        #expect(!CloudInit.isCloudInitFile("local:100/vm-100-disk-0.qcow2"))
    }
}

import Testing

@testable import Schema

@Suite struct FormatTests {
    @Test(arguments: [
        ("pve-node", "pve1", true), ("pve-node", "-bad", false), ("pve-node", "a_b", false),
        ("pve-vmid", "100", true), ("pve-vmid", "99", false), ("pve-vmid", "0100", false),
        ("pve-vmid-list", "100,101 102;103", true), ("pve-vmid-list", "100,abc", false),
        ("pve-configid", "net0", true), ("pve-configid", "Net0", false),
        ("pve-storage-id", "local-lvm", true), ("pve-storage-id", "1local", false),
        ("pve-userid", "root@pam", true), ("pve-userid", "root", false), ("pve-userid", "a:b@pve", false),
        ("pve-tokenid", "root@pam!ci", true), ("pve-tokenid", "root@pam", false),
        ("disk-size", "32G", true), ("disk-size", "1.5T", true), ("disk-size", "12X", false),
        ("ipv4", "192.0.2.1", true), ("ipv4", "192.0.2.256", false), ("ipv6", "2001:db8::1", true),
        ("CIDR", "10.0.0.0/8", true), ("CIDR", "10.0.0.0/33", false), ("CIDRv6", "2001:db8::/129", false),
        ("ipv4mask", "255.255.255.0", true), ("ipv4mask", "255.0.255.0", false),
        ("mac-addr", "BC:24:11:00:00:01", true), ("mac-addr", "BC:24:11:00:00", false),
        ("dns-name", "node1.example.com", true), ("dns-name", "-x.example", false),
        ("email", "admin@example.com", true), ("email", "admin", false),
        ("urlencoded", "a%20b", true), ("urlencoded", "a b", false),
        ("pve-volume-id", "local:100/vm-100-disk-0.qcow2", true), ("pve-volume-id", "vm-100-disk-0", false),
        ("pve-tag-list", "prod;web", true), ("pve-task-status-type-list", "ok,error", true),
        ("pve-task-status-type-list", "ok,bogus", false), ("pve-cpuset", "0-3,8", true),
    ])
    func checks(_ format: String, _ value: String, _ valid: Bool) throws {
        let f = try #require(Formats.lookup(format))
        #expect((f.check(value) == nil) == valid, "\(format) '\(value)': \(f.check(value) ?? "valid")")
    }

    @Test func sizesParseToBytes() {
        #expect(Checks.parseSize("4G") == 4 << 30)
        #expect(Checks.parseSize("512") == 512)
        #expect(Checks.parseSize("0.5K") == 512)
    }
}

@Suite struct FuzzFindingTests {
    /// Found by `make fuzz`: inet_pton stops at NUL, so "10.0.0.1\0junk" passed as an address.
    @Test func nulInsideAFormattedValueIsRejected() {
        #expect(!IPAddress.isIPv4("10.0.0.1\u{0}junk"))
        let schema = Schema.string(format: "ip")
        if case .success = Validator.check(.string("10.0.0.1\u{0}x"), schema, path: "") { Issue.record("accepted NUL") }
    }
}

import Testing

@testable import QEMU

@Suite struct NetworkDiskSourceTests {
    @Test func storagePathsBecomeLibvirtNetworkSources() throws {
        let iscsi = try #require(NetworkDiskSource("iscsi://127.0.0.1:3270/iqn.2026-12.org.corral:t/1"))
        #expect(iscsi.protocolName == "iscsi" && iscsi.name == "iqn.2026-12.org.corral:t/1" && iscsi.user == nil)
        #expect(iscsi.hosts.map(\.name) == ["127.0.0.1"] && iscsi.hosts.map(\.port) == ["3270"])
        let rbd = try #require(NetworkDiskSource("rbd://corral@10.0.0.1,[fd00::2]:6789/vms/vm-100-disk-0"))
        #expect(rbd.protocolName == "rbd" && rbd.name == "vms/vm-100-disk-0" && rbd.user == "corral")
        #expect(rbd.hosts.map(\.name) == ["10.0.0.1", "fd00::2"] && rbd.hosts.map(\.port) == [nil, "6789"])
        #expect(NetworkDiskSource("/var/lib/vz/images/100/vm-100-disk-0.raw") == nil)
        #expect(NetworkDiskSource("iscsi://host-only") == nil)
    }
}

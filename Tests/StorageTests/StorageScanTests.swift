import Testing

@testable import Storage

/// The scanning tools' output as `/nodes/{node}/scan/…` reads it (the tools themselves need
/// device-mapper, ZFS or an NFS client, which these machines lack).
@Suite struct StorageScanTests {
    @Test func volumeGroupsAndThinPools() {
        let vgs = "  pve:1000203837440:16106127360\n  data:500107862016:0\n  broken line\n"
        let groups = StorageScan.volumeGroups(vgs)
        #expect(groups.map(\.vg) == ["pve", "data"] && groups[0].size == 1_000_203_837_440 && groups[1].free == 0)
        let lvs = "  data:twi-aotz--:857888931840:8757706752\n  root:-wi-ao----:103079215104:\n  vm-100-disk-0:Vwi-a-tz--:34359738368:\n"
        let pools = StorageScan.thinPools(lvs)
        #expect(pools.count == 1 && pools[0].lv == "data" && pools[0].size == 857_888_931_840 && pools[0].metadataSize == 8_757_706_752)
    }

    @Test func zfsAndNFS() {
        let zfs = "rpool\t100000\t50000\nrpool/data\t100000\t20000\n"
        #expect(StorageScan.zfsPools(zfs).map { "\($0.pool) \($0.size) \($0.free)" } == ["rpool 150000 100000", "rpool/data 120000 100000"])
        let nfs = "/srv/iso   10.0.0.0/24\n/srv/backup *\n"
        #expect(StorageScan.nfsExports(nfs).map { "\($0.path)|\($0.options)" } == ["/srv/iso|10.0.0.0/24", "/srv/backup|*"])
    }

    @Test func aMissingToolIsNamed() {
        #expect(throws: StorageError.self) { try StorageScan.run(["corral-no-such-scanner"], package: "corral-test") }
        do {
            _ = try StorageScan.run(["corral-no-such-scanner"], package: "corral-test")
        } catch {
            #expect(error.message.contains("not installed") && error.message.contains("corral-test"))
        }
    }
}

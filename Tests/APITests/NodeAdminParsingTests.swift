import Schema
import Testing

@testable import Nodes

/// The parsers behind the node's apt and disk endpoints, on the tools' real output formats.
@Suite struct NodeAdminParsingTests {
    @Test func thinPoolsAndVolumeGroupsAsPVEShowsThem() {
        let lvs = "  data;pve;1073741824;25.00;8388608;10.00;thin-pool\n  root;pve;4194304;;;;linear\n"
        let pools = NodeDisks.thinPools(lvs)
        #expect(pools.count == 1)
        #expect(pools.first?["lv"] == "data" && pools.first?["used"] == .int(268_435_456) && pools.first?["metadata_used"] == .int(838_860))
        let vgs = "  pve;2000;1000;/dev/sda3;1500;700\n  pve;2000;1000;/dev/sdb;500;300\n"
        let tree = NodeDisks.lvmTree(vgs)
        let children = tree["children"]?.arrayValue ?? []
        #expect(children.count == 1 && children.first?["children"]?.arrayValue?.count == 2 && children.first?["size"] == .int(2000))
        #expect(NodeDisks.zpools("tank\t1000\t400\t600\t3%\t1.00x\tONLINE\n").first?["health"] == "ONLINE")
    }

    @Test func smartAttributesAndHealth() {
        let ata =
            #"{"smart_status":{"passed":true},"ata_smart_attributes":{"table":[{"id":5,"name":"Reallocated_Sector_Ct","value":100,"worst":100,"thresh":10,"when_failed":"","flags":{"string":"PO--CK "},"raw":{"string":"0"}}]}}"#
        let parsed = NodeDisks.smart(ata, healthOnly: false)
        #expect(parsed["health"] == "PASSED" && parsed["type"] == "ata")
        let row = parsed["attributes"]?.arrayValue?.first
        #expect(row?["id"] == "  5" && row?["threshold"] == .int(10) && row?["fail"] == "-" && row?["flags"] == "PO--CK")
        #expect(NodeDisks.smart(#"{"smartctl":{"messages":[{"string":"Unknown USB bridge"}]}}"#, healthOnly: false)["text"] == "Unknown USB bridge")
    }

    @Test func aptSimulationAndSources() {
        let simulation =
            "Inst libc6 [2.36-9] (2.36-9+deb12u9 Debian-Security:12/stable-security [amd64])\nInst newpkg (1.0 Debian:12/stable [all])\nConf libc6\n"
        let rows = NodeApt.upgrades(simulation, titles: ["libc6": "GNU C Library"])
        #expect(rows.count == 2)
        #expect(rows[0]["OldVersion"] == "2.36-9" && rows[0]["Version"] == "2.36-9+deb12u9" && rows[0]["Origin"] == "Debian-Security")
        #expect(rows[0]["Title"] == "GNU C Library" && rows[1]["OldVersion"] == nil && rows[1]["Arch"] == "all")
        let list = NodeApt.parseList(
            "deb [arch=amd64 signed-by=/k.gpg] http://deb.debian.org/debian bookworm main contrib # main\n# deb-src http://x/ y z\n# plain comment\n")
        #expect(list.count == 2 && list[0]["Components"] == ["main", "contrib"] && list[0]["Comment"] == "main" && list[1]["Enabled"] == false)
        #expect(list[0]["Options"]?.arrayValue?.count == 2)
        let sources = NodeApt.parseSources(
            "# Debian\nTypes: deb deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://x/\nSuites: y\nEnabled: no\n"
        )
        #expect(sources.count == 2 && sources[0]["Types"] == ["deb", "deb-src"] && sources[0]["Suites"]?.arrayValue?.count == 2)
        #expect(sources[0]["Comment"] == "Debian" && sources[1]["Enabled"] == false)
    }
}

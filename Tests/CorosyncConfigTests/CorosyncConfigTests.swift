import Foundation
import Schema
import Testing

@testable import Cluster

/// corosync.conf as the cluster endpoints and `pvecm` read it: PVE's layout round-trips byte for
/// byte, and the typed views give the nodelist and totem.
@Suite struct CorosyncConfigTests {
    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? []).filter { $0.hasSuffix(".conf") }.sorted()
    }

    @Test(arguments: cases)
    func filesRoundTripByteForByte(_ name: String) throws {
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent(name), encoding: .utf8)
        #expect(try CorosyncConfig.parse(text).serialized() == text)
    }

    @Test func nodelistAndTotemAreTyped() throws {
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent("three-nodes.conf"), encoding: .utf8)
        let config = try CorosyncConfig.parse(text)
        #expect(config.clusterName == "lab" && config.configVersion == 5)
        #expect(config.nodes.map(\.name) == ["alpha", "bravo", "charlie"])
        #expect(config.nodes[1].links == [0: "192.0.2.12", 1: "198.51.100.12"] && config.nodes[1].votes == 1 && config.nodes[1].nodeID == 2)
        let totem = ClusterConfigEndpoints.totem(config)
        #expect(totem["secauth"] == "on" && totem["config_version"] == 5 && totem["interface"]?["1"]?["linknumber"] == 1)
        #expect(config.values(of: "quorum")["provider"] == "corosync_votequorum")
    }

    @Test func theHarnessFileAndLooseLayoutRead() throws {
        // what Tests/Cluster/cluster.sh writes: no indentation rules, sections in any order
        let config = try CorosyncConfig.parse(
            "totem {\nversion: 2\n   cluster_name: corral-test\n}\nnodelist {\n  node {\n    ring0_addr: 10.213.7.1\n    name: n1\n    nodeid: 1\n  }\n}\n"
        )
        #expect(config.nodes.first?.name == "n1" && config.nodes.first?.links[0] == "10.213.7.1" && config.clusterName == "corral-test")
        #expect(config.serialized().hasPrefix("totem {\n  version: 2\n  cluster_name: corral-test\n}\n\nnodelist {\n"))
    }

    @Test(arguments: [
        ("totem {\n", "section 'totem' is not closed"),
        ("}\n", "'}' closes no section"),
        ("totem {\n  version 2\n}\n", "expected 'key: value', 'name {' or '}'"),
        ("two words {\n}\n", "expected 'name {'"),
    ])
    func badFilesAreRefusedByLine(text: String, message: String) {
        #expect(throws: CorosyncConfigError.self) { try CorosyncConfig.parse(text) }
        #expect((try? CorosyncConfig.parse(text)) == nil)
        do { _ = try CorosyncConfig.parse(text) } catch { #expect(error.message == message) }
    }
}

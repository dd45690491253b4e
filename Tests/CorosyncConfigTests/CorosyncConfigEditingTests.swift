import Foundation
import Testing

@testable import Cluster

/// The changes create, join and delnode make to corosync.conf, and a node's own copy of it.
@Suite struct CorosyncConfigEditingTests {
    @Test func aNewClusterReadsBackAsWritten() throws {
        let config = CorosyncConfig.newCluster(name: "lab", node: "alpha", nodeID: 1, votes: 1, address: "192.0.2.11")
        let again = try CorosyncConfig.parse(config.serialized())
        #expect(again == config)
        #expect(again.clusterName == "lab" && again.configVersion == 1)
        #expect(again.nodes.map(\.name) == ["alpha"] && again.nodes[0].links == [0: "192.0.2.11"])
        #expect(again.values(of: "totem")["secauth"] == "on" && again.values(of: "quorum")["provider"] == "corosync_votequorum")
    }

    @Test func nodesComeAndGoWithTheVersion() throws {
        var config = CorosyncConfig.newCluster(name: "lab", node: "alpha", nodeID: 1, votes: 1, address: "192.0.2.11")
        #expect(config.freeNodeID == 2)
        config.addNode(name: "bravo", nodeID: config.freeNodeID, votes: 1, address: "192.0.2.12")
        config.addNode(name: "charlie", nodeID: config.freeNodeID, votes: 2, address: "192.0.2.13")
        config.bumpVersion()
        #expect(config.nodes.map(\.name) == ["alpha", "bravo", "charlie"] && config.nodes[2].nodeID == 3 && config.nodes[2].votes == 2)
        #expect(config.configVersion == 2)
        #expect(config.removeNode(name: "bravo") && !config.removeNode(name: "bravo"))
        // the freed id is given again, the lowest first
        #expect(config.freeNodeID == 2)
        config.bumpVersion()
        let again = try CorosyncConfig.parse(config.serialized())
        #expect(again.nodes.map(\.name) == ["alpha", "charlie"] && again.configVersion == 3)
    }

    @Test func aNodesCopyCarriesItsOwnPaths() throws {
        let cluster = CorosyncConfig.newCluster(name: "lab", node: "alpha", nodeID: 1, votes: 1, address: "192.0.2.11").serialized()
        var setup = CorosyncSetup()
        setup.start = .systemd
        // a real install: the cluster's file as it is
        #expect(try setup.localCopy(of: cluster) == cluster)
        setup.authkeyPath = "/data/n1/authkey"
        setup.stateDirectory = "/data/n1/state"
        setup.start = .direct
        let local = try CorosyncConfig.parse(setup.localCopy(of: cluster))
        #expect(local.values(of: "totem")["keyfile"] == "/data/n1/authkey" && local.values(of: "system")["state_dir"] == "/data/n1/state")
        let nodes = try CorosyncConfig.parse(cluster).nodes
        #expect(local.values(of: "logging")["to_stderr"] == "yes" && local.configVersion == 1 && local.nodes == nodes)
    }

    @Test func linkValuesNameTheirAddress() throws {
        #expect(try ClusterMembershipEndpoints.linkAddress("192.0.2.5", parameter: "link0") == "192.0.2.5")
        #expect(try ClusterMembershipEndpoints.linkAddress("address=192.0.2.6,priority=10", parameter: "link0") == "192.0.2.6")
        #expect(try ClusterMembershipEndpoints.linkAddress("priority=10,192.0.2.7", parameter: "link0") == "192.0.2.7")
        #expect(throws: (any Error).self) { try ClusterMembershipEndpoints.linkAddress("priority=10", parameter: "link0") }
    }
}

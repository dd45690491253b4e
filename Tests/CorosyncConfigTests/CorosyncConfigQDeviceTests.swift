import Foundation
import Testing

@testable import Cluster

@Suite struct CorosyncConfigQDeviceTests {
    static let twoNodes = """
        nodelist {
          node {
            name: a
            nodeid: 1
            ring0_addr: 10.0.0.1
          }
        }
        quorum {
          provider: corosync_votequorum
          two_node: 1
        }
        totem {
          cluster_name: c
          config_version: 4
        }
        """

    @Test func aWitnessReplacesTwoNodeModeAndGoesAgain() throws {
        var config = try CorosyncConfig.parse(Self.twoNodes)
        #expect(config.qdevice == nil)
        config.setQDevice(.init(host: "10.0.0.9", port: 15403, tieBreaker: "lowest"))
        let text = config.serialized()
        #expect(!text.contains("two_node"), "\(text)")
        let again = try CorosyncConfig.parse(text)
        #expect(again.qdevice == .init(host: "10.0.0.9", port: 15403, algorithm: "ffsplit", tieBreaker: "lowest", votes: 1))
        #expect(again.values(of: "quorum")["provider"] == "corosync_votequorum")
        // setting it again replaces, never duplicates
        config.setQDevice(.init(host: "10.0.0.8", algorithm: "lms"))
        #expect(config.serialized().components(separatedBy: "device {").count == 2)
        #expect(config.qdevice?.host == "10.0.0.8" && config.qdevice?.algorithm == "lms" && config.qdevice?.port == nil)
        let removed = config.removeQDevice()
        let removedAgain = config.removeQDevice()
        #expect(removed && !removedAgain && config.qdevice == nil)
        #expect(try CorosyncConfig.parse(config.serialized()).values(of: "quorum")["provider"] == "corosync_votequorum")
    }

    @Test func theToolsStatusReadsAsNameValuePairs() {
        let text =
            "Qdevice information\n-------------------\nModel:\t\t\tNet\nConfigured node list:\n    0\tNode ID = 1\n\nQdevice-net information\n"
            + "----------------------\nQNetd host:\t\t10.0.0.9:5403\nState:\t\t\tConnected\n"
        let status = QDeviceService.parseStatus(text)
        #expect(status == ["Model": "Net", "QNetd host": "10.0.0.9:5403", "State": "Connected"])
    }
}

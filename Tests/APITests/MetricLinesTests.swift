import Schema
import Testing

@testable import Cluster
@testable import Metrics

/// The wire formats external metric servers and Prometheus read: what dashboards built for PVE's
/// metrics expect, line for line.
@Suite struct MetricLinesTests {
    static let cycle = MetricCycle(
        time: 1_700_000_000,
        objects: [
            .init(
                kind: .node("pve1"),
                data: [
                    "uptime": .int(42), "cpustat": .object(["cpu": .number(0.25), "cpus": .int(4)]),
                    "nics": .object([
                        "eno1": .object(["receive": .int(10), "transmit": .int(20), "type": "physical"]),
                        "vmbr0.10": .object(["receive": .int(1), "transmit": .int(2), "type": "virtual"]),
                    ]),
                ]),
            .init(
                kind: .guest(type: "qemu", vmid: 100, node: "pve1"),
                data: ["vmid": .int(100), "name": "web 1", "status": "running", "mem": .int(1024), "pid": .int(77), "template": .int(0), "tags": ""]),
            .init(kind: .storage(node: "pve1", id: "local"), data: ["type": "dir", "total": .int(100), "used": .int(40)]),
        ])

    @Test func graphiteFlattensGroupsAndSendsOnlyNumbers() {
        let lines = MetricLines.graphite(Self.cycle, path: "proxmox")
        #expect(lines.contains("proxmox.nodes.pve1.cpustat.cpu 0.25 1700000000"))
        #expect(lines.contains("proxmox.nodes.pve1.nics.vmbr0-10.transmit 2 1700000000"))
        #expect(lines.contains("proxmox.qemu.100.mem 1024 1700000000"))
        #expect(lines.contains("proxmox.qemu.100.vmid 100 1700000000"))
        #expect(lines.contains("proxmox.storages.pve1.local.used 40 1700000000"))
        // text, process ids and flags are no figures
        #expect(!lines.contains { $0.contains(".name ") || $0.contains(".status ") || $0.contains(".pid ") || $0.contains(".template ") })
    }

    @Test func influxLinesFollowPVEsMeasurementsAndTags() {
        let lines = MetricLines.influx(Self.cycle)
        let stamp = "1700000000000000000"
        #expect(lines.contains("cpustat,object=nodes,host=pve1 cpu=0.25,cpus=4 \(stamp)"))
        #expect(lines.contains("nics,object=nodes,host=pve1,instance=eno1 receive=10,transmit=20,type=\"physical\" \(stamp)"))
        #expect(lines.contains("system,object=nodes,host=pve1 uptime=42 \(stamp)"))
        // the guest's name is its host tag (escaped), vmid a tag only, empty text left out
        #expect(lines.contains("system,object=qemu,vmid=100,nodename=pve1,host=web\\ 1 mem=1024,name=\"web 1\",status=\"running\" \(stamp)"))
        #expect(lines.contains("system,object=storages,nodename=pve1,host=local,type=dir total=100,type=\"dir\",used=40 \(stamp)"))
    }

    @Test func batchesStayUnderTheirSize() {
        let lines = (0..<100).map { "metric.\($0) \($0) 1700000000" }
        let batches = MetricLines.batches(lines, size: 200)
        #expect(batches.allSatisfy { $0.count <= 200 })
        #expect(batches.map { String(decoding: $0, as: UTF8.self) }.joined() == lines.map { $0 + "\n" }.joined())
        // a line longer than a batch still goes, alone
        #expect(MetricLines.batches([String(repeating: "x", count: 300), "y"], size: 200).map(\.count) == [301, 2])
    }

    @Test func sectionsAreWrittenInPVEsOrder() throws {
        var section = SectionConfig.Section(type: "influxdb", id: "db")
        section["server"] = "10.0.0.5"
        section["bucket"] = "b"
        section["disable"] = "1"
        section["port"] = "8089"
        section["organization"] = ""
        let text = SectionConfig(sections: [MetricServerConfig.ordered(section)]).serialized()
        #expect(text == "influxdb: db\n\tdisable\n\tport 8089\n\tserver 10.0.0.5\n\tbucket b\n")
        #expect(MetricServerConfig.schema.check(section).isEmpty)
        section["proto"] = "tcp"
        #expect(MetricServerConfig.schema.check(section)["proto"] != nil)
    }

    @Test func serverDefaultsAndPathPrefix() throws {
        var section = SectionConfig.Section(type: "influxdb", id: "db")
        section["server"] = "influx"
        section["port"] = "8086"
        #expect(MetricServerConfig.Server(section, token: nil).apiPathPrefix == "/")
        section["api-path-prefix"] = "//influx"
        let server = MetricServerConfig.Server(section, token: "t")
        #expect(server.apiPathPrefix == "/influx/")
        #expect(server.proto == "udp" && server.bucket == "proxmox" && server.mtu == 1500 && server.verifyCertificate)
    }

    @Test func exportRowsCarryPVEsMetricNames() {
        let rows = MetricExport.rows(Self.cycle)
        let guest = rows.filter { $0["id"]?.stringValue == "qemu/100" }.compactMap { $0["metric"]?.stringValue }
        #expect(Set(guest).isSuperset(of: ["mem_used", "uptime"]))
        let net = rows.first { $0["id"]?.stringValue == "node/pve1" && $0["metric"]?.stringValue == "net_in" }
        // physical interfaces only, a counter that only grows
        #expect(net?["value"]?.intValue == 10 && net?["type"]?.stringValue == "derive")
    }

    @Test func prometheusTextHasPVEExportersNames() {
        let rows: [[String: JSON]] = [
            ["id": "qemu/100", "type": "qemu", "node": "pve1", "name": "a \"b\"", "status": "running", "maxmem": .int(2048), "netin": .int(5)],
            ["id": "node/pve1", "type": "node", "node": "pve1", "status": "online", "level": ""],
        ]
        let text = PrometheusText.render(rows, version: "1.0", repoID: "abc")
        #expect(text.contains("# TYPE pve_memory_size_bytes gauge\npve_memory_size_bytes{id=\"qemu/100\"} 2048\n"))
        #expect(text.contains("# TYPE pve_network_receive_bytes counter\n"))
        #expect(text.contains("pve_up{id=\"node/pve1\"} 1\n"))
        #expect(text.contains("name=\"a \\\"b\\\"\""))
    }
}

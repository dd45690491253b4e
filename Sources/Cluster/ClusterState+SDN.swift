import API
import SDN
import Schema
import Storage

extension ClusterState {
    /// PVE's `sdn` rows: one per node and applied zone that runs there, with the node's outcome
    /// (`available`, `pending` until the node has applied the running version, `error`).
    func sdnRows(nodes: [String]) -> [[String: JSON]] {
        let running = SDNConfig.running(tree: storage.fs)
        guard !running.zones.isEmpty else { return [] }
        var out: [[String: JSON]] = []
        for node in nodes {
            let published = SDNService.published(tree: storage.fs, node: node)
            for (zone, config) in running.zones.sorted(by: { $0.key < $1.key }) where SDNService.runs(config, on: node) {
                let status: String
                if let error = published?.zones[zone], !error.isEmpty {
                    status = "error"
                } else if let published, published.version >= running.version, published.zones[zone] != nil {
                    status = "available"
                } else {
                    status = "pending"
                }
                out.append([
                    "id": .string("sdn/\(node)/\(zone)"), "type": "sdn", "sdn": .string(zone), "node": .string(node), "status": .string(status),
                ])
            }
        }
        return out
    }
}

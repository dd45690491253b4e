/// The changes `pvecm` and the cluster endpoints make: a new cluster's file, nodes added and
/// removed, the version bump every change carries, and the node-local settings a node's own copy gets.
extension CorosyncConfig {
    /// A new cluster of one node, in PVE's layout (knet, one link, authenticated and encrypted).
    public static func newCluster(name: String, node: String, nodeID: Int, votes: Int, address: String) -> CorosyncConfig {
        CorosyncConfig(items: [
            .section(name: "logging", items: [.value(key: "debug", value: "off"), .value(key: "to_syslog", value: "yes")]),
            .section(name: "nodelist", items: [nodeSection(name: node, nodeID: nodeID, votes: votes, address: address)]),
            .section(name: "quorum", items: [.value(key: "provider", value: "corosync_votequorum")]),
            .section(
                name: "totem",
                items: [
                    .value(key: "cluster_name", value: name), .value(key: "config_version", value: "1"),
                    .section(name: "interface", items: [.value(key: "linknumber", value: "0")]), .value(key: "ip_version", value: "ipv4-6"),
                    .value(key: "link_mode", value: "passive"), .value(key: "secauth", value: "on"), .value(key: "version", value: "2"),
                ]),
        ])
    }

    static func nodeSection(name: String, nodeID: Int, votes: Int, address: String) -> Item {
        .section(
            name: "node",
            items: [
                .value(key: "name", value: name), .value(key: "nodeid", value: "\(nodeID)"), .value(key: "quorum_votes", value: "\(votes)"),
                .value(key: "ring0_addr", value: address),
            ])
    }

    /// Sets `key` in the first top-level section `section` (made if missing), in place.
    public mutating func set(_ key: String, _ value: String, in section: String) {
        if let index = items.firstIndex(where: { if case .section(section, _) = $0 { true } else { false } }),
            case .section(_, var children) = items[index]
        {
            if let at = children.firstIndex(where: { if case .value(key, _) = $0 { true } else { false } }) {
                children[at] = .value(key: key, value: value)
            } else {
                children.append(.value(key: key, value: value))
            }
            items[index] = .section(name: section, items: children)
        } else {
            items.append(.section(name: section, items: [.value(key: key, value: value)]))
        }
    }

    /// `totem.config_version` one higher: corosync reloads only a file with a higher version.
    public mutating func bumpVersion() { set("config_version", "\(configVersion + 1)", in: "totem") }

    public mutating func addNode(name: String, nodeID: Int, votes: Int, address: String) {
        let node = Self.nodeSection(name: name, nodeID: nodeID, votes: votes, address: address)
        if let index = items.firstIndex(where: { if case .section("nodelist", _) = $0 { true } else { false } }),
            case .section(_, let list) = items[index]
        {
            items[index] = .section(name: "nodelist", items: list + [node])
        } else {
            items.append(.section(name: "nodelist", items: [node]))
        }
    }

    /// Drops node `name` from the nodelist; false when it is not there.
    public mutating func removeNode(name: String) -> Bool {
        guard let index = items.firstIndex(where: { if case .section("nodelist", _) = $0 { true } else { false } }),
            case .section(_, let list) = items[index]
        else { return false }
        let kept = list.filter { item in
            guard case .section("node", let fields) = item else { return true }
            return !fields.contains(.value(key: "name", value: name))
        }
        items[index] = .section(name: "nodelist", items: kept)
        return kept.count != list.count
    }

    /// The lowest node id no node has.
    public var freeNodeID: Int {
        let used = Set(nodes.map(\.nodeID))
        return (1...).first { !used.contains($0) }!
    }
}

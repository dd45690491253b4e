/// The quorum device section (`quorum { device { … net { … } } }`): the witness a two-node cluster
/// keeps quorum with when one node is gone.
extension CorosyncConfig {
    public struct QDevice: Equatable, Sendable {
        /// The qnetd host (address or name the nodes reach it at).
        public var host: String
        public var port: Int?
        /// `ffsplit` (one vote, for an even number of nodes) or `lms` (last man standing).
        public var algorithm = "ffsplit"
        /// Which half wins a tie: `lowest`, `highest` or a node id.
        public var tieBreaker: String?
        public var votes = 1

        public init(host: String, port: Int? = nil, algorithm: String = "ffsplit", tieBreaker: String? = nil, votes: Int = 1) {
            self.host = host
            self.port = port
            self.algorithm = algorithm
            self.tieBreaker = tieBreaker
            self.votes = votes
        }
    }

    /// The configured quorum device, if the file has one of model `net`.
    public var qdevice: QDevice? {
        guard let device = Self.children(of: "device", in: Self.children(of: "quorum", in: items)) else { return nil }
        var values: [String: String] = [:]
        for case .value(let key, let value) in device { values[key] = value }
        var net: [String: String] = [:]
        for case .value(let key, let value) in Self.children(of: "net", in: device) ?? [] { net[key] = value }
        guard values["model"] == "net", let host = net["host"] else { return nil }
        return QDevice(
            host: host, port: net["port"].flatMap { Int($0) }, algorithm: net["algorithm"] ?? "ffsplit", tieBreaker: net["tie_breaker"],
            votes: values["votes"].flatMap { Int($0) } ?? 1)
    }

    /// Puts `device` in the quorum section (replacing one there was). `two_node` goes: the device's
    /// vote is what lets one of two nodes keep quorum, and votequorum refuses both together.
    public mutating func setQDevice(_ device: QDevice) {
        var net: [Item] = [.value(key: "algorithm", value: device.algorithm), .value(key: "host", value: device.host)]
        if let port = device.port { net.append(.value(key: "port", value: "\(port)")) }
        if let tieBreaker = device.tieBreaker { net.append(.value(key: "tie_breaker", value: tieBreaker)) }
        net.append(.value(key: "tls", value: "on"))
        let section = Item.section(
            name: "device",
            items: [.value(key: "model", value: "net"), .section(name: "net", items: net), .value(key: "votes", value: "\(device.votes)")])
        editQuorum { children in
            children.removeAll { item in
                switch item {
                case .section("device", _), .value("two_node", _): true
                default: false
                }
            }
            children.append(section)
        }
    }

    /// Removes the quorum device section; false if there was none.
    public mutating func removeQDevice() -> Bool {
        var removed = false
        editQuorum { children in
            let before = children.count
            children.removeAll { if case .section("device", _) = $0 { true } else { false } }
            removed = children.count != before
        }
        return removed
    }

    private mutating func editQuorum(_ edit: (inout [Item]) -> Void) {
        if let index = items.firstIndex(where: { if case .section("quorum", _) = $0 { true } else { false } }),
            case .section(_, var children) = items[index]
        {
            edit(&children)
            items[index] = .section(name: "quorum", items: children)
        } else {
            var children: [Item] = [.value(key: "provider", value: "corosync_votequorum")]
            edit(&children)
            items.append(.section(name: "quorum", items: children))
        }
    }

    static func children(of name: String, in items: [Item]?) -> [Item]? {
        for case .section(let section, let children) in items ?? [] where section == name { return children }
        return nil
    }
}

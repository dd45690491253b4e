import Corosync
import Synchronization

/// Per-node key/values that are shared but never stored: node status, guest runtime state, metrics,
/// cluster log entries. Each node owns its own keys and multicasts them on change; when the
/// membership changes every node multicasts all of its keys again, and the values of nodes that
/// left are dropped. In local mode it simply holds this node's values.
public final class StatusChannel: @unchecked Sendable {
    public let nodeName: String
    private struct State {
        var local: CPGMember?
        var own: [String: [UInt8]] = [:]
        var peers: [CPGMember: (name: String, values: [String: [UInt8]])] = [:]
    }
    private let state = Mutex(State())
    private let observers = Mutex<[@Sendable () -> Void]>([])
    var transmit: (@Sendable ([UInt8]) throws -> Void)?

    public init(nodeName: String) { self.nodeName = nodeName }

    /// Runs `observer` whenever another node's values arrive (on corosync's dispatch thread: keep it short).
    public func addObserver(_ observer: @escaping @Sendable () -> Void) { observers.withLock { $0.append(observer) } }

    /// Sets one of this node's values and tells the other nodes.
    public func set(_ key: String, _ value: [UInt8]) {
        let connected = state.withLock { s -> Bool in
            s.own[key] = value
            return s.local != nil
        }
        if connected { try? transmit?(Self.encode(nodeName: nodeName, [key: value])) }
    }

    /// `node`'s value for `key` (this node's too).
    public func value(node: String, key: String) -> [UInt8]? {
        state.withLock { s in
            if node == nodeName { return s.own[key] }
            return s.peers.values.first { $0.name == node }?.values[key]
        }
    }

    /// Every online node's value for `key`, by node name.
    public func values(key: String) -> [String: [UInt8]] {
        state.withLock { s in
            var out: [String: [UInt8]] = [:]
            for peer in s.peers.values { out[peer.name] = peer.values[key] }
            out[nodeName] = s.own[key]
            return out
        }
    }

    // MARK: group events (dispatch thread)

    func connected(local: CPGMember) { state.withLock { $0.local = local } }

    func disconnected() {
        state.withLock {
            $0.local = nil
            $0.peers = [:]
        }
    }

    func membershipChanged(_ members: [CPGMember], joined: [CPGMember]) {
        let all = state.withLock { s -> [String: [UInt8]]? in
            let present = Set(members)
            s.peers = s.peers.filter { present.contains($0.key) }
            return joined.isEmpty ? nil : s.own
        }
        if let all { try? transmit?(Self.encode(nodeName: nodeName, all)) }
    }

    func delivered(from sender: CPGMember, _ bytes: [UInt8]) {
        guard let (name, values) = try? Self.decode(bytes) else { return }
        state.withLock { s in
            guard sender != s.local else { return }
            var peer = s.peers[sender] ?? (name, [:])
            peer.name = name
            peer.values.merge(values) { $1 }
            s.peers[sender] = peer
        }
        for observer in observers.withLock({ $0 }) { observer() }
    }

    static func encode(nodeName: String, _ values: [String: [UInt8]]) -> [UInt8] {
        var w = WireWriter()
        w.string(nodeName)
        w.u32(UInt32(values.count))
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            w.string(key)
            w.data(value)
        }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(WireError) -> (String, [String: [UInt8]]) {
        var r = WireReader(bytes)
        let name = try r.string()
        var values: [String: [UInt8]] = [:]
        for _ in 0..<(try r.count(elementSize: 8)) { values[try r.string()] = try r.data() }
        guard r.atEnd else { throw WireError() }
        return (name, values)
    }
}

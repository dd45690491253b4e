import Foundation

/// What a node's local manager does when its corrald stops for good (datacenter.cfg's
/// `ha: shutdown_policy=…`, PVE's names). A stop that is not the host going down (corrald
/// restarted, upgraded) always freezes: the guests keep running and nobody recovers them.
public enum HAShutdownPolicy: String, Sendable, CaseIterable {
    case conditional, freeze, failover, migrate

    /// The policy in a `datacenter.cfg`; conditional when it names none.
    public static func from(datacenterConfig text: String) -> HAShutdownPolicy {
        for line in text.split(separator: "\n") where line.hasPrefix("ha:") {
            for item in line.dropFirst(3).split(separator: ",") {
                let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if pair.count == 2, pair[0] == "shutdown_policy", let policy = HAShutdownPolicy(rawValue: pair[1]) { return policy }
            }
        }
        return .conditional
    }

    /// The mode the local manager reports on its way down: `restart` (its services freeze where
    /// they run), `shutdown` (they stop, and are recovered elsewhere once the node is fenced, at
    /// once since the node gives its lock up) or `maintenance` (they move away first).
    public func mode(hostGoingDown: Bool, rebooting: Bool) -> String {
        guard hostGoingDown else { return "restart" }
        switch self {
        case .freeze: return "restart"
        case .failover: return "shutdown"
        case .migrate: return "maintenance"
        case .conditional: return rebooting ? "restart" : "shutdown"
        }
    }
}

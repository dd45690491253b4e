import Blocking
import ClusterFS
import Foundation
import Storage
import Synchronization

/// Keeps this node's nftables ruleset equal to what the configuration compiles to: on every change
/// of a firewall file or of one of this node's guest configs (the cluster filesystem's event, not a
/// poll), and when an endpoint asks. A configuration that does not compile never replaces the
/// running ruleset (`nft -f` is atomic, and compiling comes first); the error is kept for `status`.
public final class FirewallService: Sendable {
    public let tree: any ConfigTree
    public let node: String
    let managementTCP: [Int]
    let nft: [String]

    struct State {
        var applied: String?
        var lastError: String?
    }
    private let state = Mutex(State())
    private let job = CoalescedJob()
    /// One apply at a time (an endpoint's and the watcher's).
    private let applying = Mutex(())

    public init(tree: any ConfigTree, node: String, managementTCP: [Int], nft: [String] = ["nft"]) {
        self.tree = tree
        self.node = node
        self.managementTCP = managementTCP
        self.nft = nft
    }

    /// The input as the tree holds it now, with `change` applied (an endpoint's candidate).
    public func input(_ change: (inout FirewallInput) throws -> Void = { _ in }) throws -> FirewallInput {
        var input = try FirewallInput.load(tree: tree, node: node)
        input.managementTCP = managementTCP
        try change(&input)
        return input
    }

    /// Compiles and, when the text differs from what is loaded, loads it. Throws the compile or
    /// `nft` error; the running ruleset then stays as it was.
    @discardableResult
    public func apply() throws -> String {
        try applying.withLock { _ in try applyLocked() }
    }

    private func applyLocked() throws -> String {
        do {
            let ruleset = try FirewallCompiler.compile(try input())
            let previous = state.withLock { $0.applied }
            if ruleset != previous {
                // a node whose firewall never ran has no tables to remove: leave nft alone
                if ruleset == FirewallCompiler.removal, previous == nil, !tablesExist() {
                    state.withLock { $0.applied = ruleset }
                    return ruleset
                }
                try Command.run(nft + ["-f", "-"], input: ruleset)
                state.withLock { $0.applied = ruleset }
            }
            state.withLock { $0.lastError = nil }
            return ruleset
        } catch {
            state.withLock { $0.lastError = "\(error)" }
            throw error
        }
    }

    func tablesExist() -> Bool {
        guard let out = try? Command.run(nft + ["list", "tables"]) else { return false }
        return out.contains(" \(FirewallCompiler.table)\n") || out.hasSuffix(" \(FirewallCompiler.table)")
    }

    /// The last error, if the configuration did not load.
    public var lastError: String? { state.withLock { $0.lastError } }
    public var applied: String? { state.withLock { $0.applied } }

    /// Applies once now and again whenever a relevant path changes; several changes while one
    /// apply runs make one more apply.
    public func watch(_ fs: ClusterFS) {
        guard job.claim() else { return }
        let node = node
        let relevant: @Sendable (String) -> Bool = { path in
            path.hasPrefix("firewall/") || path.hasPrefix("sdn/firewall/") || path == "sdn/vnets.cfg" || path == "nodes/\(node)/host.fw"
                || path.hasPrefix("nodes/\(node)/qemu-server/")
                || path.hasPrefix("nodes/\(node)/lxc/")
        }
        fs.observe(paths: relevant) { [weak self] in self?.schedule() }
        schedule()
    }

    func schedule() { job.schedule { [self] in _ = try? apply() } }
}

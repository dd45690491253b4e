import API
import Blocking
import ClusterFS
import Foundation
import Schema
import TLS
import Tasks

extension SDNEndpoints {
    static func apply(_ store: SDNStore) -> [Endpoint] {
        let admin = Permission.privileges(path: "/sdn", ["SDN.Allocate"])
        return [
            Endpoint(
                pve: "PUT /cluster/sdn",
                description: "Applies the pending configuration on every node (a task that waits for each online node's outcome).",
                returns: .string(), permission: admin,
                handler: .blocking { context in
                    let config = try store.tree.withLock("sdn", timeout: 10) { () throws -> SDNConfig in
                        try store.checkLock(context)
                        var config = try store.pending()
                        let problems = SDNCompiler.check(config)
                        if !problems.isEmpty {
                            throw APIError(
                                400,
                                "the SDN configuration cannot be applied: "
                                    + problems.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; "))
                        }
                        config.version = max(config.version, store.running().version + 1)
                        try store.tree.write("sdn/.running-config", Array(config.runningText().utf8))
                        if context.bool("release-lock") ?? true { try? store.tree.delete(SDNStore.lockFile) }
                        return config
                    }
                    let nodes = store.onlineNodes()
                    return .string(
                        try context.services.tasks.start(type: "reloadnetworkall", user: context.user) { log in
                            try await BlockingExecutor.shared.run { try waitApplied(store, version: config.version, nodes: nodes, log: log.log) }
                        }.description)
                }),
            Endpoint(
                pve: "POST /cluster/sdn/rollback", description: "Drops the pending changes: the files go back to the running configuration.",
                permission: admin,
                handler: .blocking { context in
                    try store.tree.withLock("sdn", timeout: 10) {
                        try store.checkLock(context)
                        let running = store.running(), pending = try store.pending()
                        for kind in SDNConfig.kinds where kind != "ipams" && (running.objects[kind] ?? [:]) != (pending.objects[kind] ?? [:]) {
                            try SDNConfig.write(kind, running.objects[kind] ?? [:], tree: store.tree)
                        }
                        if context.bool("release-lock") ?? true { try? store.tree.delete(SDNStore.lockFile) }
                    }
                    return .null
                }),
            Endpoint(
                pve: "POST /cluster/sdn/lock", description: "Locks the SDN configuration; changes then need the returned token.",
                returns: .string(), permission: admin,
                handler: .blocking { context in
                    try store.tree.withLock("sdn", timeout: 10) {
                        if store.lockToken() != nil { throw APIError(400, "the SDN configuration is already locked") }
                        if context.bool("allow-pending") != true {
                            let running = store.running(), pending = try store.pending()
                            if SDNConfig.kinds.contains(where: { $0 != "ipams" && (running.objects[$0] ?? [:]) != (pending.objects[$0] ?? [:]) }) {
                                throw APIError(400, "there are pending changes; apply or roll them back first (or pass allow-pending)")
                            }
                        }
                        let token = Digest.sha1Hex(Array(UUID().uuidString.utf8))
                        if !store.tree.exists("sdn") { try? store.tree.mkdir("sdn") }
                        try store.tree.write(SDNStore.lockFile, Array(token.utf8))
                        return .string(token)
                    }
                }),
            Endpoint(
                pve: "DELETE /cluster/sdn/lock", description: "Releases the lock (its token, or force).", permission: admin,
                handler: .blocking { context in
                    try store.tree.withLock("sdn", timeout: 10) {
                        guard let token = store.lockToken() else { return }
                        guard context.bool("force") == true || context.parameters["lock-token"]?.plainText == token else {
                            throw APIError(400, "wrong lock-token (pass force=1 to break the lock)")
                        }
                        try store.tree.delete(SDNStore.lockFile)
                    }
                    return .null
                }),
            Endpoint(
                pve: "GET /cluster/sdn/dry-run",
                description: "What applying the pending configuration would change in a node's network configuration (a diff).",
                returns: .object([:], additionalProperties: true), permission: .privileges(path: "/nodes/{node}", ["Sys.Audit"]),
                handler: .blocking { context in
                    var config = try store.pending()
                    config.version = store.running().version + 1
                    let new = store.service.plan(config).interfaces
                    let old = store.service.plan(store.running()).interfaces
                    return ["interfaces-diff": .string(diff(old, new))]
                }),
        ]
    }

    /// Waits (up to 60 s) until every node in `nodes` has published `version`, logging each
    /// node's zones; fails naming the nodes and zones that did not come up.
    static func waitApplied(_ store: SDNStore, version: Int, nodes: [String], log: (String) -> Void) throws {
        log("applying SDN configuration version \(version) on \(nodes.joined(separator: ", "))")
        store.service.schedule()
        let deadline = Date().addingTimeInterval(60)
        var pending = Set(nodes)
        var failures: [String] = []
        while !pending.isEmpty && Date() < deadline {
            for node in pending.sorted() {
                guard let status = SDNService.published(tree: store.tree, node: node), status.version >= version else { continue }
                pending.remove(node)
                for (zone, error) in status.zones.sorted(by: { $0.key < $1.key }) {
                    log("\(node): zone \(zone): " + (error.isEmpty ? "available" : "error: \(error)"))
                    if !error.isEmpty { failures.append("\(node)/\(zone)") }
                }
                if let error = status.error {
                    log("\(node): \(error)")
                    failures.append(node)
                }
            }
            if !pending.isEmpty { usleep(100_000) }
        }
        if !pending.isEmpty { throw APIError(500, "no answer from \(pending.sorted().joined(separator: ", ")) within 60 s") }
        if !failures.isEmpty { throw APIError(500, "not applied everywhere: \(failures.joined(separator: ", "))") }
    }

    /// A line diff in unified style (no context), for the dry run.
    static func diff(_ old: String, _ new: String) -> String {
        let a = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let b = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let changes = b.difference(from: a)
        var out = "--- running\n+++ pending\n"
        for change in changes {
            switch change {
            case .remove(_, let line, _): out += "-\(line)\n"
            case .insert(_, let line, _): out += "+\(line)\n"
            }
        }
        return changes.isEmpty ? "" : out
    }
}

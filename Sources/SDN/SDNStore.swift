import API
import ClusterFS
import Foundation
import Schema
import TLS

/// Changes to the pending SDN configuration for the endpoints: one object at a time, checked
/// against the whole configuration (a change that makes a new problem is a 400 naming the field,
/// and nothing is written), under the cluster-wide `sdn` lock and PVE 9's optional lock token.
struct SDNStore: Sendable {
    let service: SDNService
    var tree: any ConfigTree { service.tree }

    static let lockFile = "sdn/.lock"

    func digest(_ kind: String) -> String { Digest.sha1Hex(Array(((try? tree.readString("sdn/\(kind).cfg")) ?? "").utf8)) }

    func pending() throws -> SDNConfig { try SDNConfig.load(tree: tree) }
    func running() -> SDNConfig { SDNConfig.running(tree: tree) }

    /// The lock token the configuration is held with, if any.
    func lockToken() -> String? {
        (try? tree.readString(Self.lockFile)).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    func checkLock(_ context: RequestContext) throws {
        guard let token = lockToken() else { return }
        guard context.parameters["lock-token"]?.plainText == token else {
            throw APIError(400, "the SDN configuration is locked; pass its lock-token (or release it with DELETE /cluster/sdn/lock)")
        }
    }

    /// Loads, changes and writes the pending configuration; `kind` names the file the change is to.
    func modify(_ context: RequestContext, kind: String, _ change: (inout SDNConfig) throws -> Void) throws {
        try tree.withLock("sdn", timeout: 10) {
            try checkLock(context)
            let before = try pending()
            if let digest = context.parameters["digest"]?.plainText, !digest.isEmpty, digest != self.digest(kind) {
                throw APIError(500, "detected modified configuration - file changed by other user? Try again.")
            }
            var after = before
            try change(&after)
            let old = SDNCompiler.check(before)
            var errors: [String: String] = [:]
            for (key, message) in SDNCompiler.check(after) where old[key] != message {
                errors[String(key.split(separator: "/").last ?? Substring(key))] = message
            }
            if !errors.isEmpty { throw APIError(400, "Parameter verification failed.", errors: errors) }
            for name in SDNConfig.kinds where after.objects[name] != before.objects[name] {
                try SDNConfig.write(name, after.objects[name] ?? [:], tree: tree)
            }
        }
    }

    /// kind → id → "new" | "changed" | "deleted" between the files and the running configuration.
    static func states(pending: SDNConfig, running: SDNConfig, kind: String) -> [String: String] {
        var out: [String: String] = [:]
        let p = pending.objects[kind] ?? [:], r = running.objects[kind] ?? [:]
        for (id, object) in p {
            if let old = r[id] { if old != object { out[id] = "changed" } } else { out[id] = "new" }
        }
        for id in r.keys where p[id] == nil { out[id] = "deleted" }
        return out
    }

    /// Rows for a list or a read: the files' objects; with `running`, the applied ones; with
    /// `pending`, the applied values with what would change under `pending` and a `state`.
    func rows(
        _ context: RequestContext, kind: String, idKey: String, filter: (String, SDNObject) -> Bool = { _, _ in true }
    ) throws -> [[String: JSON]] {
        let pendingConfig = try pending(), runningConfig = running()
        if context.bool("running") == true {
            return (runningConfig.objects[kind] ?? [:]).filter { filter($0.key, $0.value) }.sorted { $0.key < $1.key }.map {
                $0.value.json(id: idKey, $0.key)
            }
        }
        guard context.bool("pending") == true else {
            let digest = self.digest(kind)
            return (pendingConfig.objects[kind] ?? [:]).filter { filter($0.key, $0.value) }.sorted { $0.key < $1.key }.map { id, object in
                var row = object.json(id: idKey, id)
                row["digest"] = .string(digest)
                return row
            }
        }
        let states = Self.states(pending: pendingConfig, running: runningConfig, kind: kind)
        var out: [[String: JSON]] = []
        let ids = Set((pendingConfig.objects[kind] ?? [:]).keys).union((runningConfig.objects[kind] ?? [:]).keys).sorted()
        for id in ids {
            let new = pendingConfig.objects[kind]?[id], old = runningConfig.objects[kind]?[id]
            guard let any = new ?? old, filter(id, any) else { continue }
            var row = (old ?? new!).json(id: idKey, id)
            if let state = states[id] { row["state"] = .string(state) }
            if let new, new != old {
                let newJSON = new.json(id: idKey, id), oldJSON = old?.json(id: idKey, id) ?? [:]
                var changes: [String: JSON] = [:]
                for (key, value) in newJSON where oldJSON[key] != value && key != idKey { changes[key] = value }
                for key in oldJSON.keys where newJSON[key] == nil { changes[key] = .null }
                if !changes.isEmpty { row["pending"] = .object(changes) }
            }
            out.append(row)
        }
        return out
    }

    /// The cluster's members as `.members` lists them (this node alone when it is not clustered).
    func onlineNodes() -> [String] {
        let members = tree.clusterMembers()
        guard !members.isEmpty else { return [service.node] }
        return members.filter(\.value.online).keys.sorted()
    }
}

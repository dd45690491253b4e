import API
import ClusterFS
import Foundation
import Schema

/// Reads and changes firewall files for the endpoints: every change is checked by compiling the
/// whole configuration with it before it is written (bad input is a 400 and nothing changes), and
/// the ruleset is loaded before the call returns. If loading fails, the old file is put back.
struct FirewallStore: Sendable {
    let service: FirewallService
    var tree: any ConfigTree { service.tree }

    func read(_ path: String) throws -> (file: FirewallFile, digest: String) {
        let text = (try? tree.readString(path)) ?? ""
        return (try FirewallFile.parse(text, file: path), FirewallScope.digest(text))
    }

    func read(_ context: RequestContext, _ scope: FirewallScope) throws -> (file: FirewallFile, digest: String) {
        try read(try scope.file(context, tree: tree))
    }

    func modify(_ context: RequestContext, _ scope: FirewallScope, _ change: (inout FirewallFile) throws -> Void) throws {
        let path = try scope.file(context, tree: tree)
        try tree.withLock("firewall", timeout: 10) {
            let old = try? tree.readString(path)
            if let digest = context.parameters["digest"]?.plainText, !digest.isEmpty, digest != FirewallScope.digest(old ?? "") {
                throw FirewallError(500, "detected modified configuration - file changed by other user? Try again.")
            }
            var file = try FirewallFile.parse(old ?? "", file: path)
            try change(&file)
            let candidate = try service.input { input in
                switch scope.kind {
                case .cluster: input.cluster = file
                case .host: input.host = file
                case .guest:
                    let vmid = Int(path.dropFirst("firewall/".count).dropLast(".fw".count)) ?? 0
                    if let index = input.guests.firstIndex(where: { $0.vmid == vmid }) { input.guests[index].file = file }
                case .vnet:
                    input.vnets[String(path.dropFirst("sdn/firewall/".count).dropLast(".fw".count))] = file
                }
            }
            try FirewallCompiler.validate(candidate)
            let dir = (path as NSString).deletingLastPathComponent
            if !tree.exists(dir) { try? tree.mkdir(dir) }
            try tree.write(path, Array(file.text.utf8))
            do { try service.apply() } catch {
                if let old { try? tree.write(path, Array(old.utf8)) } else { try? tree.delete(path) }
                _ = try? service.apply()
                throw FirewallError(500, "the ruleset did not load, the change was undone: \(error)")
            }
        }
    }

    /// `pos` as an index into `count` rules; 400 when there is no such rule.
    static func position(_ context: RequestContext, count: Int, name: String = "pos") throws -> Int {
        guard let pos = context.int(name), pos >= 0, pos < count else {
            throw FirewallError.field(name, "no rule at position \(context.string(name) ?? "?")")
        }
        return Int(pos)
    }
}

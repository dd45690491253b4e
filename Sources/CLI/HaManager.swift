import API
import Foundation
import Schema

/// `ha-manager`: HA resources, rules, groups and commands as words over `/cluster/ha`, and
/// `status` in PVE's one-line-per-row form.
public struct HaManager {
    static let commands: [WordCommand] = [
        WordCommand(words: ["config"], verb: "get", path: "/cluster/ha/resources", positionals: []),
        WordCommand(words: ["add"], verb: "create", path: "/cluster/ha/resources", positionals: ["sid"]),
        WordCommand(words: ["set"], verb: "set", path: "/cluster/ha/resources/{sid}", positionals: ["sid"]),
        WordCommand(words: ["remove"], verb: "delete", path: "/cluster/ha/resources/{sid}", positionals: ["sid"]),
        WordCommand(words: ["migrate"], verb: "create", path: "/cluster/ha/resources/{sid}/migrate", positionals: ["sid", "node"]),
        WordCommand(words: ["relocate"], verb: "create", path: "/cluster/ha/resources/{sid}/relocate", positionals: ["sid", "node"]),
        WordCommand(words: ["crm-command", "migrate"], verb: "create", path: "/cluster/ha/resources/{sid}/migrate", positionals: ["sid", "node"]),
        WordCommand(words: ["crm-command", "relocate"], verb: "create", path: "/cluster/ha/resources/{sid}/relocate", positionals: ["sid", "node"]),
        WordCommand(
            words: ["crm-command", "node-maintenance", "enable"], verb: "create", path: "/cluster/ha/status/maintenance", positionals: ["node"],
            fixed: ["--enable", "1"]),
        WordCommand(
            words: ["crm-command", "node-maintenance", "disable"], verb: "create", path: "/cluster/ha/status/maintenance", positionals: ["node"],
            fixed: ["--enable", "0"]),
        WordCommand(words: ["groupconfig"], verb: "get", path: "/cluster/ha/groups", positionals: []),
        WordCommand(words: ["groupadd"], verb: "create", path: "/cluster/ha/groups", positionals: ["group"]),
        WordCommand(words: ["groupset"], verb: "set", path: "/cluster/ha/groups/{group}", positionals: ["group"]),
        WordCommand(words: ["groupremove"], verb: "delete", path: "/cluster/ha/groups/{group}", positionals: ["group"]),
        WordCommand(words: ["rules", "config"], verb: "get", path: "/cluster/ha/rules", positionals: []),
        WordCommand(words: ["rules", "add"], verb: "create", path: "/cluster/ha/rules", positionals: ["type", "rule"]),
        WordCommand(words: ["rules", "set"], verb: "set", path: "/cluster/ha/rules/{rule}", positionals: ["type", "rule"]),
        WordCommand(words: ["rules", "remove"], verb: "delete", path: "/cluster/ha/rules/{rule}", positionals: ["rule"]),
        WordCommand(words: ["status"], verb: "get", path: "/cluster/ha/status/current", positionals: []),
    ]

    let pvesh: Pvesh
    let node: String

    public init(pvesh: Pvesh, node: String) {
        self.pvesh = pvesh
        self.node = node
    }

    public func run(_ arguments: [String]) async -> Int32 {
        if arguments == ["status"] || arguments == ["status", "--verbose"] { return await status(verbose: arguments.count == 2) }
        return await WordCommands(tool: "ha-manager", commands: Self.commands, node: node).run(arguments, pvesh: pvesh)
    }

    /// `quorum OK`, `master n1 (active, …)`, `lrm n1 (active, …)`, `service ct:101 (n1, started)`.
    func status(verbose: Bool) async -> Int32 {
        let outcome = await pvesh.dispatcher.call(APICall(method: "GET", segments: ["cluster", "ha", "status", "current"]))
        switch outcome.result {
        case .success(let data):
            for row in data.arrayValue ?? [] {
                pvesh.write("\(row["type"]?.plainText ?? "") \(row["status"]?.plainText ?? "")\n")
            }
            if verbose {
                let full = await pvesh.dispatcher.call(APICall(method: "GET", segments: ["cluster", "ha", "status", "manager_status"]))
                if case .success(let detail) = full.result { pvesh.write(String(decoding: detail.serialized(pretty: true), as: UTF8.self) + "\n") }
            }
            return 0
        case .failure(let error): return Pvesh.report(CLIError.failed("\(error.status) \(error.description)", code: 1))
        }
    }
}

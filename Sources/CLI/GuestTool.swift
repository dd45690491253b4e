import Composition
import Foundation

/// What `qm` and `pct` share: word commands over the guest API (run through pvesh, so tasks run here
/// and their logs print as they go), plus commands that work on the node itself.
struct GuestTool {
    let name: String
    let commands: [WordCommand]
    /// Usage lines of the local commands.
    let localUsage: String
    let localCommands: Set<String>
    let pvesh: Pvesh
    let settings: Settings

    /// The commands both tools have, over `/nodes/{node}/<type>…`, with `create`'s positionals and
    /// the power commands of the type.
    static func commands(type: String, create: [String], power: [String], extra: [WordCommand]) -> [WordCommand] {
        let guest = "/nodes/{node}/\(type)/{vmid}"
        return [
            WordCommand(words: ["list"], verb: "get", path: "/nodes/{node}/\(type)", positionals: []),
            WordCommand(words: ["create"], verb: "create", path: "/nodes/{node}/\(type)", positionals: create),
            WordCommand(words: ["config"], verb: "get", path: guest + "/config", positionals: ["vmid"]),
            WordCommand(words: ["set"], verb: "set", path: guest + "/config", positionals: ["vmid"]),
            WordCommand(words: ["pending"], verb: "get", path: guest + "/pending", positionals: ["vmid"]),
            WordCommand(words: ["status"], verb: "get", path: guest + "/status/current", positionals: ["vmid"]),
            WordCommand(words: ["snapshot"], verb: "create", path: guest + "/snapshot", positionals: ["vmid", "snapname"]),
            WordCommand(words: ["listsnapshot"], verb: "get", path: guest + "/snapshot", positionals: ["vmid"]),
            WordCommand(words: ["rollback"], verb: "create", path: guest + "/snapshot/{snapname}/rollback", positionals: ["vmid", "snapname"]),
            WordCommand(words: ["delsnapshot"], verb: "delete", path: guest + "/snapshot/{snapname}", positionals: ["vmid", "snapname"]),
            WordCommand(words: ["clone"], verb: "create", path: guest + "/clone", positionals: ["vmid", "newid"]),
            WordCommand(words: ["template"], verb: "create", path: guest + "/template", positionals: ["vmid"]),
            WordCommand(words: ["resize"], verb: "set", path: guest + "/resize", positionals: ["vmid", "disk", "size"]),
            WordCommand(words: ["destroy"], verb: "delete", path: guest, positionals: ["vmid"]),
            WordCommand(words: ["unlock"], verb: "set", path: guest + "/config", positionals: ["vmid"], fixed: ["--delete", "lock"]),
            WordCommand(words: ["migrate"], verb: "create", path: guest + "/migrate", positionals: ["vmid", "target"]),
        ] + extra + power.map { WordCommand(words: [$0], verb: "create", path: guest + "/status/\($0)", positionals: ["vmid"]) }
    }

    func run(_ arguments: [String], local: ([String]) throws -> Int32) async -> Int32 {
        let table = WordCommands(tool: name, commands: commands, node: settings.nodeName)
        if arguments.isEmpty || ["help", "--help", "-h"].contains(arguments[0]) {
            FileHandle.standardOutput.write(Data((table.usageText + localUsage).utf8))
            return arguments.isEmpty ? 2 : 0
        }
        do {
            if localCommands.contains(arguments[0]) { return try local(arguments) }
            return await pvesh.run(try table.translate(arguments))
        } catch {
            return Pvesh.report(error)
        }
    }
}

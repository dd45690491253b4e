import Foundation

/// `pvesm`: storages as words over `/storage` (the configuration) and `/nodes/{node}/storage…`
/// (status and content on this node).
public struct Pvesm {
    static let commands: [WordCommand] = [
        WordCommand(words: ["add"], verb: "create", path: "/storage", positionals: ["type", "storage"]),
        WordCommand(words: ["set"], verb: "set", path: "/storage/{storage}", positionals: ["storage"]),
        WordCommand(words: ["remove"], verb: "delete", path: "/storage/{storage}", positionals: ["storage"]),
        WordCommand(words: ["status"], verb: "get", path: "/nodes/{node}/storage", positionals: []),
        WordCommand(words: ["list"], verb: "get", path: "/nodes/{node}/storage/{storage}/content", positionals: ["storage"]),
        WordCommand(words: ["scan", "lvm"], verb: "get", path: "/nodes/{node}/scan/lvm", positionals: []),
        WordCommand(words: ["scan", "lvmthin"], verb: "get", path: "/nodes/{node}/scan/lvmthin", positionals: ["vg"]),
        WordCommand(words: ["scan", "zfs"], verb: "get", path: "/nodes/{node}/scan/zfs", positionals: []),
        WordCommand(words: ["scan", "nfs"], verb: "get", path: "/nodes/{node}/scan/nfs", positionals: ["server"]),
        WordCommand(
            words: ["alloc"], verb: "create", path: "/nodes/{node}/storage/{storage}/content", positionals: ["storage", "vmid", "filename", "size"]),
    ]

    let pvesh: Pvesh
    let node: String

    public init(pvesh: Pvesh, node: String) {
        self.pvesh = pvesh
        self.node = node
    }

    public func run(_ arguments: [String]) async -> Int32 {
        let table = WordCommands(tool: "pvesm", commands: Self.commands, node: node)
        if arguments.isEmpty || ["help", "--help", "-h"].contains(arguments[0]) {
            FileHandle.standardOutput.write(Data(table.usageText.utf8))
            return arguments.isEmpty ? 2 : 0
        }
        do { return await pvesh.run(try table.translate(arguments)) } catch { return Pvesh.report(error) }
    }
}

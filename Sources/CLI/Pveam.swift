import Foundation

/// `pveam`: container templates as words over `/nodes/{node}/aplinfo` (the templates this node builds
/// itself: busybox offline, Debian through debootstrap) and the storages' `vztmpl` content.
public struct Pveam {
    static let commands: [WordCommand] = [
        WordCommand(words: ["available"], verb: "get", path: "/nodes/{node}/aplinfo", positionals: []),
        WordCommand(words: ["download"], verb: "create", path: "/nodes/{node}/aplinfo", positionals: ["storage", "template"]),
        WordCommand(
            words: ["list"], verb: "get", path: "/nodes/{node}/storage/{storage}/content", positionals: ["storage"], fixed: ["--content", "vztmpl"]),
    ]

    let pvesh: Pvesh
    let node: String

    public init(pvesh: Pvesh, node: String) {
        self.pvesh = pvesh
        self.node = node
    }

    public func run(_ arguments: [String]) async -> Int32 {
        return await WordCommands(tool: "pveam", commands: Self.commands, node: node).run(arguments, pvesh: pvesh)
    }
}

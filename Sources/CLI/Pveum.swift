import Foundation

/// `pveum`: PVE's user-management commands as words over the `/access` and `/pools` API. Each
/// command names one endpoint; its positional arguments fill the endpoint's path and required
/// parameters, and every other option is that endpoint's own parameter (validated by its schema,
/// like pvesh, which runs it).
public struct Pveum {
    typealias Command = WordCommand

    static let commands: [Command] = [
        Command(words: ["user", "add"], verb: "create", path: "/access/users", positionals: ["userid"]),
        Command(words: ["user", "modify"], verb: "set", path: "/access/users/{userid}", positionals: ["userid"]),
        Command(words: ["user", "delete"], verb: "delete", path: "/access/users/{userid}", positionals: ["userid"]),
        Command(words: ["user", "list"], verb: "get", path: "/access/users", positionals: []),
        Command(words: ["user", "permissions"], verb: "get", path: "/access/permissions", positionals: ["userid"], optional: ["userid"]),
        Command(
            words: ["user", "token", "add"], verb: "create", path: "/access/users/{userid}/token/{tokenid}", positionals: ["userid", "tokenid"]),
        Command(
            words: ["user", "token", "modify"], verb: "set", path: "/access/users/{userid}/token/{tokenid}", positionals: ["userid", "tokenid"]),
        Command(
            words: ["user", "token", "remove"], verb: "delete", path: "/access/users/{userid}/token/{tokenid}", positionals: ["userid", "tokenid"]),
        Command(words: ["user", "token", "list"], verb: "get", path: "/access/users/{userid}/token", positionals: ["userid"]),
        Command(words: ["user", "tfa", "delete"], verb: "delete", path: "/access/tfa/{userid}/{id}", positionals: ["userid", "id"]),
        Command(words: ["group", "add"], verb: "create", path: "/access/groups", positionals: ["groupid"]),
        Command(words: ["group", "modify"], verb: "set", path: "/access/groups/{groupid}", positionals: ["groupid"]),
        Command(words: ["group", "delete"], verb: "delete", path: "/access/groups/{groupid}", positionals: ["groupid"]),
        Command(words: ["group", "list"], verb: "get", path: "/access/groups", positionals: []),
        Command(words: ["role", "add"], verb: "create", path: "/access/roles", positionals: ["roleid"]),
        Command(words: ["role", "modify"], verb: "set", path: "/access/roles/{roleid}", positionals: ["roleid"]),
        Command(words: ["role", "delete"], verb: "delete", path: "/access/roles/{roleid}", positionals: ["roleid"]),
        Command(words: ["role", "list"], verb: "get", path: "/access/roles", positionals: []),
        Command(words: ["acl", "modify"], verb: "set", path: "/access/acl", positionals: ["path"]),
        Command(words: ["acl", "delete"], verb: "set", path: "/access/acl", positionals: ["path"], fixed: ["--delete", "1"]),
        Command(words: ["acl", "list"], verb: "get", path: "/access/acl", positionals: []),
        Command(words: ["realm", "list"], verb: "get", path: "/access/domains", positionals: []),
        Command(words: ["realm", "add"], verb: "create", path: "/access/domains", positionals: ["realm"]),
        Command(words: ["realm", "modify"], verb: "set", path: "/access/domains/{realm}", positionals: ["realm"]),
        Command(words: ["realm", "delete"], verb: "delete", path: "/access/domains/{realm}", positionals: ["realm"]),
        Command(words: ["realm", "sync"], verb: "create", path: "/access/domains/{realm}/sync", positionals: ["realm"]),
        Command(words: ["pool", "add"], verb: "create", path: "/pools", positionals: ["poolid"]),
        Command(words: ["pool", "modify"], verb: "set", path: "/pools", positionals: ["poolid"]),
        Command(words: ["pool", "delete"], verb: "delete", path: "/pools", positionals: ["poolid"]),
        Command(words: ["pool", "list"], verb: "get", path: "/pools", positionals: []),
        Command(words: ["passwd"], verb: "set", path: "/access/password", positionals: ["userid"]),
    ]

    let pvesh: Pvesh
    /// Where `passwd` reads the new password (twice, one per line) when no --password is given.
    var readLine: () -> String? = { Swift.readLine(strippingNewline: true) }

    public init(pvesh: Pvesh) { self.pvesh = pvesh }

    static let table = WordCommands(tool: "pveum", commands: commands, node: "")
    static var usageText: String { table.usageText }

    /// The pvesh command line for a pveum one, or a usage error.
    func translate(_ arguments: [String]) throws -> [String] {
        var line = try Self.table.translate(arguments)
        if Self.table.match(arguments)?.words == ["passwd"], !arguments.contains("--password") {
            guard let first = readLine(), let second = readLine() else { throw CLIError.usage("enter the new password twice, one line each") }
            guard first == second else { throw CLIError.failed("the passwords differ", code: 1) }
            line += ["--password", first]
        }
        return line
    }

    public func run(_ arguments: [String]) async -> Int32 {
        if arguments.isEmpty || ["help", "--help", "-h"].contains(arguments[0]) {
            FileHandle.standardOutput.write(Data(Self.usageText.utf8))
            return arguments.isEmpty ? 2 : 0
        }
        do {
            return await pvesh.run(try translate(arguments))
        } catch {
            return Pvesh.report(error)
        }
    }
}

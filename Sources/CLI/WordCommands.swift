import Foundation

/// PVE's word-style tools (`pveum user add`, `qm start 100`) as tables over pvesh: each command names
/// one endpoint; its positional arguments fill the path and required parameters in order, and every
/// other option is that endpoint's own parameter, validated by its schema like any pvesh call.
struct WordCommand {
    let words: [String]
    let verb: String  // pvesh verb: get, create, set, delete
    let path: String  // with {param} placeholders, filled from positionals in order ({node} is this node)
    let positionals: [String]
    var fixed: [String] = []
    /// Positionals that may be left out.
    var optional: Set<String> = []
}

struct WordCommands {
    let tool: String
    let commands: [WordCommand]
    let node: String

    var usageText: String {
        "USAGE: \(tool) <command> [ARGS] [OPTIONS]\n\n"
            + commands.map { c in
                "  \(tool) " + (c.words + c.positionals.map { "<\($0)>" }).joined(separator: " ") + " [OPTIONS]"
            }.joined(separator: "\n") + "\n\nOptions are the API parameters of the command's endpoint (see `pvesh usage PATH -v`).\n"
    }

    /// A tool made only of word commands: usage for none or `help`, else the translated call.
    func run(_ arguments: [String], pvesh: Pvesh) async -> Int32 {
        if arguments.isEmpty || ["help", "--help", "-h"].contains(arguments[0]) {
            FileHandle.standardOutput.write(Data(usageText.utf8))
            return arguments.isEmpty ? 2 : 0
        }
        do { return await pvesh.run(try translate(arguments)) } catch { return Pvesh.report(error) }
    }

    func match(_ arguments: [String]) -> WordCommand? {
        commands.filter { arguments.starts(with: $0.words) }.max { $0.words.count < $1.words.count }
    }

    /// The pvesh command line for a tool's one, or a usage error.
    func translate(_ arguments: [String]) throws -> [String] {
        guard let command = match(arguments) else { throw CLIError.usage(usageText) }
        var rest = Array(arguments.dropFirst(command.words.count))
        var values: [String: String] = ["node": node]
        for name in command.positionals {
            guard let value = rest.first, !value.hasPrefix("--") else {
                if command.optional.contains(name) { break }
                throw CLIError.usage("missing <\(name)>\n\n" + usageText)
            }
            values[name] = value
            rest.removeFirst()
        }
        var path = command.path
        var extra: [String] = []
        // `node` fills the path's {node}; as a positional of its own (a target) it is a parameter too
        let named = command.positionals.contains("node") ? command.positionals : ["node"] + command.positionals
        for name in named {
            guard let value = values[name] else { continue }
            if path.contains("{\(name)}") {
                let allowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))
                path = path.replacingOccurrences(of: "{\(name)}", with: value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)
            } else if name != "node" || command.positionals.contains("node") {
                extra += ["--\(name)", value]
            }
        }
        return [command.verb, path] + extra + command.fixed + rest
    }
}

import API
import Composition
import Foundation
import Schema
import Tasks

/// `pvesh`: the whole API from the shell, derived from the registry. Runs in-process as root on the
/// node, without HTTP: `pvesh get /nodes/NODE/status`, `pvesh create PATH --param value`, …
public struct Pvesh {
    static let verbs: [String: String] = ["get": "GET", "set": "PUT", "create": "POST", "delete": "DELETE"]

    let dispatcher: Dispatcher
    var write: (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) }

    public init(dispatcher: Dispatcher) { self.dispatcher = dispatcher }

    public static let usageText = """
        USAGE: pvesh <command> <api_path> [OPTIONS]

          pvesh ls <api_path>               list child objects
          pvesh get <api_path> [OPTIONS]    call GET
          pvesh set <api_path> [OPTIONS]    call PUT
          pvesh create <api_path> [OPTIONS] call POST
          pvesh delete <api_path> [OPTIONS] call DELETE
          pvesh usage <api_path> [--verbose] [--command <get|set|create|delete>]
          pvesh help

        Options of every call: --output-format <text|json|json-pretty|yaml> (default text), --noborder, --noheader,
        and the method's parameters as --name value.

        """

    /// Runs one command line (without the program name); returns the exit status.
    public func run(_ arguments: [String]) async -> Int32 {
        do {
            try await execute(arguments)
            return 0
        } catch {
            return Self.report(error)
        }
    }

    /// Prints a failure to stderr and returns its exit status (2 for usage, as the CLIError says).
    static func report(_ error: any Error) -> Int32 {
        let text = "\(error)"
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
        return (error as? CLIError)?.exitCode ?? 1
    }

    func execute(_ arguments: [String]) async throws {
        guard let command = arguments.first else { throw CLIError.usage(Self.usageText) }
        if command == "help" || command == "--help" || command == "-h" {
            write(Self.usageText)
            return
        }
        guard arguments.count >= 2 else { throw CLIError.usage("missing API path\n\n" + Self.usageText) }
        let path = arguments[1]
        let segments = path.split(separator: "/").map(String.init)
        let rest = Array(arguments.dropFirst(2))
        switch command {
        case "ls": try await list(segments, rest)
        case "usage": try usage(segments, rest)
        default:
            guard let method = Self.verbs[command] else { throw CLIError.usage("unknown command '\(command)'\n\n" + Self.usageText) }
            try await call(method, segments, rest)
        }
    }

    struct Options {
        var format = OutputFormat.text
        var table = TableOptions()
        var parameters: [String: RawParameter] = [:]
    }

    /// Splits `--name value` pairs; booleans may stand alone (`--full` means `--full 1`).
    func parseOptions(_ arguments: [String], schema: Schema?) throws -> Options {
        var options = Options()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            guard argument.hasPrefix("-"), argument.count > 1 else {
                throw CLIError.usage("unexpected argument '\(argument)' (parameters are given as --name value)")
            }
            var name = String(argument.drop { $0 == "-" })
            var inlineValue: String?
            if let eq = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            index += 1
            func nextValue() throws -> String {
                if let inlineValue { return inlineValue }
                guard index < arguments.count else { throw CLIError.usage("option --\(name) needs a value") }
                defer { index += 1 }
                return arguments[index]
            }
            switch name {
            case "output-format":
                let value = try nextValue()
                guard let format = OutputFormat(rawValue: value) else {
                    throw CLIError.usage("invalid --output-format '\(value)' (text, json, json-pretty, yaml)")
                }
                options.format = format
            case "noborder": options.table.border = false
            case "noheader": options.table.header = false
            case "human-readable", "quiet", "noproxy": break
            default:
                let property = schema?.properties[name]
                if property?.type == .boolean, inlineValue == nil, index >= arguments.count || arguments[index].hasPrefix("--") {
                    options.parameters.appendParameter(name, .text("1"))
                } else {
                    options.parameters.appendParameter(name, .text(try nextValue()))
                }
            }
        }
        return options
    }

    func call(_ method: String, _ segments: [String], _ arguments: [String]) async throws {
        let endpoint = dispatcher.registry.route(method, segments)?.0
        let options = try parseOptions(arguments, schema: endpoint?.parameters)
        let outcome = await dispatcher.call(APICall(method: method, segments: segments, parameters: options.parameters))
        switch outcome.result {
        case .failure(let error):
            throw CLIError.failed("\(error.status) \(error.description)", code: error.status == 400 ? 2 : 1)
        case .success(let data):
            if case .string(let text) = data, text.hasPrefix("UPID:"), method != "GET" {
                try await waitForTask(text)
                return
            }
            write(options.format.render(data, schema: endpoint?.returns, options: options.table))
        }
    }

    /// One call's answer as data, for commands that work with it (`qm guest exec` polls its status).
    func data(_ method: String, _ segments: [String], _ arguments: [String]) async throws -> JSON {
        let endpoint = dispatcher.registry.route(method, segments)?.0
        let options = try parseOptions(arguments, schema: endpoint?.parameters)
        switch await dispatcher.call(APICall(method: method, segments: segments, parameters: options.parameters)).result {
        case .failure(let error): throw CLIError.failed("\(error.status) \(error.description)", code: error.status == 400 ? 2 : 1)
        case .success(let data): return data
        }
    }

    /// A worker started in this process: its log is echoed as it runs; wait for its end.
    func waitForTask(_ text: String) async throws {
        guard let upid = UPID(text) else { return }
        let record = await dispatcher.services.tasks.wait(upid)
        if case .error(let message)? = record.exit { throw CLIError.failed(message, code: 1) }
    }

    func list(_ segments: [String], _ arguments: [String]) async throws {
        let registry = dispatcher.registry
        guard registry.route("GET", segments) != nil || registry.hasChildren(segments) || segments.isEmpty else {
            throw CLIError.failed("no such API path '/\(segments.joined(separator: "/"))'", code: 1)
        }
        var names = registry.children(of: segments).literals
        if registry.children(of: segments).parameter != nil, let (endpoint, _) = registry.route("GET", segments), let key = endpoint.childKey {
            let outcome = await dispatcher.call(APICall(method: "GET", segments: segments))
            if case .success(.array(let items)) = outcome.result {
                names += items.compactMap { $0[key]?.plainText }
            }
        }
        var lines: [String] = []
        for name in names.sorted() {
            let child = segments + [name]
            let methods = registry.methods(at: child)
            let flags = [
                registry.hasChildren(child) ? "D" : "-", methods[.GET] != nil ? "r" : "-", methods[.PUT] != nil ? "w" : "-",
                methods[.POST] != nil ? "c" : "-", methods[.DELETE] != nil ? "d" : "-",
            ].joined()
            lines.append("\(flags)        \(name)")
        }
        write(lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n")
    }

    func usage(_ segments: [String], _ arguments: [String]) throws {
        let verbose = arguments.contains("--verbose") || arguments.contains("-v")
        var only: String?
        if let i = arguments.firstIndex(of: "--command"), i + 1 < arguments.count { only = arguments[i + 1] }
        let methods = dispatcher.registry.methods(at: segments)
        guard !methods.isEmpty else { throw CLIError.failed("no API method at '/\(segments.joined(separator: "/"))'", code: 1) }
        let path = "/" + segments.joined(separator: "/")
        var out = ""
        for (verb, method) in Self.verbs.sorted(by: { $0.key < $1.key }) {
            if let only, only != verb { continue }
            guard let endpoint = methods[HTTPMethodName(rawValue: method)!] else { continue }
            let pathParameters = Set(endpoint.path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) })
            let parameters = endpoint.parameters.properties.filter { !pathParameters.contains($0.key) }
            let required = parameters.filter { !$0.value.optional }.keys.sorted()
            let optional = parameters.filter { $0.value.optional }.keys.sorted()
            out +=
                "USAGE: pvesh \(verb) \(path)" + required.map { " --\($0) \(parameters[$0]!.typetext ?? parameters[$0]!.computedTypeText)" }.joined()
            out += optional.isEmpty ? "\n" : " [OPTIONS]\n"
            if verbose {
                out += "\n  \(endpoint.description)\n\n"
                for name in required + optional {
                    let p = parameters[name]!
                    out += "  --\(name) \(p.typetext ?? p.computedTypeText)\(p.defaultValue.map { " (default=\($0.plainText))" } ?? "")\n"
                    if let d = p.description { out += "             \(d)\n" }
                }
                out += "\n"
            }
        }
        write(out)
    }
}

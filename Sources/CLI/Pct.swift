import ClusterFS
import Composition
import Containers
import Foundation
import Glibc
import LXC

/// `pct`: PVE's container commands as words over `/nodes/{node}/lxc…` (run through pvesh, so tasks
/// run here and their logs print as they go), plus what only works on the node itself: `exec`,
/// `enter`, `console`, `push` and `pull` go straight to liblxc.
public struct Pct {
    static let commands = GuestTool.commands(
        type: "lxc", create: ["vmid", "ostemplate"], power: ["start", "stop", "shutdown", "reboot", "suspend", "resume"],
        extra: [
            WordCommand(words: ["interfaces"], verb: "get", path: "/nodes/{node}/lxc/{vmid}/interfaces", positionals: ["vmid"]),
            WordCommand(
                words: ["restore"], verb: "create", path: "/nodes/{node}/lxc", positionals: ["vmid", "ostemplate"], fixed: ["--restore", "1"]),
        ])

    let pvesh: Pvesh
    let settings: Settings

    public init(pvesh: Pvesh, settings: Settings) {
        self.pvesh = pvesh
        self.settings = settings
    }

    public func run(_ arguments: [String]) async -> Int32 {
        let usage =
            "  pct exec <vmid> [--] <command> [args...]   run a command in the container\n"
            + "  pct enter <vmid>                           a login shell in the container\n"
            + "  pct console <vmid> [--tty N]               attach to a terminal (Ctrl+O leaves)\n"
            + "  pct push <vmid> <file> <destination> [--user U] [--group G] [--perms MODE]\n"
            + "  pct pull <vmid> <path> <destination>\n"
            + "  pct lxcconfig <vmid>                       print the liblxc configuration a start would use\n"
        let tool = GuestTool(
            name: "pct", commands: Self.commands, localUsage: usage, localCommands: ["exec", "enter", "console", "push", "pull", "lxcconfig"],
            pvesh: pvesh, settings: settings)
        return await tool.run(arguments) { try local($0) }
    }

    /// The commands that talk to liblxc directly (as root on the node).
    func local(_ arguments: [String]) throws -> Int32 {
        guard arguments.count >= 2, let vmid = Int(arguments[1]) else { throw CLIError.usage("pct \(arguments[0]) <vmid> …") }
        let manager = NodeComposition.makeContainerManager(
            settings: settings, tree: MountedTreeProvider.tree(settings),
            vms: NodeComposition.makeVMManager(settings: settings, tree: MountedTreeProvider.tree(settings), events: false))
        if arguments[0] == "lxcconfig" {
            FileHandle.standardOutput.write(Data(try manager.lxcConfigText(vmid).utf8))
            return 0
        }
        let container = try manager.container(vmid)
        guard container.isRunning else { throw CLIError.failed("CT \(vmid) not running", code: 1) }
        let rest = Array(arguments.dropFirst(2))
        func option(_ name: String) -> String? { rest.firstIndex(of: "--" + name).flatMap { $0 + 1 < rest.count ? rest[$0 + 1] : nil } }
        do {
            switch arguments[0] {
            case "exec":
                let command = rest.first == "--" ? Array(rest.dropFirst()) : rest
                guard !command.isEmpty else { throw CLIError.usage("pct exec <vmid> [--] <command> [args...]") }
                return try container.run(command)
            case "enter":
                return try container.run(
                    ["/bin/sh", "-l"], options: LXCAttachOptions(environment: ["TERM=\(ProcessInfo.processInfo.environment["TERM"] ?? "linux")"]))
            case "console":
                let tty = Int32(option("tty") ?? "") ?? -1
                let (pty, held) = try container.console(tty: tty)
                defer { close(pty); close(held) }
                return SerialTerminal.attach(fd: pty, banner: "connected to tty of CT \(vmid) (press Ctrl+O to exit)")
            case "push":
                let files = rest.filter { !$0.hasPrefix("--") }
                guard files.count >= 2 else { throw CLIError.usage("pct push <vmid> <file> <destination>") }
                let fd = open(files[0], O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw CLIError.failed("cannot open \(files[0]): \(String(cString: strerror(errno)))", code: 1) }
                defer { close(fd) }
                let destination = files[1]
                var script = "cat > \"$0\""
                if let user = option("user") { script += " && chown \(shellQuote(user))\(option("group").map { ":" + shellQuote($0) } ?? "") \"$0\"" }
                if let perms = option("perms") { script += " && chmod \(shellQuote(perms)) \"$0\"" }
                return try container.run(["/bin/sh", "-c", script, destination], options: LXCAttachOptions(stdin: fd))
            case "pull":
                guard rest.count >= 2 else { throw CLIError.usage("pct pull <vmid> <path> <destination>") }
                let fd = open(rest[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard fd >= 0 else { throw CLIError.failed("cannot create \(rest[1]): \(String(cString: strerror(errno)))", code: 1) }
                defer { close(fd) }
                return try container.run(["/bin/cat", rest[0]], options: LXCAttachOptions(stdout: fd))
            default:
                return 2
            }
        } catch let error as LXCError {
            throw CLIError.failed("\(error)", code: 1)
        }
    }

    func shellQuote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

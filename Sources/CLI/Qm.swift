import Daemon
import Foundation
import Glibc
import QEMU

/// `qm`: PVE's VM commands as words over `/nodes/{node}/qemu…` (run through pvesh, so tasks run
/// here and their logs print as they go), plus `showcmd` (the domain XML) and `terminal` (the
/// serial console).
public struct Qm {
    static let vm = "/nodes/{node}/qemu/{vmid}"
    static let commands: [WordCommand] = [
        WordCommand(words: ["list"], verb: "get", path: "/nodes/{node}/qemu", positionals: []),
        WordCommand(words: ["create"], verb: "create", path: "/nodes/{node}/qemu", positionals: ["vmid"]),
        WordCommand(words: ["config"], verb: "get", path: vm + "/config", positionals: ["vmid"]),
        WordCommand(words: ["set"], verb: "set", path: vm + "/config", positionals: ["vmid"]),
        WordCommand(words: ["pending"], verb: "get", path: vm + "/pending", positionals: ["vmid"]),
        WordCommand(words: ["status"], verb: "get", path: vm + "/status/current", positionals: ["vmid"]),
        WordCommand(words: ["snapshot"], verb: "create", path: vm + "/snapshot", positionals: ["vmid", "snapname"]),
        WordCommand(words: ["listsnapshot"], verb: "get", path: vm + "/snapshot", positionals: ["vmid"]),
        WordCommand(words: ["rollback"], verb: "create", path: vm + "/snapshot/{snapname}/rollback", positionals: ["vmid", "snapname"]),
        WordCommand(words: ["delsnapshot"], verb: "delete", path: vm + "/snapshot/{snapname}", positionals: ["vmid", "snapname"]),
        WordCommand(words: ["clone"], verb: "create", path: vm + "/clone", positionals: ["vmid", "newid"]),
        WordCommand(words: ["template"], verb: "create", path: vm + "/template", positionals: ["vmid"]),
        WordCommand(words: ["resize"], verb: "set", path: vm + "/resize", positionals: ["vmid", "disk", "size"]),
        WordCommand(words: ["unlink"], verb: "set", path: vm + "/unlink", positionals: ["vmid"]),
        WordCommand(words: ["destroy"], verb: "delete", path: vm, positionals: ["vmid"]),
        WordCommand(words: ["unlock"], verb: "set", path: vm + "/config", positionals: ["vmid"], fixed: ["--delete", "lock"]),
    ] + ["start", "stop", "shutdown", "reboot", "reset", "suspend", "resume"].map {
        WordCommand(words: [$0], verb: "create", path: vm + "/status/\($0)", positionals: ["vmid"])
    }

    let pvesh: Pvesh
    let settings: Settings

    public init(pvesh: Pvesh, settings: Settings) {
        self.pvesh = pvesh
        self.settings = settings
    }

    var table: WordCommands { WordCommands(tool: "qm", commands: Self.commands, node: settings.nodeName) }

    var usageText: String {
        table.usageText + "  qm showcmd <vmid>            print the libvirt domain XML a start would use\n"
            + "  qm terminal <vmid> [--iface serial0]   attach to the serial console (Ctrl+O leaves)\n"
    }

    public func run(_ arguments: [String]) async -> Int32 {
        if arguments.isEmpty || ["help", "--help", "-h"].contains(arguments[0]) {
            FileHandle.standardOutput.write(Data(usageText.utf8))
            return arguments.isEmpty ? 2 : 0
        }
        do {
            switch arguments[0] {
            case "showcmd":
                guard arguments.count >= 2, let vmid = Int(arguments[1]) else { throw CLIError.usage("qm showcmd <vmid>") }
                let vms = CorralNode.makeVMManager(settings: settings, tree: MountedTreeProvider.tree(settings), events: false)
                FileHandle.standardOutput.write(Data(try vms.domainXML(vmid).utf8))
                return 0
            case "terminal":
                guard arguments.count >= 2, let vmid = Int(arguments[1]) else { throw CLIError.usage("qm terminal <vmid> [--iface serialN]") }
                let iface = arguments.firstIndex(of: "--iface").flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil } ?? "serial0"
                return try SerialTerminal.attach(path: "\(settings.runDirectory)/\(vmid).\(iface)")
            default:
                return await pvesh.run(try table.translate(arguments))
            }
        } catch {
            return Pvesh.report(error)
        }
    }
}

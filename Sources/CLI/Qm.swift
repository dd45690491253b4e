import ClusterFS
import Composition
import Foundation
import Glibc
import QEMU

/// `qm`: PVE's VM commands as words over `/nodes/{node}/qemu…` (run through pvesh, so tasks run
/// here and their logs print as they go), plus `showcmd` (the domain XML) and `terminal` (the
/// serial console).
public struct Qm {
    static let commands = GuestTool.commands(
        type: "qemu", create: ["vmid"], power: ["start", "stop", "shutdown", "reboot", "reset", "suspend", "resume"],
        extra: [WordCommand(words: ["unlink"], verb: "set", path: "/nodes/{node}/qemu/{vmid}/unlink", positionals: ["vmid"])])

    let pvesh: Pvesh
    let settings: Settings

    public init(pvesh: Pvesh, settings: Settings) {
        self.pvesh = pvesh
        self.settings = settings
    }

    public func run(_ arguments: [String]) async -> Int32 {
        let usage =
            "  qm showcmd <vmid>            print the libvirt domain XML a start would use\n"
            + "  qm terminal <vmid> [--iface serial0]   attach to the serial console (Ctrl+O leaves)\n"
        let tool = GuestTool(
            name: "qm", commands: Self.commands, localUsage: usage, localCommands: ["showcmd", "terminal"], pvesh: pvesh, settings: settings)
        return await tool.run(arguments) { arguments in
            guard arguments.count >= 2, let vmid = Int(arguments[1]) else { throw CLIError.usage("qm \(arguments[0]) <vmid>") }
            if arguments[0] == "showcmd" {
                let vms = NodeComposition.makeVMManager(settings: settings, tree: MountedTreeProvider.tree(settings), events: false)
                FileHandle.standardOutput.write(Data(try vms.domainXML(vmid).utf8))
                return 0
            }
            let iface = arguments.firstIndex(of: "--iface").flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil } ?? "serial0"
            return try SerialTerminal.attach(path: "\(settings.runDirectory)/\(vmid).\(iface)")
        }
    }
}

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
            + "  qm disk import <vmid> <source> <storage> [--format F] [--target-disk KEY]\n"
            + "                               import an image (a path or a volume) as a new disk (unusedN, or KEY)\n"
            + "  qm importdisk <vmid> <source> <storage> [--format F]   the same (PVE's older name)\n"
        if arguments.first == "importdisk" || (arguments.first == "disk" && arguments.dropFirst().first == "import") {
            do { return try await importDisk(Array(arguments.dropFirst(arguments.first == "disk" ? 2 : 1))) } catch { return Pvesh.report(error) }
        }
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

    /// Imports with `import-from` on the target disk (through the API, as a config change) or, without
    /// one, as the VM's next unused disk.
    func importDisk(_ arguments: [String]) async throws -> Int32 {
        var rest = arguments
        var options: [String: String] = [:]
        while let index = rest.firstIndex(where: { $0.hasPrefix("--") }), index + 1 < rest.count {
            options[String(rest[index].dropFirst(2))] = rest[index + 1]
            rest.removeSubrange(index...(index + 1))
        }
        guard rest.count == 3, let vmid = Int(rest[0]) else {
            throw CLIError.usage("qm disk import <vmid> <source> <storage> [--format raw|qcow2|vmdk] [--target-disk KEY]")
        }
        let (source, storage) = (rest[1], rest[2])
        // a host path is read by this process: as the file PVE's qm would open
        let from = source.hasPrefix("/") || VolumeIDText.isVolume(source) ? source : FileManager.default.currentDirectoryPath + "/" + source
        let vms = NodeComposition.makeVMManager(settings: settings, tree: MountedTreeProvider.tree(settings), events: false)
        if let target = options["target-disk"] {
            var value = "\(storage):0,import-from=\(from)"
            if let format = options["format"] { value += ",format=\(format)" }
            try await pvesh.call("POST", ["nodes", settings.nodeName, "qemu", "\(vmid)", "config"], ["--\(target)", value])
            return 0
        }
        let made = try vms.importToUnused(vmid: vmid, source: from, storage: storage, format: options["format"]) { line in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
        FileHandle.standardOutput.write(Data("\(made.key): successfully imported disk '\(made.volid)'\n".utf8))
        return 0
    }
}

enum VolumeIDText {
    /// `STORAGE:NAME` (not a relative path with a colon in it).
    static func isVolume(_ text: String) -> Bool {
        guard let colon = text.firstIndex(of: ":") else { return false }
        return !text[..<colon].contains("/") && colon != text.startIndex
    }
}

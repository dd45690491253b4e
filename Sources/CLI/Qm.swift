import ClusterFS
import Composition
import Foundation
import Glibc
import QEMU
import Schema

/// `qm`: PVE's VM commands as words over `/nodes/{node}/qemu…` (run through pvesh, so tasks run
/// here and their logs print as they go), plus `showcmd` (the domain XML) and `terminal` (the
/// serial console).
public struct Qm {
    static let commands = GuestTool.commands(
        type: "qemu", create: ["vmid"], power: ["start", "stop", "shutdown", "reboot", "reset", "suspend", "resume"],
        extra: [
            WordCommand(words: ["unlink"], verb: "set", path: "/nodes/{node}/qemu/{vmid}/unlink", positionals: ["vmid"]),
            WordCommand(words: ["agent"], verb: "create", path: "/nodes/{node}/qemu/{vmid}/agent", positionals: ["vmid", "command"]),
            WordCommand(words: ["guest", "cmd"], verb: "create", path: "/nodes/{node}/qemu/{vmid}/agent", positionals: ["vmid", "command"]),
            WordCommand(
                words: ["guest", "exec-status"], verb: "get", path: "/nodes/{node}/qemu/{vmid}/agent/exec-status", positionals: ["vmid", "pid"]),
            WordCommand(words: ["cloudinit", "dump"], verb: "get", path: "/nodes/{node}/qemu/{vmid}/cloudinit/dump", positionals: ["vmid", "type"]),
            WordCommand(words: ["cloudinit", "pending"], verb: "get", path: "/nodes/{node}/qemu/{vmid}/cloudinit", positionals: ["vmid"]),
            WordCommand(words: ["cloudinit", "update"], verb: "set", path: "/nodes/{node}/qemu/{vmid}/cloudinit", positionals: ["vmid"]),
        ])

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
            + "  qm guest exec <vmid> [--timeout S] [--synchronous 0|1] [--pass-stdin] [--] <command> [args...]\n"
            + "                               run a command through the guest agent; prints its status, output and exit code\n"
            + "  qm guest passwd <vmid> <username> [--crypted]   set a guest user's password (read from the terminal or stdin)\n"
            + "  qm disk import <vmid> <source> <storage> [--format F] [--target-disk KEY]\n"
            + "                               import an image (a path or a volume) as a new disk (unusedN, or KEY)\n"
            + "  qm importdisk <vmid> <source> <storage> [--format F]   the same (PVE's older name)\n"
        if arguments.first == "guest", ["exec", "passwd"].contains(arguments.dropFirst().first) {
            do {
                return try await arguments[1] == "exec" ? guestExec(Array(arguments.dropFirst(2))) : guestPassword(Array(arguments.dropFirst(2)))
            } catch { return Pvesh.report(error) }
        }
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

    /// `qm guest exec`: starts the command through the agent and, unless `--synchronous 0`, polls its
    /// status until it exits or `--timeout` (30 s) passes; prints the status as JSON as PVE's qm does.
    func guestExec(_ arguments: [String]) async throws -> Int32 {
        var rest = arguments, timeout = 30.0, synchronous = true, passStdin = false
        var words: [String] = []
        while let first = rest.first {
            rest.removeFirst()
            switch first {
            case "--timeout": timeout = Double(rest.first ?? "") ?? timeout; rest = Array(rest.dropFirst())
            case "--synchronous": synchronous = rest.first != "0"; rest = Array(rest.dropFirst())
            case "--pass-stdin": passStdin = true
            case "--": words += rest; rest = []
            default: words.append(first)
            }
        }
        guard words.count >= 2, let vmid = Int(words[0]) else {
            throw CLIError.usage("qm guest exec <vmid> [--timeout S] [--synchronous 0|1] [--pass-stdin] [--] <command> [args...]")
        }
        let base = ["nodes", settings.nodeName, "qemu", "\(vmid)", "agent"]
        var form = words.dropFirst().flatMap { ["--command", $0] }
        if passStdin {
            let input = FileHandle.standardInput.readDataToEndOfFile()
            form += ["--input-data", String(decoding: input, as: UTF8.self)]
        }
        let started = try await pvesh.data("POST", base + ["exec"], form)
        guard let pid = started["pid"]?.intValue else { throw CLIError.failed("the agent answered no pid: \(started.jsonString)", code: 1) }
        var status: JSON = started
        if synchronous {
            let deadline = Date().addingTimeInterval(timeout)
            repeat {
                status = try await pvesh.data("GET", base + ["exec-status"], ["--pid", "\(pid)"])
                if status["exited"]?.boolValue == true { break }
                try await Task.sleep(for: .milliseconds(100))
            } while Date() < deadline
        }
        FileHandle.standardOutput.write(Data((String(decoding: status.serialized(pretty: true), as: UTF8.self) + "\n").utf8))
        return 0
    }

    /// `qm guest passwd`: the password from the terminal (asked twice) or from stdin.
    func guestPassword(_ arguments: [String]) async throws -> Int32 {
        let crypted = arguments.contains("--crypted")
        let words = arguments.filter { !$0.hasPrefix("--") }
        guard words.count == 2, let vmid = Int(words[0]) else { throw CLIError.usage("qm guest passwd <vmid> <username> [--crypted]") }
        let password: String
        if isatty(0) != 0 {
            let first = String(cString: getpass("Enter new password: "))
            guard String(cString: getpass("Retype new password: ")) == first else { throw CLIError.failed("passwords do not match", code: 1) }
            password = first
        } else {
            password = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .newlines)
        }
        try await pvesh.call(
            "POST", ["nodes", settings.nodeName, "qemu", "\(vmid)", "agent", "set-user-password"],
            ["--username", words[1], "--password", password] + (crypted ? ["--crypted", "1"] : []))
        return 0
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

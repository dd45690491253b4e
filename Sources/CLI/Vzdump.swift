import Foundation

/// `vzdump` and `qmrestore` as PVE's: `vzdump 100 101 --storage local --compress zstd` backs guests
/// up through `POST /nodes/{node}/vzdump` (the task runs here and its log prints as it goes);
/// `qmrestore ARCHIVE VMID [--storage S] [--unique] [--force]` is `POST /nodes/{node}/qemu archive=…`.
struct Vzdump {
    let pvesh: Pvesh
    let node: String

    func run(_ arguments: [String]) async -> Int32 {
        if arguments.isEmpty || ["help", "--help", "-h"].contains(arguments[0]) {
            let usage =
                "USAGE: vzdump <vmid>... | --all 1 [--storage S] [--mode snapshot|suspend|stop] [--compress 0|gzip|lzo|zstd]\n"
                + "       [--exclude IDS] [--notes-template T] [--protected 1] [--prune-backups keep-last=N,...] [--remove 0|1]\n"
            FileHandle.standardOutput.write(Data(usage.utf8))
            return arguments.isEmpty ? 2 : 0
        }
        let ids = arguments.prefix { !$0.hasPrefix("-") }
        var rest = Array(arguments.dropFirst(ids.count))
        if !ids.isEmpty { rest = ["--vmid", ids.joined(separator: ",")] + rest }
        do {
            try await pvesh.call("POST", ["nodes", node, "vzdump"], rest)
            return 0
        } catch { return Pvesh.report(error) }
    }

    func restore(_ arguments: [String]) async -> Int32 {
        let words = arguments.prefix { !$0.hasPrefix("-") }
        guard words.count == 2, Int(words[words.startIndex + 1]) != nil else {
            FileHandle.standardError.write(Data("USAGE: qmrestore <archive> <vmid> [--storage S] [--unique 1] [--force 1]\n".utf8))
            return 2
        }
        let archive = words[words.startIndex], vmid = words[words.startIndex + 1]
        // a file given by path is read as root, as PVE's qmrestore does
        let path = archive.contains(":") || archive.hasPrefix("/") ? archive : FileManager.default.currentDirectoryPath + "/" + archive
        var rest = Array(arguments.dropFirst(2))
        // PVE's flags without a value
        for flag in ["--unique", "--force"] where rest.contains(flag) {
            if let i = rest.firstIndex(of: flag), i + 1 >= rest.count || rest[i + 1].hasPrefix("--") { rest.insert("1", at: i + 1) }
        }
        do {
            try await pvesh.call("POST", ["nodes", node, "qemu"], ["--vmid", vmid, "--archive", path] + rest)
            return 0
        } catch { return Pvesh.report(error) }
    }
}

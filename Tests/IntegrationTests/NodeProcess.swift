import Foundation
import Glibc

/// A real corrald process on a loopback port, with its own data directory.
final class NodeProcess: @unchecked Sendable {
    let process = Process()
    let dataDirectory: String
    let nodeName: String
    private(set) var port: UInt16 = 0
    private let errorPipe = Pipe()

    static var buildDirectory: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/.build/debug"
    }

    static var repository: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    /// `networkNamespace`: cluster mode, joined to the corosync of that namespace (started through
    /// nsenter, which execs, so the process is corrald itself); its log goes to DATA.log.
    init(name: String = "it1", dataDirectory: String? = nil, networkNamespace: String? = nil, extraArguments: [String] = []) throws {
        self.nodeName = name
        self.dataDirectory = dataDirectory ?? NSTemporaryDirectory() + "corral-it-\(UUID().uuidString)"
        var arguments = ["--data-dir", self.dataDirectory, "--listen", "127.0.0.1:0", "--nodename", name, "--www", Self.repository + "/www", "--config", "/dev/null"] + extraArguments
        let corrald = Self.buildDirectory + "/corrald"
        if let networkNamespace {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
            process.arguments = ["--net=/run/netns/\(networkNamespace)", corrald] + arguments
            // a file, not a pipe: a pipe nobody drains would block the daemon's logging
            let logPath = self.dataDirectory + ".log"
            FileManager.default.createFile(atPath: logPath, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: logPath)
            logFile = logPath
        } else {
            arguments.insert("--local", at: 0)
            process.executableURL = URL(fileURLWithPath: corrald)
            process.arguments = arguments
            process.standardError = errorPipe
        }
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // corrald says "… (ports N)" once it listens
        var seen = ""
        let deadline = Date().addingTimeInterval(networkNamespace == nil ? 20 : 90)
        while port == 0 && Date() < deadline {
            if let logFile {
                seen = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
                if !process.isRunning { break }
                usleep(20_000)
            } else {
                let data = errorPipe.fileHandleForReading.availableData
                if data.isEmpty { break }
                seen += String(decoding: data, as: UTF8.self)
            }
            if let range = seen.range(of: "(ports "), let end = seen[range.upperBound...].firstIndex(of: ")") {
                port = UInt16(seen[range.upperBound..<end]) ?? 0
            }
        }
        guard port != 0 else { throw NSError(domain: "corrald did not start: \(seen)", code: 1) }
    }

    private(set) var logFile: String?
    var log: String { logFile.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? "" }
    var mountpoint: String { dataDirectory + "/pve" }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    var url: String { "https://127.0.0.1:\(port)" }
    var caFile: String { dataDirectory + "/pve/pve-root-ca.pem" }

    func terminate() -> Int32 {
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

func runCommand(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// curl against the node, verifying its certificate with the cluster CA.
func curl(_ node: NodeProcess, _ path: String, _ extra: [String] = []) throws -> (status: Int, body: String) {
    let r = try runCommand("/usr/bin/curl", ["-s", "--cacert", node.caFile, "-w", "\n%{http_code}"] + extra + [node.url + path])
    let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
}

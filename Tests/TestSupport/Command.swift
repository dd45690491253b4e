import Foundation
import Glibc
import Synchronization

/// What a command printed and how it ended.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// A failure a test reports in its own words.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A command started now and awaited later, so a test can run several at once (concurrent curls).
/// Its output is drained on threads of its own: the cooperative pool (two threads on these
/// machines) must never block on a pipe.
public final class RunningCommand: @unchecked Sendable {
    let process = Process()
    let out = Pipe()
    let err = Pipe()

    public init(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = out
        process.standardError = err
        try process.run()
    }

    /// Waits on a plain thread for the command to end.
    public func result() async -> CommandResult {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: self.wait()) }
        }
    }

    /// Waits on the calling thread (synchronous tests).
    public func wait() -> CommandResult {
        // stderr is read on its own thread, so neither pipe can fill up while the other is read
        let errData = Mutex(Data())
        let errDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let data = self.err.fileHandleForReading.readDataToEndOfFile()
            errData.withLock { $0 = data }
            errDone.signal()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        errDone.wait()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
            stderr: String(decoding: errData.withLock { $0 }, as: UTF8.self))
    }
}

/// Runs a command to its end (synchronous tests).
public func runCommand(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
    try RunningCommand(path, arguments, environment: environment).wait()
}

/// `sh -c COMMAND`'s exit status.
@discardableResult
public func shell(_ command: String) -> Int32 {
    (try? runCommand("/bin/sh", ["-c", command]).status) ?? -1
}

/// A new empty directory under the system's temporary directory.
public func temporaryDirectory(_ prefix: String = "corral-test") -> String {
    let dir = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

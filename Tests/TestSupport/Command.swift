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

    /// Waits on the calling thread (synchronous tests). A command still running after `timeout`
    /// seconds is killed and reported with status 124, so a stuck command fails its test instead of
    /// stalling the whole run; and a daemon the command left behind holding its pipes (a forked
    /// child) costs at most a few seconds, not a read that never ends.
    public func wait(timeout: Double = 900) -> CommandResult {
        let stdout = PipeDrain(out), stderr = PipeDrain(err)
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline {
                timedOut = true
                // where it was stuck, for a log that is all a CI run leaves
                print("[test harness] \(process.executableURL?.path ?? "?") \(process.arguments ?? []) still running after \(Int(timeout)) s")
                print(threadStacks(of: process.processIdentifier))
                process.terminate()
                usleep(2_000_000)
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                break
            }
            usleep(10_000)
        }
        process.waitUntilExit()
        stdout.finish(within: 5)
        stderr.finish(within: 5)
        let note = timedOut ? "\n[test harness: \(process.executableURL?.path ?? "?") killed after \(Int(timeout)) s]" : ""
        return CommandResult(
            status: timedOut ? 124 : process.terminationStatus, stdout: String(decoding: stdout.data, as: UTF8.self),
            stderr: String(decoding: stderr.data, as: UTF8.self) + note)
    }
}

/// Reads a pipe to its end on a thread of its own, so neither of a command's pipes can fill up
/// while the other is read.
final class PipeDrain: @unchecked Sendable {
    private let buffer = Mutex(Data())
    private let done = DispatchSemaphore(value: 0)

    init(_ pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                self.buffer.withLock { $0.append(chunk) }
            }
            self.done.signal()
        }
    }

    /// Waits for the end of the pipe, at most `seconds`: past that, a process the command started
    /// still holds it open, and what was read so far is the command's output.
    func finish(within seconds: Double) { _ = done.wait(timeout: .now() + seconds) }

    var data: Data { buffer.withLock { $0 } }
}

/// Runs a command to its end (synchronous tests).
public func runCommand(
    _ path: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 900
) throws
    -> CommandResult
{
    try RunningCommand(path, arguments, environment: environment).wait(timeout: timeout)
}

/// Each thread of a process and of its children: name, wait channel and kernel stack (what a hung
/// test prints before it kills).
public func threadStacks(of pid: Int32) -> String {
    var text = ""
    var pids = [pid]
    if let children = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8) {
        pids += children.split(separator: " ").compactMap { Int32($0) }
    }
    for p in pids {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(p)/task")) ?? []
        for t in tasks.sorted() {
            func read(_ name: String) -> String {
                ((try? String(contentsOfFile: "/proc/\(p)/task/\(t)/\(name)", encoding: .utf8)) ?? "?").trimmingCharacters(
                    in: .whitespacesAndNewlines)
            }
            text += "== \(p)/\(t) \(read("comm")) wchan=\(read("wchan"))\n\(read("stack"))\n"
        }
    }
    return text
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

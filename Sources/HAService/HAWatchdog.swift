import Foundation
import Glibc
import Storage

/// The user-space watchdog of a node without `/dev/watchdog`: a small process of its own (corrald
/// started with `--ha-watchdog FILE`, detached, so it outlives corrald) that kills this node's HA
/// guests when corrald has not renewed the node's HA lock for `HATiming.watchdog` seconds, whether
/// corrald lost quorum, hung, or died.
///
/// The arming file is all they share (tmpfs, written whole by rename):
/// ```
/// deadline 12345.6        # CLOCK_MONOTONIC seconds
/// kill 4711               # a guest's process (a container's init, a VM's QEMU)
/// run lxc-stop -k -n 101 -P /var/lib/lxc
/// ```
/// No file: disarmed, and the watchdog exits. Past the deadline it kills every `kill` pid, runs
/// every `run` command (which also catches a guest started after the last renewal), renames the
/// file to `FILE.fired` and exits.
public struct HAWatchdog: Sendable {
    public let file: String
    /// The corrald executable, started again as the watchdog.
    let executable: String
    let log: String

    public init(file: String, executable: String = CommandLine.arguments[0], log: String) {
        self.file = file
        self.executable = executable
        self.log = log
    }

    public static func monotonic() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    var pidFile: String { file + ".pid" }

    /// Arms (or re-arms) the watchdog: the guests are killed `seconds` from now unless armed again.
    public func arm(seconds: Double, pids: [Int32], commands: [[String]]) throws {
        var text = String(format: "deadline %.3f\n", Self.monotonic() + seconds)
        for pid in pids where pid > 1 { text += "kill \(pid)\n" }
        for command in commands { text += "run " + command.joined(separator: " ") + "\n" }
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let temporary = file + ".new"
        try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
        guard Glibc.rename(temporary, file) == 0 else { throw CocoaError(.fileWriteUnknown) }
        if !isRunning() { try spawn() }
    }

    /// Nothing of HA runs here any more: the watchdog exits at its next look.
    public func disarm() { unlink(file) }

    public var isArmed: Bool { access(file, F_OK) == 0 }

    /// Whether the watchdog fired since `arm` last saw it (the `.fired` file), and forgets it.
    public func takeFired() -> String? {
        guard let text = try? String(contentsOfFile: file + ".fired", encoding: .utf8) else { return nil }
        unlink(file + ".fired")
        return text
    }

    func isRunning() -> Bool {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return false }
        // the pid is ours only while its command line still names our file
        let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
        return kill(pid, 0) == 0 && String(decoding: cmdline, as: UTF8.self).contains(file)
    }

    func spawn() throws {
        let pid = try Command.detach([executable, "--ha-watchdog", file], log: log)
        try Data("\(pid)\n".utf8).write(to: URL(fileURLWithPath: pidFile))
    }

    // MARK: the watchdog process

    /// The watchdog's loop (`corrald --ha-watchdog FILE`); returns when disarmed or fired.
    public static func serve(file: String) {
        func say(_ text: String) { FileHandle.standardError.write(Data("corral-ha-watchdog: \(text)\n".utf8)) }
        say("watching \(file)")
        while true {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                if access(file, F_OK) != 0 {
                    say("disarmed")
                    return
                }
                usleep(100_000)
                continue
            }
            var deadline = Double.infinity, pids: [Int32] = [], commands: [[String]] = []
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ").map(String.init)
                switch words.first {
                case "deadline": deadline = Double(words.dropFirst().first ?? "") ?? deadline
                case "kill": if let pid = Int32(words.dropFirst().first ?? ""), pid > 1 { pids.append(pid) }
                case "run": if words.count > 1 { commands.append(Array(words.dropFirst())) }
                default: break
                }
            }
            if monotonic() >= deadline {
                say(String(format: "no renewal for the HA lock: killing %@", pids.map(String.init).joined(separator: " ")))
                for pid in pids { kill(pid, SIGKILL) }
                for command in commands {
                    let result = try? Command.run(command)
                    say("ran \(command.joined(separator: " ")): \(result.map { _ in "ok" } ?? "failed")")
                }
                Glibc.rename(file, file + ".fired")
                return
            }
            usleep(200_000)
        }
    }
}

import Synchronization

@testable import Storage

/// A `CommandRunner` that records what a driver runs and answers with canned output per tool
/// (`answers["lvs"]`), per tool and subcommand (`answers["zfs list"]`), or per full command line (`answers["zfs get … pool"]`) where one tool is asked twice.
final class CommandRecorder: Sendable {
    let commands = Mutex<[[String]]>([])
    let answers: [String: String]
    let failing: Set<String>

    init(_ answers: [String: String], failing: Set<String> = []) {
        self.answers = answers
        self.failing = failing
    }

    var runner: CommandRunner {
        CommandRunner { arguments throws(StorageError) in
            self.commands.withLock { $0.append(arguments) }
            let line = arguments.joined(separator: " ")
            if self.failing.contains(line) || self.failing.contains(arguments[0]) { throw StorageError(500, "\(arguments[0]) failed") }
            let twoWords = arguments.prefix(2).joined(separator: " ")
            return self.answers[line] ?? self.answers[twoWords] ?? self.answers[arguments[0]] ?? ""
        }
    }

    var log: [[String]] { commands.withLock { $0 } }
}

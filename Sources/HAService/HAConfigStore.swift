import API
import ClusterFS
import Foundation
import HA
import Schema
import TLS

/// The HA configuration files (`ha/resources.cfg`, `ha/groups.cfg`, `ha/rules.cfg`) for the
/// endpoints: section-config files changed one section at a time under the cluster lock
/// `ha-config`, each change checked against the file's digest when the caller gives one.
struct HAConfigStore: Sendable {
    let tree: any ConfigTree

    /// Options that are numbers or flags in the files (rows carry them as integers).
    static let integers: Set<String> = ["max_restart", "max_relocate", "failback", "strict", "disable", "restricted", "nofailback"]

    /// The cluster lock every change of the HA files is made under (the master's reading of
    /// `crm_commands` too).
    static let lock = "ha-config"

    func text(_ file: String) -> String { (try? tree.readString(file)) ?? "" }

    /// Queues a command for the master in `ha/crm_commands`.
    func append(_ command: HAStatusFile.Command) throws {
        try tree.withLock(Self.lock, timeout: 10) {
            if !tree.exists("ha") { try? tree.mkdir("ha") }
            try tree.write(HAService.commandsFile, Array((text(HAService.commandsFile) + command.line + "\n").utf8))
        }
    }

    func load(_ file: String) throws -> SectionConfig {
        do { return try SectionConfig.parse(text(file), file: file) } catch { throw APIError(500, "cannot parse \(file): \(error)") }
    }

    static func digest(_ text: String) -> String { SectionConfigFile.digest(text) }

    /// A section as an API row: its id under `idKey`, its type, its options, the file's digest.
    static func row(_ section: SectionConfig.Section, idKey: String, id: String, digest: String) -> [String: JSON] {
        var row: [String: JSON] = [idKey: .string(id), "type": .string(section.type), "digest": .string(digest)]
        for (key, value) in section.values {
            row[key] = integers.contains(key) ? Int64(value).map { .int($0) } ?? .string(value) : .string(value)
        }
        return row
    }

    /// Loads, changes and writes one file; a stale `digest` is refused as PVE refuses it.
    func modify(_ file: String, digest: String?, _ change: (inout SectionConfig) throws -> Void) throws {
        try SectionConfigFile(tree: tree, path: file, lock: Self.lock).modify(digest: digest, change)
    }

    /// Sets the options a call gives (less the bookkeeping ones) and drops those `delete` names.
    static func apply(_ context: RequestContext, to section: inout SectionConfig.Section, skip: Set<String>) {
        for key in Formats.splitList(context.parameters["delete"]?.plainText ?? "") { section[key] = nil }
        for (key, value) in context.parameters.sorted(by: { $0.key < $1.key }) where !skip.contains(key) {
            var text = value.plainText
            if key == "state", text == "enabled" { text = "started" }
            section[key] = text
        }
    }
}

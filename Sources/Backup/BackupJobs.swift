import API
import ClusterFS
import Foundation
import Schema

/// Scheduled backup jobs in `jobs.cfg` as PVE writes it: `vzdump: <id>` sections of tab-indented
/// `key value` lines (other job types kept as they are). Each node runs a job for its own guests.
public struct BackupJobs: Sendable {
    public let fs: any ConfigTree
    static let path = "jobs.cfg"

    public init(fs: any ConfigTree) { self.fs = fs }

    public struct Section: Sendable {
        public var type: String
        public var id: String
        public var values: [(String, String)]
        public subscript(key: String) -> String? { values.first { $0.0 == key }?.1 }
    }

    public func sections() -> [Section] {
        guard let text = try? fs.readString(Self.path) else { return [] }
        var out: [Section] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if let first = line.first, !first.isWhitespace, line.contains(":"), !line.hasPrefix("#") {
                let header = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                out.append(Section(type: header[0], id: header.count > 1 ? header[1] : "", values: []))
            } else if let first = line.first, first.isWhitespace, !out.isEmpty {
                let text = line.trimmingCharacters(in: .whitespaces)
                guard !text.isEmpty else { continue }
                let kv = text.split(separator: " ", maxSplits: 1).map(String.init)
                out[out.count - 1].values.append((kv[0], kv.count > 1 ? kv[1] : ""))
            }
        }
        return out
    }

    func write(_ sections: [Section]) throws {
        let text = sections.map { s in "\(s.type): \(s.id)\n" + s.values.map { "\t\($0.0) \($0.1)\n" }.joined() }.joined(separator: "\n")
        try fs.write(Self.path, Array(text.utf8))
    }

    public var jobs: [Section] { sections().filter { $0.type == "vzdump" } }

    public func job(_ id: String) -> Section? { jobs.first { $0.id == id } }

    /// Creates or replaces a job (`values` sorted as PVE writes them).
    public func save(_ id: String, _ values: [String: String], create: Bool) throws {
        var all = sections()
        let exists = all.contains { $0.type == "vzdump" && $0.id == id }
        if create && exists { throw APIError(500, "Job '\(id)' already exists") }
        if !create && !exists { throw APIError(500, "No such job '\(id)'") }
        let section = Section(type: "vzdump", id: id, values: values.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        if let i = all.firstIndex(where: { $0.type == "vzdump" && $0.id == id }) { all[i] = section } else { all.append(section) }
        try write(all)
    }

    public func delete(_ id: String) throws {
        let all = sections()
        guard all.contains(where: { $0.type == "vzdump" && $0.id == id }) else { throw APIError(500, "No such job '\(id)'") }
        try write(all.filter { !($0.type == "vzdump" && $0.id == id) })
    }
}

/// `corosync.conf` as a tree: sections (`totem { … }`, `nodelist { node { … } }`) holding
/// `key: value` lines, comments kept in place. Written back in corosync's usual layout (two-space
/// indentation, a blank line between top-level sections), so a file in PVE's layout reads and writes
/// back byte for byte. The typed views below are what the cluster endpoints and `pvecm` need.
public struct CorosyncConfig: Equatable, Sendable {
    public indirect enum Item: Equatable, Sendable {
        case value(key: String, value: String)
        case section(name: String, items: [Item])
        case comment(String)
    }

    public var items: [Item]

    public init(items: [Item] = []) { self.items = items }

    // MARK: reading and writing

    public static func parse(_ text: String) throws(CorosyncConfigError) -> CorosyncConfig {
        var stack: [(name: String, items: [Item])] = [("", [])]
        for (number, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingSpaces
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                stack[stack.count - 1].items.append(.comment(line))
            } else if line.hasSuffix("{") {
                let name = String(line.dropLast()).trimmingSpaces
                guard !name.isEmpty, !name.contains(" ") else { throw CorosyncConfigError(line: number + 1, "expected 'name {'") }
                stack.append((name, []))
            } else if line == "}" {
                guard stack.count > 1 else { throw CorosyncConfigError(line: number + 1, "'}' closes no section") }
                let done = stack.removeLast()
                stack[stack.count - 1].items.append(.section(name: done.name, items: done.items))
            } else if let colon = line.firstIndex(of: ":") {
                let key = String(line[..<colon]).trimmingSpaces
                guard !key.isEmpty, !key.contains(" ") else { throw CorosyncConfigError(line: number + 1, "expected 'key: value'") }
                stack[stack.count - 1].items.append(.value(key: key, value: String(line[line.index(after: colon)...]).trimmingSpaces))
            } else {
                throw CorosyncConfigError(line: number + 1, "expected 'key: value', 'name {' or '}'")
            }
        }
        guard stack.count == 1 else { throw CorosyncConfigError(line: 0, "section '\(stack.last!.name)' is not closed") }
        return CorosyncConfig(items: stack[0].items)
    }

    public func serialized() -> String {
        var out = ""
        var previousWasSection = false
        for item in items {
            // a blank line between top-level sections; a comment stays on the section it heads
            if case .section = item {
                if previousWasSection { out += "\n" }
                previousWasSection = true
            } else {
                if previousWasSection { out += "\n" }
                previousWasSection = false
            }
            Self.write(item, depth: 0, into: &out)
        }
        return out
    }

    static func write(_ item: Item, depth: Int, into out: inout String) {
        let indent = String(repeating: "  ", count: depth)
        switch item {
        case .value(let key, let value): out += "\(indent)\(key): \(value)\n"
        case .comment(let text): out += "\(indent)\(text)\n"
        case .section(let name, let items):
            out += "\(indent)\(name) {\n"
            for child in items { write(child, depth: depth + 1, into: &out) }
            out += "\(indent)}\n"
        }
    }

    // MARK: typed views

    /// The values of the first top-level section named `name` (`totem`, `quorum`), nested sections left out.
    public func values(of name: String) -> [String: String] {
        for case .section(let section, let children) in items where section == name {
            var out: [String: String] = [:]
            for case .value(let key, let value) in children { out[key] = value }
            return out
        }
        return [:]
    }

    public var clusterName: String? { values(of: "totem")["cluster_name"] }
    public var configVersion: Int { Int(values(of: "totem")["config_version"] ?? "") ?? 0 }

    /// One `nodelist { node { … } }` entry.
    public struct Node: Equatable, Sendable {
        public var values: [String: String]
        public var name: String { values["name"] ?? "" }
        public var nodeID: Int { Int(values["nodeid"] ?? "") ?? 0 }
        public var votes: Int { Int(values["quorum_votes"] ?? "") ?? 1 }
        /// `ring0_addr`, `ring1_addr`, … by link number.
        public var links: [Int: String] {
            var out: [Int: String] = [:]
            for (key, value) in values where key.hasPrefix("ring") && key.hasSuffix("_addr") {
                if let n = Int(key.dropFirst(4).dropLast(5)) { out[n] = value }
            }
            return out
        }
    }

    public var nodes: [Node] {
        var out: [Node] = []
        for case .section("nodelist", let list) in items {
            for case .section("node", let fields) in list {
                var values: [String: String] = [:]
                for case .value(let key, let value) in fields { values[key] = value }
                out.append(Node(values: values))
            }
        }
        return out.sorted { $0.nodeID < $1.nodeID }
    }
}

/// A `corosync.conf` that cannot be read, naming the line.
public struct CorosyncConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public let line: Int
    public let message: String
    public init(line: Int, _ message: String) {
        self.line = line
        self.message = message
    }
    public var description: String { "corosync.conf line \(line): \(message)" }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        guard let first = firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        let last = lastIndex(where: { $0 != " " && $0 != "\t" })!
        return String(self[first...last])
    }
}

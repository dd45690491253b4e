import Foundation

/// `/etc/network/interfaces` as ifupdown reads it: stanzas (`iface NAME FAMILY METHOD` with their
/// option lines and the `#` comment lines PVE writes after them), `auto`/`allow-*` lines, and
/// every other line in order (comments, `source` lines, blank lines), the start of writing the
/// file back unchanged where an edit does not touch it.
public struct NetworkInterfaces: Sendable, Equatable {
    public struct Family: Sendable, Equatable {
        public var family: String
        public var method: String
        /// Option lines in order (`address 10.0.0.1/24`, `bridge-ports eth0`); `#` lines inside a
        /// stanza are its comments.
        public var options: [(key: String, value: String)]
        public var comments: [String]
        /// The stanza's lines as read (header, options, comments), written back as they were while
        /// the stanza is not changed; a change clears them and the stanza is written afresh.
        public var raw: [String]? = nil

        public init(family: String, method: String, options: [(key: String, value: String)], comments: [String]) {
            self.family = family
            self.method = method
            self.options = options
            self.comments = comments
        }

        public static func == (a: Family, b: Family) -> Bool {
            a.family == b.family && a.method == b.method && a.comments == b.comments
                && a.options.map { "\($0.key) \($0.value)" } == b.options.map { "\($0.key) \($0.value)" }
        }

        public subscript(key: String) -> String? {
            // ifupdown2 spells options with dashes, older files with underscores: both are one option
            let wanted = key.replacingOccurrences(of: "_", with: "-")
            return options.last { $0.key.replacingOccurrences(of: "_", with: "-") == wanted }?.value
        }
    }

    /// One line of the file, as it was read.
    public enum Line: Sendable, Equatable {
        /// A stanza's header; `index` names its `Family` in `stanzas`.
        case iface(name: String, family: Int)
        case auto(kind: String, names: [String])
        case other(String)
    }

    public var lines: [Line] = []
    /// Each interface's families (inet, inet6) in file order.
    public var stanzas: [String: [Family]] = [:]
    /// Interfaces in the order the file first names them.
    public var order: [String] = []

    public init() {}

    public static func parse(_ text: String) -> NetworkInterfaces {
        var out = NetworkInterfaces()
        var current: (name: String, index: Int)?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            let words = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if words.first == "iface", words.count >= 2 {
                let name = words[1]
                var family = Family(
                    family: words.count > 2 ? words[2] : "inet", method: words.count > 3 ? words[3] : "manual", options: [], comments: [])
                family.raw = [line]
                if !out.order.contains(name) { out.order.append(name) }
                out.stanzas[name, default: []].append(family)
                current = (name, out.stanzas[name]!.count - 1)
                out.lines.append(.iface(name: name, family: current!.index))
            } else if let kind = words.first, kind == "auto" || kind.hasPrefix("allow-") {
                current = nil
                out.lines.append(.auto(kind: kind, names: Array(words.dropFirst())))
                for name in words.dropFirst() where !out.order.contains(name) { out.order.append(name) }
            } else if let (name, index) = current, !trimmed.isEmpty, raw.first == " " || raw.first == "\t" || trimmed.hasPrefix("#") {
                // an indented line belongs to the stanza above it, and so do the `#` lines PVE writes after its options
                out.stanzas[name]![index].raw?.append(line)
                if trimmed.hasPrefix("#") {
                    out.stanzas[name]![index].comments.append(String(trimmed.dropFirst()).trimmingCharacters(in: .whitespaces))
                } else {
                    let key = words[0], value = trimmed.dropFirst(key.count).trimmingCharacters(in: .whitespaces)
                    out.stanzas[name]![index].options.append((key, value))
                }
            } else {
                current = nil
                out.lines.append(.other(line))
            }
        }
        return out
    }

    /// The interfaces `auto` (or `allow-hotplug`) brings up at boot.
    public var autostart: Set<String> {
        Set(
            lines.flatMap { line -> [String] in
                if case .auto(_, let names) = line { return names }
                return []
            })
    }
}

import Foundation

/// One firewall file as PVE keeps it (`firewall/cluster.fw`, `nodes/<node>/host.fw`,
/// `firewall/<vmid>.fw`): `[OPTIONS]` (`key: value`), `[ALIASES]` (`name cidr # comment`),
/// `[IPSET name] # comment` (`[!]cidr # comment`), `[RULES]` and `[group name] # comment` (rule
/// lines). Written back in that order; a line that cannot be read is an error naming its line.
public struct FirewallFile: Sendable, Equatable {
    public struct Alias: Sendable, Equatable {
        public var name: String
        public var cidr: String
        public var comment: String?
    }

    public struct IPSetEntry: Sendable, Equatable {
        public var cidr: String
        public var nomatch = false
        public var comment: String?
    }

    public struct IPSet: Sendable, Equatable {
        public var name: String
        public var comment: String?
        public var entries: [IPSetEntry] = []
    }

    public struct Group: Sendable, Equatable {
        public var name: String
        public var comment: String?
        public var rules: [FirewallRule] = []
    }

    /// Options in file order.
    public var options: [(key: String, value: String)] = []
    public var aliases: [Alias] = []
    public var ipsets: [IPSet] = []
    public var rules: [FirewallRule] = []
    public var groups: [Group] = []

    public init() {}

    public static func == (a: FirewallFile, b: FirewallFile) -> Bool {
        a.options.map { "\($0.key)=\($0.value)" } == b.options.map { "\($0.key)=\($0.value)" } && a.aliases == b.aliases
            && a.ipsets == b.ipsets && a.rules == b.rules && a.groups == b.groups
    }

    public func option(_ key: String) -> String? { options.last { $0.key == key }?.value }

    public mutating func setOption(_ key: String, _ value: String?) {
        if let value {
            if let index = options.firstIndex(where: { $0.key == key }) {
                options[index].value = value
            } else {
                options.append((key, value))
            }
        } else {
            options.removeAll { $0.key == key }
        }
    }

    static func splitComment(_ text: String) -> (String, String?) {
        guard let hash = text.firstIndex(of: "#") else { return (text.trimmingCharacters(in: .whitespaces), nil) }
        let comment = text[text.index(after: hash)...].trimmingCharacters(in: .whitespaces)
        return (text[..<hash].trimmingCharacters(in: .whitespaces), comment.isEmpty ? nil : comment)
    }

    public static func parse(_ text: String, file: String = "firewall file") throws -> FirewallFile {
        enum Section { case none, options, aliases, ipset(Int), rules, group(Int) }
        var out = FirewallFile()
        var section = Section.none
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || (line.hasPrefix("#") && !line.hasPrefix("#[")) { continue }
            func bad(_ why: String) -> FirewallError { FirewallError(400, "\(file), line \(number + 1): \(why)") }
            if line.hasPrefix("["), let close = line.firstIndex(of: "]") {
                let header = line[line.index(after: line.startIndex)..<close].trimmingCharacters(in: .whitespaces)
                let (_, comment) = splitComment(String(line[line.index(after: close)...]))
                let words = header.split(separator: " ").map(String.init)
                switch words.first?.uppercased() {
                case "OPTIONS": section = .options
                case "ALIASES": section = .aliases
                case "RULES": section = .rules
                case "IPSET" where words.count == 2:
                    out.ipsets.append(IPSet(name: words[1], comment: comment))
                    section = .ipset(out.ipsets.count - 1)
                case "GROUP" where words.count == 2:
                    out.groups.append(Group(name: words[1], comment: comment))
                    section = .group(out.groups.count - 1)
                default: throw bad("unknown section [\(header)]")
                }
                continue
            }
            switch section {
            case .none: throw bad("a line outside any section")
            case .options:
                guard let colon = line.firstIndex(of: ":") else { throw bad("an option needs 'key: value'") }
                out.options.append(
                    (line[..<colon].trimmingCharacters(in: .whitespaces), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            case .aliases:
                let (body, comment) = splitComment(line)
                let words = body.split(whereSeparator: \.isWhitespace).map(String.init)
                guard words.count == 2 else { throw bad("an alias is 'name address'") }
                out.aliases.append(Alias(name: words[0], cidr: words[1], comment: comment))
            case .ipset(let index):
                let (body, comment) = splitComment(line)
                let nomatch = body.hasPrefix("!")
                out.ipsets[index].entries.append(IPSetEntry(cidr: nomatch ? String(body.dropFirst()) : body, nomatch: nomatch, comment: comment))
            case .rules:
                do { out.rules.append(try FirewallRule.parse(line)) } catch let error as FirewallError {
                    throw bad(error.errors.values.first ?? error.message)
                }
            case .group(let index):
                do { out.groups[index].rules.append(try FirewallRule.parse(line)) } catch let error as FirewallError {
                    throw bad(error.errors.values.first ?? error.message)
                }
            }
        }
        return out
    }

    public var text: String {
        var out = ""
        func suffix(_ comment: String?) -> String { comment.map { " # \($0)" } ?? "" }
        if !options.isEmpty {
            out += "[OPTIONS]\n\n" + options.map { "\($0.key): \($0.value)\n" }.joined() + "\n"
        }
        if !aliases.isEmpty {
            out += "[ALIASES]\n\n" + aliases.map { "\($0.name) \($0.cidr)\(suffix($0.comment))\n" }.joined() + "\n"
        }
        for set in ipsets {
            out += "[IPSET \(set.name)]\(suffix(set.comment))\n\n"
            out += set.entries.map { "\($0.nomatch ? "!" : "")\($0.cidr)\(suffix($0.comment))\n" }.joined() + "\n"
        }
        if !rules.isEmpty {
            out += "[RULES]\n\n" + rules.map { $0.line + "\n" }.joined() + "\n"
        }
        for group in groups {
            out += "[group \(group.name)]\(suffix(group.comment))\n\n" + group.rules.map { $0.line + "\n" }.joined() + "\n"
        }
        return out
    }
}

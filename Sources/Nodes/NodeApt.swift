import Foundation
import Schema

/// What `/nodes/{node}/apt/*` read, as pure parsers: apt-get's upgrade simulation and the APT
/// source files (one-line `.list` and deb822 `.sources`), in PVE's shapes.
enum NodeApt {
    /// `apt-get -s dist-upgrade`'s `Inst` lines: package, installed version (if any), new version,
    /// origin and architecture.
    static func upgrades(_ simulation: String, titles: [String: String]) -> [JSON] {
        simulation.split(separator: "\n").compactMap { line -> JSON? in
            guard line.hasPrefix("Inst ") else { return nil }
            let words = line.dropFirst(5)
            guard let name = words.split(separator: " ").first.map(String.init) else { return nil }
            var old: String?
            if let open = words.firstIndex(of: "["), let close = words[open...].firstIndex(of: "]"), words[..<open].split(separator: " ").count == 1 {
                old = String(words[words.index(after: open)..<close])
            }
            guard let paren = words.firstIndex(of: "("), let end = words[paren...].firstIndex(of: ")") else { return nil }
            let inside = words[words.index(after: paren)..<end].split(separator: " ").map(String.init)
            guard let version = inside.first else { return nil }
            let origin = inside.dropFirst().first { !$0.hasPrefix("[") }?.split(separator: ":").first.map(String.init) ?? ""
            let arch = inside.last.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "[]")) } ?? "amd64"
            var row: [String: JSON] = [
                "Package": .string(name), "Version": .string(version), "Arch": .string(arch), "Origin": .string(origin),
                "Title": .string(titles[name] ?? name), "Description": .string(titles[name] ?? name), "Priority": "optional", "Section": "",
            ]
            if let old { row["OldVersion"] = .string(old) }
            return .object(row)
        }
    }

    struct SourceFile {
        var path: String
        var type: String  // list | sources
        var repositories: [JSON]
        var digest: [UInt8]
    }

    /// One-line sources: `[#] deb|deb-src [options] URI SUITE [COMPONENT...] [# comment]`.
    static func parseList(_ text: String) -> [JSON] {
        var out: [JSON] = []
        for raw in text.split(separator: "\n") {
            var line = raw.trimmingCharacters(in: .whitespaces)
            var enabled = true
            if line.hasPrefix("#") {
                let rest = line.dropFirst().trimmingCharacters(in: .whitespaces)
                guard rest.hasPrefix("deb ") || rest.hasPrefix("deb-src ") else { continue }
                enabled = false
                line = rest
            }
            var comment = ""
            if let hash = line.firstIndex(of: "#") {
                comment = line[line.index(after: hash)...].trimmingCharacters(in: .whitespaces)
                line = String(line[..<hash])
            }
            var words = line.split(separator: " ").map(String.init)
            guard let type = words.first, type == "deb" || type == "deb-src" else { continue }
            words.removeFirst()
            var options: [JSON] = []
            if let first = words.first, first.hasPrefix("[") {
                var text = ""
                while let w = words.first {
                    words.removeFirst()
                    text += (text.isEmpty ? "" : " ") + w
                    if w.hasSuffix("]") { break }
                }
                for option in text.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: " ") {
                    let kv = option.split(separator: "=", maxSplits: 1).map(String.init)
                    if kv.count == 2 {
                        options.append(["Key": .string(kv[0]), "Values": .array(kv[1].split(separator: ",").map { .string(String($0)) })])
                    }
                }
            }
            guard words.count >= 2 else { continue }
            var repo: [String: JSON] = [
                "Types": [.string(type)], "URIs": [.string(words[0])], "Suites": [.string(words[1])],
                "Components": .array(words.dropFirst(2).map { .string($0) }), "Comment": .string(comment), "FileType": "list",
                "Enabled": .bool(enabled),
            ]
            if !options.isEmpty { repo["Options"] = .array(options) }
            out.append(.object(repo))
        }
        return out
    }

    /// deb822 stanzas (blank-line separated; `Enabled: no` disables one).
    static func parseSources(_ text: String) -> [JSON] {
        var out: [JSON] = []
        for stanza in text.components(separatedBy: "\n\n") {
            var fields: [String: String] = [:], comments: [String] = []
            var last: String?
            for line in stanza.split(separator: "\n") {
                if line.hasPrefix("#") {
                    comments.append(line.dropFirst().trimmingCharacters(in: .whitespaces))
                } else if line.first == " " || line.first == "\t", let key = last {
                    fields[key, default: ""] += " " + line.trimmingCharacters(in: .whitespaces)
                } else if let colon = line.firstIndex(of: ":") {
                    let key = String(line[..<colon])
                    fields[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    last = key
                }
            }
            guard let types = fields["Types"], let uris = fields["URIs"] else { continue }
            let split: (String?) -> JSON = { .array(($0 ?? "").split(whereSeparator: \.isWhitespace).map { .string(String($0)) }) }
            var options: [JSON] = []
            for key in fields.keys.sorted() where !["Types", "URIs", "Suites", "Components", "Enabled"].contains(key) {
                options.append(["Key": .string(key), "Values": split(fields[key])])
            }
            var repo: [String: JSON] = [
                "Types": split(types), "URIs": split(uris), "Suites": split(fields["Suites"]), "Components": split(fields["Components"]),
                "Comment": .string(comments.joined(separator: "\n")), "FileType": "sources",
                "Enabled": .bool(!["no", "false", "0"].contains(fields["Enabled"]?.lowercased() ?? "yes")),
            ]
            if !options.isEmpty { repo["Options"] = .array(options) }
            out.append(.object(repo))
        }
        return out
    }
}

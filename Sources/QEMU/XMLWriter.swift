import Foundation

/// Writes indented XML with escaped text and attributes; attributes are sorted so output is stable,
/// and nil-valued ones are left out.
struct XMLWriter {
    private(set) var text = ""
    private var depth = 0

    private mutating func line(_ s: String) { text += String(repeating: "  ", count: depth) + s + "\n" }

    private func attributes(_ attributes: [String: String?]) -> String {
        attributes.keys.sorted().compactMap { key in attributes[key]!.map { " \(key)='\(Self.escape($0))'" } }.joined()
    }

    mutating func open(_ name: String, _ attrs: [String: String?] = [:]) {
        line("<\(name)\(attributes(attrs))>")
        depth += 1
    }

    mutating func close(_ name: String) {
        depth -= 1
        line("</\(name)>")
    }

    mutating func empty(_ name: String, _ attrs: [String: String?] = [:]) { line("<\(name)\(attributes(attrs))/>") }

    mutating func leaf(_ name: String, _ value: String?, _ attrs: [String: String?] = [:]) {
        guard let value else { return empty(name, attrs) }
        line("<\(name)\(attributes(attrs))>\(Self.escape(value))</\(name)>")
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "'": out += "&apos;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}

/// Splits PVE's `args` like a shell would (quotes and backslashes), without running one.
enum ShellWords {
    static func split(_ text: String) -> [String] {
        var words: [String] = [], current = "", quote: Character? = nil, escaped = false, inWord = false
        for c in text {
            if escaped { current.append(c); escaped = false; continue }
            if c == "\\" && quote != "'" { escaped = true; inWord = true; continue }
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
                continue
            }
            if c == "'" || c == "\"" { quote = c; inWord = true; continue }
            if c == " " || c == "\t" || c == "\n" {
                if inWord { words.append(current); current = ""; inWord = false }
                continue
            }
            current.append(c)
            inWord = true
        }
        if inWord { words.append(current) }
        return words
    }
}

enum Base64Text {
    static func decode(_ text: String) -> String? {
        Data(base64Encoded: text).flatMap { String(data: $0, encoding: .utf8) }
    }
}

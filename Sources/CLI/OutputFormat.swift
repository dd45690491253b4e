import Schema
import Yams

/// How the CLIs print results: PVE's `--output-format` choices.
public enum OutputFormat: String, CaseIterable, Sendable {
    case text, json
    case jsonPretty = "json-pretty"
    case yaml

    public func render(_ value: JSON, schema: Schema?, options: TableOptions = TableOptions()) -> String {
        switch self {
        case .json: return value.jsonString + "\n"
        case .jsonPretty: return String(decoding: value.serialized(pretty: true), as: UTF8.self) + "\n"
        case .yaml: return (try? Yams.serialize(node: Self.yamlNode(value))) ?? value.jsonString + "\n"
        case .text: return TextTable.render(value, schema: schema, options: options)
        }
    }

    static func yamlNode(_ value: JSON) -> Node {
        switch value {
        case .null: return Node("null", Tag(.null))
        case .bool(let b): return Node(b ? "true" : "false", Tag(.bool))
        case .int(let i): return Node(String(i), Tag(.int))
        case .number: return Node(value.plainText, Tag(.float))
        case .string(let s): return Node(s, Tag(.str), .plain)
        case .array(let items): return Node(items.map(yamlNode))
        case .object(let fields):
            return Node(fields.keys.sorted().map { (Node($0), yamlNode(fields[$0]!)) })
        }
    }
}

public struct TableOptions: Sendable {
    public var border = true
    public var header = true
    public init(border: Bool = true, header: Bool = true) {
        self.border = border
        self.header = header
    }
}

/// PVE-style text output: a list of objects becomes a table, an object a key/value table, a scalar a line.
enum TextTable {
    static func render(_ value: JSON, schema: Schema?, options: TableOptions) -> String {
        switch value {
        case .null: return ""
        case .array(let items):
            if items.isEmpty { return "" }
            if items.allSatisfy({ $0.objectValue != nil }) {
                let rows = items.compactMap(\.objectValue)
                var columns = schema?.items?.properties.keys.sorted() ?? []
                let present = Set(rows.flatMap(\.keys))
                columns = columns.filter(present.contains)
                for key in present.sorted() where !columns.contains(key) { columns.append(key) }
                let sortKey = columns.first { ["name", "node", "upid", "subdir", "id"].contains($0) } ?? columns.first
                let sorted = sortKey.map { key in rows.sorted { ($0[key]?.plainText ?? "") < ($1[key]?.plainText ?? "") } } ?? rows
                return table(columns, sorted.map { row in columns.map { row[$0]?.plainText ?? "" } }, options)
            }
            return items.map(\.plainText).joined(separator: "\n") + "\n"
        case .object(let fields):
            let keys = fields.keys.sorted()
            return table(["key", "value"], keys.map { [$0, fields[$0]!.plainText] }, options)
        default:
            return value.plainText + "\n"
        }
    }

    static func table(_ columns: [String], _ rows: [[String]], _ options: TableOptions) -> String {
        let cells = rows.map { $0.map { $0.replacingOccurrences(of: "\n", with: " ") } }
        var widths = columns.map(\.count)
        for row in cells { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ values: [String]) -> String {
            let padded = values.enumerated().map { $0.element + String(repeating: " ", count: widths[$0.offset] - $0.element.count) }
            return options.border ? "│ " + padded.joined(separator: " │ ") + " │" : padded.joined(separator: " ")
        }
        func rule(_ left: String, _ mid: String, _ right: String) -> String {
            left + widths.map { String(repeating: "─", count: $0 + 2) }.joined(separator: mid) + right
        }
        var out: [String] = []
        if options.border { out.append(rule("┌", "┬", "┐")) }
        if options.header {
            out.append(line(columns))
            if options.border { out.append(rule("╞", "╪", "╡").replacingOccurrences(of: "─", with: "═")) }
        }
        for (index, row) in cells.enumerated() {
            out.append(line(row))
            if options.border && index < cells.count - 1 { out.append(rule("├", "┼", "┤")) }
        }
        if options.border { out.append(rule("└", "┴", "┘")) }
        return out.joined(separator: "\n") + "\n"
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

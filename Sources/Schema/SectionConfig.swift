/// PVE's section-config files (`storage.cfg`, `domains.cfg`, `jobs.cfg`, `ha/resources.cfg`,
/// `sdn/*.cfg`, …): sections headed `type: id`, each followed by indented `key value` lines, sections
/// separated by blank lines.
///
/// Reading keeps everything — option order, repeated keys, bare flags, comments and keys no schema
/// knows — so a file in PVE's layout is written back byte for byte. What a section may hold is a
/// `SectionConfigSchema`, checked when a section is created or changed, never when a file is read:
/// a node must keep working with a file another version wrote.
public struct SectionConfig: Equatable, Sendable {
    public struct Section: Equatable, Sendable {
        public var type: String
        public var id: String
        /// Options in file order. A bare key (`\tdisable`) has no value; `subscript` reads it as "1".
        public var options: [Option]
        /// Comment lines just above the header, kept with the section.
        public var comments: [String]

        public struct Option: Equatable, Sendable {
            public var key: String
            public var value: String?
            public init(_ key: String, _ value: String?) {
                self.key = key
                self.value = value
            }
        }

        public init(type: String, id: String, options: [Option] = [], comments: [String] = []) {
            self.type = type
            self.id = id
            self.options = options
            self.comments = comments
        }

        /// The last value given for `key` ("1" for a bare flag); setting replaces every occurrence.
        public subscript(key: String) -> String? {
            get { options.last { $0.key == key }.map { $0.value ?? "1" } }
            set {
                if let index = options.firstIndex(where: { $0.key == key }), let newValue {
                    options[index].value = newValue
                    options = options.enumerated().filter { $0.offset <= index || $0.element.key != key }.map(\.element)
                } else {
                    options.removeAll { $0.key == key }
                    if let newValue { options.append(Option(key, newValue)) }
                }
            }
        }

        /// Options as a dictionary (the last value of a repeated key wins).
        public var values: [String: String] {
            var out: [String: String] = [:]
            for option in options { out[option.key] = option.value ?? "1" }
            return out
        }
    }

    public var sections: [Section]
    /// Comment lines after the last section.
    public var trailingComments: [String] = []

    public init(sections: [Section] = []) { self.sections = sections }

    public subscript(id: String) -> Section? {
        get { sections.first { $0.id == id } }
        set {
            if let index = sections.firstIndex(where: { $0.id == id }) {
                if let newValue { sections[index] = newValue } else { sections.remove(at: index) }
            } else if let newValue {
                sections.append(newValue)
            }
        }
    }

    /// Parses `text`. Section ids are unique per file (PVE's rule for every section-config file).
    public static func parse(_ text: String, file: String) throws(SectionConfigError) -> SectionConfig {
        var config = SectionConfig()
        var current: Section?
        var comments: [String] = []
        for (number, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = String(raw)
            let trimmed = line.trimmed(" \t")
            if trimmed.isEmpty {
                if let section = current { config.sections.append(section) }
                current = nil
                continue
            }
            if trimmed.hasPrefix("#") {
                comments.append(line)
                continue
            }
            if line.first == " " || line.first == "\t" {
                guard current != nil else { throw SectionConfigError(file: file, line: number + 1, "an option outside a section") }
                let key = trimmed.prefix { $0 != " " && $0 != "\t" }
                let value = trimmed.dropFirst(key.count).trimmed(" \t")
                current!.options.append(Section.Option(String(key), value.isEmpty ? nil : value))
                continue
            }
            if let section = current { config.sections.append(section) }
            guard let colon = line.firstIndex(of: ":") else { throw SectionConfigError(file: file, line: number + 1, "expected 'type: id'") }
            let type = line[..<colon].trimmed(" \t")
            let id = line[line.index(after: colon)...].trimmed(" \t")
            guard !type.isEmpty, !id.isEmpty, !type.contains(" "), !id.contains(" ") else {
                throw SectionConfigError(file: file, line: number + 1, "expected 'type: id'")
            }
            guard !config.sections.contains(where: { $0.id == id }) else {
                throw SectionConfigError(file: file, line: number + 1, "'\(id)' is defined twice")
            }
            current = Section(type: type, id: id, comments: comments)
            comments = []
        }
        if let section = current { config.sections.append(section) }
        config.trailingComments = comments
        return config
    }

    /// The file text: sections in order, a blank line between them, options indented by a tab.
    public func serialized() -> String {
        var out = sections.map { section in
            section.comments.map { $0 + "\n" }.joined() + "\(section.type): \(section.id)\n"
                + section.options.map { "\t\($0.key)" + ($0.value.map { " \($0)" } ?? "") + "\n" }.joined()
        }.joined(separator: "\n")
        if !trailingComments.isEmpty { out += (out.isEmpty ? "" : "\n") + trailingComments.map { $0 + "\n" }.joined() }
        return out
    }
}

/// A section-config file that cannot be read, naming the file and line.
public struct SectionConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let message: String
    public init(file: String, line: Int, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }
    public var description: String { "\(file) line \(line): \(message)" }
}

extension StringProtocol {
    func trimmed(_ characters: String) -> String {
        let set = Set(characters)
        guard let first = firstIndex(where: { !set.contains($0) }) else { return "" }
        let last = lastIndex(where: { !set.contains($0) })!
        return String(self[first...last])
    }
}

/// `storage.cfg` in PVE's section-config format: a `type: id` header, then indented `key value` lines,
/// sections separated by blank lines. Keys this build does not interpret are kept.
public struct StorageConfig: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var type: String
        public var id: String
        /// Options in file order; a key without a value (PVE's flags) has the value "1".
        public var options: [(String, String)]

        public init(type: String, id: String, options: [(String, String)]) {
            self.type = type
            self.id = id
            self.options = options
        }

        public subscript(key: String) -> String? {
            get { options.last { $0.0 == key }?.1 }
            set {
                options.removeAll { $0.0 == key }
                if let newValue { options.append((key, newValue)) }
            }
        }

        /// The content types this storage holds (`images`, `iso`, `vztmpl`, `rootdir`, `backup`, `snippets`).
        public var content: Set<String> {
            Set((self["content"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        }

        public var disabled: Bool { self["disable"] == "1" }

        /// Nodes the storage is limited to (all when empty).
        public var nodes: Set<String> { Set((self["nodes"] ?? "").split(separator: ",").map(String.init)) }

        public func isAvailable(on node: String) -> Bool { !disabled && (nodes.isEmpty || nodes.contains(node)) }

        public static func == (a: Entry, b: Entry) -> Bool {
            a.type == b.type && a.id == b.id && a.options.map(\.0) == b.options.map(\.0) && a.options.map(\.1) == b.options.map(\.1)
        }
    }

    public var entries: [Entry]

    public init(entries: [Entry] = []) { self.entries = entries }

    public subscript(id: String) -> Entry? { entries.first { $0.id == id } }

    public static func parse(_ text: String) throws(StorageError) -> StorageConfig {
        var entries: [Entry] = []
        var current: Entry?
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .newlines)
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") {
                if let entry = current, line.trimmingCharacters(in: .whitespaces).isEmpty {
                    entries.append(entry)
                    current = nil
                }
                continue
            }
            if line.first == " " || line.first == "\t" {
                guard current != nil else { throw StorageError(400, "storage.cfg line \(number + 1): option outside a section") }
                let body = line.trimmingCharacters(in: .whitespaces)
                let parts = body.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
                let key = String(parts[0])
                let value = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "1"
                current!.options.append((key, value))
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { throw StorageError(400, "storage.cfg line \(number + 1): expected 'type: id'") }
            if let entry = current { entries.append(entry) }
            let type = line[..<colon].trimmingCharacters(in: .whitespaces)
            let id = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard !type.isEmpty, !id.isEmpty else { throw StorageError(400, "storage.cfg line \(number + 1): expected 'type: id'") }
            guard !entries.contains(where: { $0.id == id }) else { throw StorageError(400, "storage.cfg: storage '\(id)' is defined twice") }
            current = Entry(type: type, id: id, options: [])
        }
        if let entry = current { entries.append(entry) }
        return StorageConfig(entries: entries)
    }

    public func serialized() -> String {
        entries.map { entry in
            "\(entry.type): \(entry.id)\n" + entry.options.map { "\t\($0.0) \($0.1)\n" }.joined()
        }.joined(separator: "\n")
    }

    /// The configuration a new node starts with: one directory storage for everything.
    public static func initial(path: String) -> StorageConfig {
        StorageConfig(entries: [
            Entry(type: "dir", id: "local", options: [("path", path), ("content", "iso,vztmpl,backup,images,rootdir,snippets")])
        ])
    }
}

import Foundation
import Schema

/// `storage.cfg`: PVE's section-config file, one section per storage (`dir: local`). Read and written
/// through the one section-config parser, so keys this build does not interpret are kept as they are.
public struct StorageConfig: Equatable, Sendable {
    public typealias Entry = SectionConfig.Section

    public var file: SectionConfig

    public init(entries: [Entry] = []) { file = SectionConfig(sections: entries) }

    public var entries: [Entry] {
        get { file.sections }
        set { file.sections = newValue }
    }

    public subscript(id: String) -> Entry? { file[id] }

    public static func parse(_ text: String) throws(StorageError) -> StorageConfig {
        do {
            var config = StorageConfig()
            config.file = try SectionConfig.parse(text, file: "storage.cfg")
            return config
        } catch {
            throw StorageError(500, error.description)
        }
    }

    public func serialized() -> String { file.serialized() }

    /// The configuration a new node starts with: one directory storage for everything.
    public static func initial(path: String) -> StorageConfig {
        StorageConfig(entries: [
            Entry(type: "dir", id: "local", options: [.init("path", path), .init("content", "iso,vztmpl,backup,images,rootdir,snippets")])
        ])
    }
}

extension SectionConfig.Section {
    /// The content types this storage holds (`images`, `iso`, `vztmpl`, `rootdir`, `backup`, `snippets`).
    public var content: Set<String> {
        Set((self["content"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }

    public var disabled: Bool { self["disable"] == "1" }

    /// Nodes the storage is limited to (all when empty).
    public var nodes: Set<String> { Set((self["nodes"] ?? "").split(separator: ",").map(String.init)) }

    public func isAvailable(on node: String) -> Bool { !disabled && (nodes.isEmpty || nodes.contains(node)) }
}

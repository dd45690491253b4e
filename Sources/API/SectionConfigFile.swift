import ClusterFS
import Schema
import TLS

/// A section-config file of the cluster tree (`status.cfg`, `domains.cfg`, `ha/rules.cfg`, …) read
/// and changed as PVE's API changes them: the whole file under a cluster lock, a change refused when
/// the caller's `digest` (SHA-1 of the text it read) is stale, one write or none.
public struct SectionConfigFile: Sendable {
    public let tree: any ConfigTree
    public let path: String
    /// The cluster lock that serialises changes to the file (PVE's lock names).
    public let lock: String

    public init(tree: any ConfigTree, path: String, lock: String) {
        self.tree = tree
        self.path = path
        self.lock = lock
    }

    public var text: String { (try? tree.readString(path)) ?? "" }

    public static func digest(_ text: String) -> String { Digest.sha1Hex(Array(text.utf8)) }
    public var digest: String { Self.digest(text) }

    public func load() throws -> SectionConfig { try Self.parse(text, path) }

    static func parse(_ text: String, _ path: String) throws -> SectionConfig {
        do { return try SectionConfig.parse(text, file: path) } catch { throw APIError(500, "cannot parse \(path): \(error)") }
    }

    /// Runs `change` on the file's sections and writes them back (making the file's directory if
    /// missing), all under the lock.
    public func modify(digest: String?, _ change: (inout SectionConfig) throws -> Void) throws {
        try tree.withLock(lock, timeout: 10) {
            let before = text
            if let digest, !digest.isEmpty, digest != Self.digest(before) {
                throw APIError(500, "detected modified configuration - file changed by other user? Try again.")
            }
            var config = try Self.parse(before, path)
            try change(&config)
            if let slash = path.lastIndex(of: "/"), !tree.exists(String(path[..<slash])) { try? tree.mkdir(String(path[..<slash])) }
            try tree.write(path, Array(config.serialized().utf8))
        }
    }
}

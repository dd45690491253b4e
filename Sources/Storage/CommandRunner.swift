/// How a storage driver runs its tools: the real commands on a node, a recorder with canned
/// answers in unit tests (for the backends these machines cannot run: LVM without device-mapper,
/// ZFS, Ceph).
public struct CommandRunner: Sendable {
    public let run: @Sendable ([String]) throws(StorageError) -> String

    public init(_ run: @escaping @Sendable ([String]) throws(StorageError) -> String) { self.run = run }

    public static let system = CommandRunner { arguments throws(StorageError) in
        do { return try Command.run(arguments) } catch { throw StorageError(wrapping: error) }
    }

    /// Whether the command succeeds (its failure is an answer, not an error).
    public func succeeds(_ arguments: [String]) -> Bool { (try? run(arguments)) != nil }
}

import Synchronization

/// What every request callback reaches through libfuse's user data: the filesystem, the node table,
/// the cache lifetimes, and the gate that orders name replies before invalidations.
final class FUSEBox: Sendable {
    let fileSystem: any FUSEFileSystem
    let nodes = FUSENodeTable()
    let stableTimeout: Double
    let volatileTimeout: Double
    let entryTimeout: Double
    let gate = FUSEReplyGate()
    /// Directory listings by handle, taken at opendir so offsets stay meaningful while the tree changes.
    let listings = Mutex<(next: UInt64, open: [UInt64: [FUSEDirectoryEntry]])>((1, [:]))

    /// The session, once made (the page cache is filled through it).
    let session = Atomic<UInt>(0)
    /// Handles reading through the page cache, and their node.
    let pageHandles = Mutex<[UInt64: UInt64]>([:])

    init(_ fileSystem: any FUSEFileSystem, attributeTimeout: Double, volatileAttributeTimeout: Double, entryTimeout: Double) {
        self.fileSystem = fileSystem
        stableTimeout = attributeTimeout
        volatileTimeout = volatileAttributeTimeout
        self.entryTimeout = entryTimeout
    }

    func attributeTimeout(_ attributes: FUSEAttributes) -> Double { attributes.volatile ? volatileTimeout : stableTimeout }
}

import Foundation

/// One backup in a chunk store: the guest's config files and its data streams (a VM's disks, a
/// container's tar), each a list of chunks by SHA-256. A backup needs nothing but its manifest and
/// the chunks it names, so every backup restores on its own however many share its chunks.
public struct BackupManifest: Codable, Sendable, Equatable {
    public struct Chunk: Codable, Sendable, Equatable {
        /// Lowercase hex SHA-256 of the plain bytes; empty for a chunk of zeros (never stored).
        public var digest: String
        public var size: Int

        public init(digest: String, size: Int) {
            self.digest = digest
            self.size = size
        }
    }

    public struct Stream: Codable, Sendable, Equatable {
        /// `drive-<key>` for a VM disk (as in VMA), `root.tar` for a container.
        public var name: String
        public var size: UInt64
        public var chunks: [Chunk]

        public init(name: String, size: UInt64, chunks: [Chunk] = []) {
            self.name = name
            self.size = size
            self.chunks = chunks
        }
    }

    /// `qemu` or `lxc`.
    public var type: String
    public var vmid: Int
    public var time: Int64
    /// `qemu-server.conf`/`qemu-server.fw` or `pct.conf`/`pct.fw`, as the archive formats name them.
    public var configs: [String: String]
    public var streams: [Stream]
    /// What this backup added to the store: chunks and their compressed bytes (the rest were there).
    public var newChunks: Int = 0
    public var newBytes: UInt64 = 0
    /// The libvirt checkpoint taken when a running VM's backup began: the next backup reads only
    /// what its bitmaps say the guest wrote since.
    public var checkpoint: String?

    public init(type: String, vmid: Int, time: Int64, configs: [String: String], streams: [Stream] = []) {
        self.type = type
        self.vmid = vmid
        self.time = time
        self.configs = configs
        self.streams = streams
    }

    /// The bytes the streams hold (what a restore writes, zeros included).
    public var size: UInt64 { streams.reduce(0) { $0 + $1.size } }

    /// Every stored chunk the backup needs.
    public var digests: Set<String> { Set(streams.flatMap { $0.chunks.map(\.digest) }.filter { !$0.isEmpty }) }
}

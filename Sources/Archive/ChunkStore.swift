import Foundation
import Glibc
import TLS
import Zstd

/// A deduplicating backup store in a directory: chunks by content (SHA-256, each a zstd frame),
/// stored once however many backups and guests share them, and one manifest per backup.
///
///     <root>/.chunks/<first two hex digits>/<sha256>   a chunk
///     <root>/<vm|ct>/<vmid>/<time>/index.json           a backup's manifest (`notes`, `protected`, `client.log` beside it)
///     <root>/.lock                                      backups hold it shared, garbage collection exclusive
///
/// Chunks are written to a temporary name and renamed, manifests likewise and last: a backup that
/// dies leaves chunks no manifest names, which the next collection removes. Blocking: use from the
/// blocking executor.
public final class ChunkStore: Sendable {
    public let root: String
    /// The largest chunk the store accepts (a bound on what a damaged file can make us allocate).
    public static let maximumChunkSize = 16 << 20

    public init(root: String) { self.root = root }

    /// The store's directories (idempotent).
    public func prepare() throws {
        let fm = FileManager.default
        do {
            for n in 0..<256 { try fm.createDirectory(atPath: root + "/.chunks/" + String(format: "%02x", n), withIntermediateDirectories: true) }
        } catch { throw VMAError("cannot create the chunk store in \(root): \(error.localizedDescription)") }
    }

    func chunkPath(_ digest: String) -> String { "\(root)/.chunks/\(digest.prefix(2))/\(digest)" }

    public static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return true }
        // a zero first byte, and every byte equal to the one before it
        return base.load(as: UInt8.self) == 0 && memcmp(base, base + 1, bytes.count - 1) == 0
    }

    /// Stores `bytes` unless the store has them. Returns their digest (empty for zeros) and the
    /// compressed bytes written (0 when the chunk was there).
    public func insert(_ bytes: UnsafeRawBufferPointer) throws -> (digest: String, stored: Int) {
        if Self.isZero(bytes) { return ("", 0) }
        let digest = Digest.sha256Hex(bytes)
        let path = chunkPath(digest)
        if access(path, F_OK) == 0 { return (digest, 0) }
        let frame: [UInt8]
        do { frame = try Zstd.compress(bytes) } catch { throw VMAError(error.description) }
        let temporary = path + ".tmp.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        try Self.write(frame, to: temporary)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw VMAError("cannot store chunk \(digest): \(String(cString: strerror(errno)))")
        }
        return (digest, frame.count)
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw VMAError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + sent, bytes.count - sent) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                unlink(path)
                throw VMAError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            sent += n
        }
    }

    /// Whether the store holds a chunk (zeros always).
    public func has(_ chunk: BackupManifest.Chunk) -> Bool { chunk.digest.isEmpty || access(chunkPath(chunk.digest), F_OK) == 0 }

    /// A chunk's bytes, checked against its digest and size.
    public func read(_ chunk: BackupManifest.Chunk) throws -> [UInt8] {
        guard chunk.size >= 0, chunk.size <= Self.maximumChunkSize else { throw VMAError("chunk size \(chunk.size) is out of range") }
        if chunk.digest.isEmpty { return [UInt8](repeating: 0, count: chunk.size) }
        guard chunk.digest.count == 64, chunk.digest.allSatisfy(\.isHexDigit) else { throw VMAError("'\(chunk.digest)' is not a chunk digest") }
        guard let data = FileManager.default.contents(atPath: chunkPath(chunk.digest)) else {
            throw VMAError("chunk \(chunk.digest) is missing from the store")
        }
        let bytes: [UInt8]
        do { bytes = try Zstd.decompress([UInt8](data), limit: Self.maximumChunkSize) } catch {
            throw VMAError("chunk \(chunk.digest) is damaged: \(error.description)")
        }
        guard bytes.count == chunk.size, bytes.withUnsafeBytes({ Digest.sha256Hex($0) }) == chunk.digest else {
            throw VMAError("chunk \(chunk.digest) is damaged: its content does not match its digest")
        }
        return bytes
    }

    // MARK: Backups

    /// `vm/100/2026-12-04T14:00:00Z` for a VM backed up at that time (UTC).
    public static func snapshotName(type: String, vmid: Int, time: Int64) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        return "\(type == "lxc" ? "ct" : "vm")/\(vmid)/\(f.string(from: Date(timeIntervalSince1970: TimeInterval(time))))"
    }

    /// The parts of a snapshot name, or nil when it is not one.
    public static func parse(_ name: String) -> (type: String, vmid: Int, time: Int64)? {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "vm" || parts[0] == "ct", let vmid = Int(parts[1]), vmid > 0 else { return nil }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        guard parts[2].count == 20, let date = f.date(from: String(parts[2])) else { return nil }
        return (parts[0] == "ct" ? "lxc" : "qemu", vmid, Int64(date.timeIntervalSince1970))
    }

    public func directory(_ snapshot: String) -> String { root + "/" + snapshot }

    /// Writes a backup's manifest: the moment the backup exists.
    public func save(_ manifest: BackupManifest, as snapshot: String) throws {
        let dir = directory(snapshot)
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw VMAError("cannot create \(dir): \(error.localizedDescription)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do { data = try encoder.encode(manifest) } catch { throw VMAError("cannot encode the manifest: \(error)") }
        let temporary = dir + "/index.json.tmp"
        unlink(temporary)
        try Self.write([UInt8](data), to: temporary)
        guard rename(temporary, dir + "/index.json") == 0 else { throw VMAError("cannot save the manifest of \(snapshot)") }
    }

    public func manifest(_ snapshot: String) throws -> BackupManifest {
        guard let data = FileManager.default.contents(atPath: directory(snapshot) + "/index.json") else {
            throw VMAError("backup '\(snapshot)' does not exist")
        }
        do { return try JSONDecoder().decode(BackupManifest.self, from: data) } catch {
            throw VMAError("the manifest of backup '\(snapshot)' is damaged: \(error)")
        }
    }

    /// Every backup with a manifest, by name.
    public func snapshots() -> [String] {
        let fm = FileManager.default
        var out: [String] = []
        for kind in ["vm", "ct"] {
            for vmid in (try? fm.contentsOfDirectory(atPath: root + "/" + kind)) ?? [] where Int(vmid) != nil {
                for time in (try? fm.contentsOfDirectory(atPath: "\(root)/\(kind)/\(vmid)")) ?? [] {
                    let name = "\(kind)/\(vmid)/\(time)"
                    if Self.parse(name) != nil && fm.fileExists(atPath: directory(name) + "/index.json") { out.append(name) }
                }
            }
        }
        return out.sorted()
    }

    /// Removes a backup's manifest and side files (its chunks go at the next collection).
    public func remove(_ snapshot: String) throws {
        guard Self.parse(snapshot) != nil else { throw VMAError("'\(snapshot)' is not a backup name") }
        let dir = directory(snapshot)
        // the manifest first, so a half-removed backup is no backup
        unlink(dir + "/index.json")
        do { try FileManager.default.removeItem(atPath: dir) } catch { throw VMAError("cannot remove \(dir): \(error.localizedDescription)") }
        rmdir((dir as NSString).deletingLastPathComponent)
    }

    // MARK: Locking, collection, verification

    /// Runs `body` while no collection can run (backups and restores hold the lock shared).
    public func shared<T>(_ body: () throws -> T) throws -> T {
        let fd = try lockFile()
        defer { close(fd) }
        while flock(fd, LOCK_SH) != 0 && errno == EINTR {}
        return try body()
    }

    func lockFile() throws -> Int32 {
        let fd = open(root + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw VMAError("cannot open \(root)/.lock: \(String(cString: strerror(errno)))") }
        return fd
    }

    public struct Collection: Sendable {
        public var removedChunks = 0
        public var removedBytes: UInt64 = 0
        public var keptChunks = 0
        public var keptBytes: UInt64 = 0
    }

    /// Removes every chunk no manifest names (and leftovers of interrupted writes). Returns nil
    /// without waiting when a backup or restore holds the store.
    public func collectGarbage() throws -> Collection? {
        let fd = try lockFile()
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return nil }
        var used = Set<String>()
        for snapshot in snapshots() { used.formUnion(try manifest(snapshot).digests) }
        var result = Collection()
        let fm = FileManager.default
        for n in 0..<256 {
            let dir = root + "/.chunks/" + String(format: "%02x", n)
            for file in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] {
                var st = stat()
                guard stat(dir + "/" + file, &st) == 0 else { continue }
                if used.contains(file) {
                    result.keptChunks += 1
                    result.keptBytes += UInt64(st.st_size)
                } else if unlink(dir + "/" + file) == 0 {
                    result.removedChunks += 1
                    result.removedBytes += UInt64(st.st_size)
                }
            }
        }
        return result
    }

    /// Reads every chunk of the given backups (all when nil) and checks it. Returns one line per
    /// problem; each damaged chunk is read once, however many backups share it, and renamed
    /// `<digest>.bad` (the next collection removes it).
    public func verify(_ snapshots: [String]? = nil, progress: (String) -> Void = { _ in }) throws -> [String] {
        try shared {
            var problems: [String] = []
            var checked: [String: String?] = [:]
            for snapshot in snapshots ?? self.snapshots() {
                let manifest: BackupManifest
                do { manifest = try self.manifest(snapshot) } catch {
                    problems.append("\(snapshot): \(error)")
                    continue
                }
                var bad = 0
                for stream in manifest.streams {
                    var total: UInt64 = 0
                    for chunk in stream.chunks {
                        total += UInt64(chunk.size)
                        guard !chunk.digest.isEmpty else { continue }
                        if checked[chunk.digest] == nil {
                            do {
                                _ = try read(chunk)
                                checked[chunk.digest] = .some(nil)
                            } catch {
                                checked[chunk.digest] = .some("\(error)")
                                // set aside, so the next backup that has these bytes stores them again
                                rename(chunkPath(chunk.digest), chunkPath(chunk.digest) + ".bad")
                            }
                        }
                        if case .some(.some(let problem)) = checked[chunk.digest] {
                            bad += 1
                            problems.append("\(snapshot) \(stream.name): \(problem)")
                        }
                    }
                    if total != stream.size { problems.append("\(snapshot) \(stream.name): chunks hold \(total) bytes, the stream \(stream.size)") }
                }
                progress("\(snapshot): \(bad == 0 ? "ok" : "\(bad) damaged chunk(s)")")
            }
            return problems
        }
    }

    /// Bytes the chunks take on disk.
    public func storedBytes() -> UInt64 {
        var total: UInt64 = 0
        for n in 0..<256 {
            let dir = root + "/.chunks/" + String(format: "%02x", n)
            for file in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                var st = stat()
                if stat(dir + "/" + file, &st) == 0 { total += UInt64(st.st_size) }
            }
        }
        return total
    }
}

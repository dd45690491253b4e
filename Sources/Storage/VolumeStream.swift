import Foundation
import Glibc

/// Where an exported volume goes, and where an imported one comes from: a file descriptor (a pipe
/// to the other node, a file) or, in tests, memory.
public protocol VolumeSink: Sendable {
    func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError)
}

public protocol VolumeSource: Sendable {
    /// Reads up to `buffer.count` bytes; 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int
}

/// A file descriptor as a sink and a source (not closed here: its owner closes it).
public struct FileDescriptorStream: VolumeSink, VolumeSource {
    public let fd: Int32
    public init(fd: Int32) { self.fd = fd }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw StorageError(500, "volume stream write failed: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw StorageError(500, "volume stream read failed: \(String(cString: strerror(errno)))") }
            return n
        }
    }
}

/// PVE's `<format>+size` streams: the payload's length as 8 bytes little-endian, then the payload
/// (a raw image, a device's bytes, a qcow2 file as stored).
public enum VolumeStream {
    static let chunk = 1 << 20

    public static func export(path: String, to sink: any VolumeSink) throws(StorageError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError(500, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // a block device's size comes from seeking to its end; a file's from the same call
        let size = lseek(fd, 0, SEEK_END)
        guard size >= 0, lseek(fd, 0, SEEK_SET) == 0 else { throw StorageError(500, "cannot size \(path)") }
        var header = UInt64(size).littleEndian
        try withUnsafeBytes(of: &header) { (raw) throws(StorageError) in try sink.write(raw) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var left = Int64(size)
        while left > 0 {
            let n = Glibc.read(fd, buffer.baseAddress, Int(min(Int64(chunk), left)))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw StorageError(500, "reading \(path) failed: \(n == 0 ? "unexpected end" : String(cString: strerror(errno)))") }
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            left -= Int64(n)
        }
    }

    public static func readSize(_ source: any VolumeSource) throws(StorageError) -> Int64 {
        var header = [UInt8](repeating: 0, count: 8)
        var got = 0
        while got < 8 {
            let n = try rethrowingStorageError {
                try header.withUnsafeMutableBytes { raw in try source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[got...])) }
            }
            guard n > 0 else { throw StorageError(400, "the volume stream ended before its size header") }
            got += n
        }
        let size = header.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard size < 1 << 50 else { throw StorageError(400, "the volume stream announces an impossible size (\(size) bytes)") }
        return Int64(size)
    }

    /// Writes exactly `size` bytes from `source` over the volume at `path`; a file is cut to `size`.
    public static func importBody(size: Int64, from source: any VolumeSource, to path: String, truncate: Bool) throws(StorageError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError(500, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        if truncate { guard ftruncate(fd, 0) == 0 else { throw StorageError(500, "cannot truncate \(path)") } }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var left = size
        let out = FileDescriptorStream(fd: fd)
        while left > 0 {
            let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(min(Int64(chunk), left))]))
            guard n > 0 else { throw StorageError(400, "the volume stream ended \(left) bytes early") }
            try out.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            left -= Int64(n)
        }
        if truncate { guard ftruncate(fd, off_t(size)) == 0 else { throw StorageError(500, "cannot size \(path)") } }
        guard fsync(fd) == 0 || errno == EINVAL else { throw StorageError(500, "cannot flush \(path): \(String(cString: strerror(errno)))") }
    }
}

extension VolumeStream {
    /// PVE's `tar+size` for a directory volume (a container's `subvol`): the size header (its limit,
    /// 0 for none), then a tar of the tree with numeric owners, ACLs and extended attributes.
    /// With `listed` (GNU tar's snapshot file) only what changed since the run that wrote it goes,
    /// with what was deleted: the pre-copy of a running container, then its delta.
    public static func exportTree(path: String, size: Int64, listed: String? = nil, to sink: any VolumeSink) throws(StorageError) {
        let spool = NSTemporaryDirectory() + "corral-tree-\(UUID().uuidString).tar"
        defer { unlink(spool) }
        do {
            let incremental = listed.map { ["--listed-incremental=\($0)"] } ?? []
            _ = try Command.run(["tar", "-C", path, "--numeric-owner", "--acls", "--xattrs"] + incremental + ["-cpf", spool, "."])
        } catch { throw StorageError(500, "cannot archive \(path): \(error)") }
        var header = UInt64(max(size, 0)).littleEndian
        try withUnsafeBytes(of: &header) { (raw) throws(StorageError) in try sink.write(raw) }
        let fd = open(spool, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError(500, "cannot read \(spool)") }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, chunk)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw StorageError(500, "reading \(spool) failed: \(String(cString: strerror(errno)))") }
            if n == 0 { return }
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    /// Unpacks the tar that follows a `tar+size` header into `path` (an empty directory; with
    /// `incremental`, a tree an earlier stream made, where files deleted since are removed too).
    public static func importTree(from source: any VolumeSource, to path: String, incremental: Bool = false) throws(StorageError) {
        let spool = NSTemporaryDirectory() + "corral-tree-\(UUID().uuidString).tar"
        defer { unlink(spool) }
        let fd = open(spool, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StorageError(500, "cannot create \(spool)") }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        let out = FileDescriptorStream(fd: fd)
        do {
            while true {
                let n = try source.read(into: buffer)
                if n == 0 { break }
                try out.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            }
            close(fd)
        } catch {
            close(fd)
            throw error
        }
        do {
            let mode = incremental ? ["--listed-incremental=/dev/null"] : []
            _ = try Command.run(["tar", "-C", path, "--numeric-owner", "--acls", "--xattrs"] + mode + ["-xpf", spool])
        } catch { throw StorageError(400, "cannot unpack the tree into \(path): \(error)") }
    }
}

/// Array's buffer calls rethrow untyped errors; what they rethrow here is always a StorageError.
func rethrowingStorageError<T>(_ body: () throws -> T) throws(StorageError) -> T {
    do { return try body() } catch let error as StorageError { throw error } catch { throw StorageError(wrapping: error) }
}

import Foundation
import TLS

/// PVE's VMA archive format, written as a stream: a header (config files and the device table,
/// MD5-checked), then extents of up to 59 clusters of 64 KiB, each cluster stored as its non-zero
/// 4 KiB blocks with a 16-bit mask. Big-endian except the blobs' 2-byte lengths. See
/// `Sources/Backup/README.md`.
public struct VMAWriter {
    public static let clusterSize = 65536
    public static let blockSize = 4096
    static let fixedHeaderSize = 12288
    static let extentHeaderSize = 512
    /// PVE's writer fills 58 of the 59 slots; readers take 59.
    static let clustersPerExtent = 58

    let uuid: [UInt8]
    let sink: ([UInt8]) throws -> Void
    private var entries: [(device: UInt8, cluster: UInt32, mask: UInt16)] = []
    private var data: [UInt8] = []
    public private(set) var written: UInt64 = 0
    /// 4 KiB blocks found all zero (left out), for the log's sparseness line.
    public private(set) var zeroBlocks: UInt64 = 0
    private var extents = 0

    /// Writes the header at once: `configs` (name → bytes, e.g. `qemu-server.conf`) and `devices`
    /// (name, size in bytes; device IDs are 1… in this order).
    public init(
        configs: [(name: String, data: [UInt8])], devices: [(name: String, size: UInt64)], ctime: Int64 = Int64(Date().timeIntervalSince1970),
        sink: @escaping ([UInt8]) throws -> Void
    ) throws {
        var uuid = [UInt8](repeating: 0, count: 16)
        for i in uuid.indices { uuid[i] = UInt8.random(in: 0...255) }
        uuid[6] = uuid[6] & 0x0f | 0x40
        uuid[8] = uuid[8] & 0x3f | 0x80
        self.uuid = uuid
        self.sink = sink
        let header = try Self.header(uuid: uuid, ctime: ctime, configs: configs, devices: devices)
        try sink(header)
        written = UInt64(header.count)
    }

    static func header(
        uuid: [UInt8], ctime: Int64, configs: [(name: String, data: [UInt8])], devices: [(name: String, size: UInt64)]
    ) throws -> [UInt8] {
        guard configs.count <= 256, devices.count <= 254 else { throw VMAError("too many config files or devices for a VMA archive") }
        var blobs: [UInt8] = [0]
        func blob(_ bytes: [UInt8]) throws -> UInt32 {
            guard bytes.count <= 65535 else { throw VMAError("a VMA blob holds at most 65535 bytes (\(bytes.count) given)") }
            let pointer = UInt32(blobs.count)
            blobs += [UInt8(bytes.count & 0xff), UInt8(bytes.count >> 8)]
            blobs += bytes
            return pointer
        }
        var configPointers: [(UInt32, UInt32)] = []
        for config in configs {
            configPointers.append((try blob(Array(config.name.utf8) + [0]), try blob(config.data)))
        }
        var devicePointers: [UInt32] = []
        for device in devices {
            guard device.size > 0 else { throw VMAError("device \(device.name) has size 0") }
            devicePointers.append(try blob(Array(device.name.utf8) + [0]))
        }
        let area = (blobs.count + 511) / 512 * 512
        let headerSize = fixedHeaderSize + area
        guard headerSize <= 512 * 1024 else { throw VMAError("the VMA header would exceed 512 KiB") }
        var h = [UInt8](repeating: 0, count: headerSize)
        h.replaceSubrange(0..<4, with: Array("VMA".utf8) + [0])
        put32(&h, 4, 1)
        h.replaceSubrange(8..<24, with: uuid)
        put64(&h, 24, UInt64(bitPattern: ctime))
        put32(&h, 48, UInt32(fixedHeaderSize))
        put32(&h, 52, UInt32(blobs.count))
        put32(&h, 56, UInt32(headerSize))
        for (i, (name, data)) in configPointers.enumerated() {
            put32(&h, 2044 + 4 * i, name)
            put32(&h, 3068 + 4 * i, data)
        }
        for (i, device) in devices.enumerated() {
            let entry = 4096 + 32 * (i + 1)
            put32(&h, entry, devicePointers[i])
            put64(&h, entry + 8, device.size)
        }
        h.replaceSubrange(fixedHeaderSize..<(fixedHeaderSize + blobs.count), with: blobs)
        h.replaceSubrange(32..<48, with: Digest.md5(h))
        return h
    }

    /// One cluster of a device (`device` is 1-based, in the order given at init): `bytes` holds up to
    /// 64 KiB read at `cluster × 64 KiB` (less at the device's end; the rest counts as zero).
    public mutating func add(device: Int, cluster: UInt32, bytes: [UInt8]) throws {
        var mask: UInt16 = 0
        bytes.withUnsafeBytes { raw in
            for block in 0..<16 {
                let start = block * Self.blockSize
                guard start < raw.count else { break }
                let end = min(start + Self.blockSize, raw.count)
                // eight bytes at a time (blocks are 4 KiB, so only a device's last block is shorter)
                var zero = true
                var i = start
                while i + 8 <= end {
                    if raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0 {
                        zero = false
                        break
                    }
                    i += 8
                }
                while zero && i < end {
                    if raw[i] != 0 { zero = false }
                    i += 1
                }
                if !zero { mask |= 1 << UInt16(block) }
            }
        }
        for block in 0..<16 {
            guard mask & (1 << UInt16(block)) != 0 else {
                zeroBlocks += 1
                continue
            }
            let start = block * Self.blockSize
            let end = min(start + Self.blockSize, bytes.count)
            data += bytes[start..<end]
            if end - start < Self.blockSize { data += [UInt8](repeating: 0, count: Self.blockSize - (end - start)) }
        }
        entries.append((UInt8(device), cluster, mask))
        if entries.count == Self.clustersPerExtent { try flush() }
    }

    /// Emits the last extent. An archive always ends with at least one extent (PVE's rule).
    public mutating func finish() throws {
        if !entries.isEmpty || extents == 0 { try flush() }
    }

    mutating func flush() throws {
        var e = [UInt8](repeating: 0, count: Self.extentHeaderSize)
        e.replaceSubrange(0..<4, with: Array("VMAE".utf8))
        let blocks = data.count / Self.blockSize
        e[6] = UInt8(blocks >> 8)
        e[7] = UInt8(blocks & 0xff)
        e.replaceSubrange(8..<24, with: uuid)
        for (i, entry) in entries.enumerated() {
            let word = UInt64(entry.mask) << 48 | UInt64(entry.device) << 32 | UInt64(entry.cluster)
            Self.put64(&e, 40 + 8 * i, word)
        }
        e.replaceSubrange(24..<40, with: Digest.md5(e))
        try sink(e + data)
        written += UInt64(e.count + data.count)
        extents += 1
        entries.removeAll(keepingCapacity: true)
        data.removeAll(keepingCapacity: true)
    }

    static func put32(_ b: inout [UInt8], _ at: Int, _ v: UInt32) { for i in 0..<4 { b[at + i] = UInt8((v >> UInt32(24 - 8 * i)) & 0xff) } }
    static func put64(_ b: inout [UInt8], _ at: Int, _ v: UInt64) { for i in 0..<8 { b[at + i] = UInt8((v >> UInt64(56 - 8 * i)) & 0xff) } }
}

public struct VMAError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

import Foundation
import TLS

/// Reads a VMA stream (see `VMAWriter`): the header's config files and devices, then every stored
/// block handed to a callback with its device and offset. Checks what PVE's reader checks: magic,
/// version, MD5 of the header and of each extent header, the archive's UUID in every extent, the
/// block count, and at the end that every cluster of every device came exactly once.
public struct VMAReader {
    public struct Device: Sendable {
        public let id: Int
        public let name: String
        public let size: UInt64
    }

    public let configs: [(name: String, data: [UInt8])]
    public let devices: [Device]
    public let ctime: Int64
    let uuid: [UInt8]
    let source: (Int) throws -> [UInt8]

    /// `source(n)` returns up to n bytes (fewer only at the end of the stream).
    public init(source: @escaping (Int) throws -> [UInt8]) throws {
        self.source = source
        let fixed = try source(VMAWriter.fixedHeaderSize)
        guard fixed.count == VMAWriter.fixedHeaderSize, Array(fixed[0..<4]) == Array("VMA".utf8) + [0] else {
            throw VMAError("not a VMA archive (no VMA header)")
        }
        let headerSize = Int(Self.read32(fixed, 56))
        guard headerSize > VMAWriter.fixedHeaderSize, headerSize <= 16 << 20 else { throw VMAError("VMA header size \(headerSize) is invalid") }
        var header = fixed + (try source(headerSize - fixed.count))
        guard header.count == headerSize else { throw VMAError("the VMA header is cut short") }
        let stored = Array(header[32..<48])
        header.replaceSubrange(32..<48, with: [UInt8](repeating: 0, count: 16))
        guard Digest.md5(header) == stored else { throw VMAError("VMA header checksum mismatch") }
        guard Self.read32(header, 4) == 1 else { throw VMAError("VMA version \(Self.read32(header, 4)) is not supported") }
        uuid = Array(header[8..<24])
        ctime = Int64(bitPattern: Self.read64(header, 24))
        let blobOffset = Int(Self.read32(header, 48)), blobSize = Int(Self.read32(header, 52))
        guard blobOffset >= VMAWriter.fixedHeaderSize, blobOffset + blobSize <= headerSize else { throw VMAError("VMA blob buffer out of range") }
        var blobs: [UInt32: [UInt8]] = [:]
        var position = 1
        while position + 2 <= blobSize {
            let length = Int(header[blobOffset + position]) | Int(header[blobOffset + position + 1]) << 8
            guard position + 2 + length <= blobSize else { break }
            blobs[UInt32(position)] = Array(header[(blobOffset + position + 2)..<(blobOffset + position + 2 + length)])
            position += 2 + length
        }
        func string(_ pointer: UInt32) -> String? {
            guard let bytes = blobs[pointer], bytes.last == 0 else { return nil }
            return String(decoding: bytes.dropLast(), as: UTF8.self)
        }
        var configs: [(String, [UInt8])] = []
        for i in 0..<256 {
            let name = Self.read32(header, 2044 + 4 * i), data = Self.read32(header, 3068 + 4 * i)
            guard name != 0, data != 0 else { continue }
            guard let n = string(name), let d = blobs[data] else { throw VMAError("VMA config \(i) has invalid data pointers") }
            configs.append((n, d))
        }
        self.configs = configs
        var devices: [Device] = []
        for id in 1..<256 {
            let entry = 4096 + 32 * id
            let size = Self.read64(header, entry + 8)
            guard size != 0, let name = string(Self.read32(header, entry)) else { continue }
            devices.append(Device(id: id, name: name, size: size))
        }
        self.devices = devices
    }

    public func config(_ name: String) -> [UInt8]? { configs.first { $0.name == name }?.data }

    /// Walks every extent. `block` gets (device id, byte offset, 4 KiB); blocks past a device's end
    /// are clipped. Zero blocks are not passed (the target starts zeroed).
    public func extract(_ block: (Int, UInt64, ArraySlice<UInt8>) throws -> Void) throws {
        let sizes = Dictionary(uniqueKeysWithValues: devices.map { ($0.id, $0.size) })
        var seen: [Int: Set<UInt32>] = [:]
        while true {
            var e = try source(VMAWriter.extentHeaderSize)
            if e.isEmpty { break }
            guard e.count == VMAWriter.extentHeaderSize, Array(e[0..<4]) == Array("VMAE".utf8), e[4] == 0, e[5] == 0 else {
                throw VMAError("short or invalid VMA extent header")
            }
            let stored = Array(e[24..<40])
            e.replaceSubrange(24..<40, with: [UInt8](repeating: 0, count: 16))
            guard Digest.md5(e) == stored else { throw VMAError("VMA extent checksum mismatch") }
            guard Array(e[8..<24]) == uuid else { throw VMAError("VMA extent belongs to another archive (UUID)") }
            let count = Int(e[6]) << 8 | Int(e[7])
            let data = try source(count * VMAWriter.blockSize)
            guard data.count == count * VMAWriter.blockSize else { throw VMAError("short VMA extent") }
            var used = 0
            for slot in 0..<59 {
                let word = Self.read64(e, 40 + 8 * slot)
                let device = Int((word >> 32) & 0xff)
                guard device != 0 else { continue }
                let mask = UInt16(word >> 48), cluster = UInt32(word & 0xffff_ffff)
                guard let size = sizes[device] else { throw VMAError("VMA extent names unknown device \(device)") }
                guard seen[device, default: []].insert(cluster).inserted else {
                    throw VMAError("VMA cluster \(cluster) of device \(device) appears twice")
                }
                for b in 0..<16 where mask & (1 << UInt16(b)) != 0 {
                    guard used + VMAWriter.blockSize <= data.count else { throw VMAError("VMA extent has too many blocks") }
                    let offset = UInt64(cluster) * UInt64(VMAWriter.clusterSize) + UInt64(b * VMAWriter.blockSize)
                    if offset < size {
                        let length = Int(min(UInt64(VMAWriter.blockSize), size - offset))
                        try block(device, offset, data[used..<(used + length)])
                    }
                    used += VMAWriter.blockSize
                }
            }
            guard used == data.count else { throw VMAError("VMA extent is missing blocks") }
        }
        for device in devices {
            let clusters = (device.size + UInt64(VMAWriter.clusterSize) - 1) / UInt64(VMAWriter.clusterSize)
            guard UInt64(seen[device.id]?.count ?? 0) == clusters else { throw VMAError("detected missing cluster in device \(device.name)") }
        }
    }

    static func read32(_ b: [UInt8], _ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 << 8 | UInt32(b[at + $1]) } }
    static func read64(_ b: [UInt8], _ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 << 8 | UInt64(b[at + $1]) } }
}

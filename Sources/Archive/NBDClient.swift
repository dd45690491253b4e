import Foundation
import Glibc

/// An NBD client (fixed newstyle handshake, structured replies, `NBD_OPT_GO`, read, write, flush)
/// over a unix socket: how a backup reads a disk as raw bytes whatever its format, from `qemu-nbd` for a stopped
/// VM or from libvirt's pull-mode backup export for a running one. Blocking: run it on the blocking executor.
/// One connection serves one thread at a time (hence unchecked); readers side by side open one each.
public final class NBDClient: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let size: UInt64
    private let fd: Int32
    private var handle: UInt64 = 1
    /// Structured replies were agreed: reads come as data and hole chunks, so the unallocated parts
    /// of a disk cross the socket as a length only.
    public private(set) var structured = false
    /// The server's id of the metadata context asked for at connect (`qemu:dirty-bitmap:…`).
    public private(set) var metaContext: UInt32?

    static let optionMagic: UInt64 = 0x4948_4156_454F_5054  // "IHAVEOPT"
    static let replyMagic: UInt64 = 0x0003_e889_0455_65a9
    static let requestMagic: UInt32 = 0x2560_9513
    static let simpleReplyMagic: UInt32 = 0x6744_6698
    static let structuredReplyMagic: UInt32 = 0x668e_33ef

    /// Connects to `socketPath` and opens export `name` ("" is qemu-nbd's default export).
    /// `metaContext` asks for a block-status context (`base:allocation`, `qemu:dirty-bitmap:NAME`).
    public init(socketPath: String, export name: String = "", metaContext query: String? = nil) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.fd = fd
        guard fd >= 0 else { throw Failure(description: "cannot create a socket") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socketPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw Failure(description: "socket path too long: \(socketPath)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        // a server's socket file appears at bind(), a moment before it listens: retry a refused connect
        var connected: Int32 = -1
        for _ in 0..<200 {
            connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if connected == 0 || (errno != ECONNREFUSED && errno != ENOENT) { break }
            usleep(10_000)
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "cannot connect to the NBD server at \(socketPath): \(reason)")
        }
        do {
            (size, structured, metaContext) = try Self.handshake(fd, export: name, metaContext: query)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { disconnect() }

    private var open = true

    /// NBD_CMD_DISC and close: the server sees the client go now, not when the last reference does
    /// (qemu-nbd waits for its clients before it exits). Idempotent.
    public func disconnect() {
        guard open else { return }
        open = false
        var request = [UInt8]()
        Self.put32(&request, Self.requestMagic)
        Self.put16(&request, 0)
        Self.put16(&request, 2)
        Self.put64(&request, 0)
        Self.put64(&request, 0)
        Self.put32(&request, 0)
        _ = try? Self.send(fd, request)
        close(fd)
    }

    private static func handshake(_ fd: Int32, export name: String, metaContext: String?) throws -> (UInt64, Bool, UInt32?) {
        let greeting = try receive(fd, 18)
        guard Array(greeting[0..<8]) == Array("NBDMAGIC".utf8), read64(greeting, 8) == optionMagic else {
            throw Failure(description: "not an NBD server (no newstyle greeting)")
        }
        let serverFlags = read16(greeting, 16)
        guard serverFlags & 1 != 0 else { throw Failure(description: "the NBD server does not speak fixed newstyle") }
        let noZeroes = serverFlags & 2 != 0
        var clientFlags = [UInt8]()
        put32(&clientFlags, noZeroes ? 3 : 1)
        try send(fd, clientFlags)
        // NBD_OPT_STRUCTURED_REPLY: a server that refuses it answers reads plainly
        let structured = (try? option(fd, 8, [])) != nil
        // NBD_OPT_SET_META_CONTEXT: one query; NBD_REP_META_CONTEXT carries the context's id
        var contextID: UInt32?
        if let metaContext {
            guard structured else { throw Failure(description: "the NBD server has no structured replies, so no '\(metaContext)'") }
            var query = [UInt8]()
            put32(&query, UInt32(name.utf8.count))
            query += Array(name.utf8)
            put32(&query, 1)
            put32(&query, UInt32(metaContext.utf8.count))
            query += Array(metaContext.utf8)
            for (type, body) in try option(fd, 10, query) where type == 4 && body.count >= 4 { contextID = read32(body, 0) }
            guard contextID != nil else { throw Failure(description: "the NBD server does not offer '\(metaContext)'") }
        }
        // NBD_OPT_GO with the export name and no info requests: the server answers NBD_INFO_EXPORT
        var data = [UInt8]()
        put32(&data, UInt32(name.utf8.count))
        data += Array(name.utf8)
        put16(&data, 0)
        var size: UInt64?
        do {
            for (type, body) in try option(fd, 7, data) where type == 3 && body.count >= 12 && read16(body, 0) == 0 {
                size = read64(body, 2)  // NBD_REP_INFO, NBD_INFO_EXPORT
            }
        } catch let failure as Failure { throw Failure(description: "the NBD server refused export '\(name)': \(failure.description)") }
        guard let size else { throw Failure(description: "the NBD server did not say the export's size") }
        return (size, structured, contextID)
    }

    /// Sends an option and collects its replies up to the ACK; an error reply throws.
    private static func option(_ fd: Int32, _ type: UInt32, _ data: [UInt8]) throws -> [(UInt32, [UInt8])] {
        var request = [UInt8]()
        put64(&request, optionMagic)
        put32(&request, type)
        put32(&request, UInt32(data.count))
        try send(fd, request + data)
        var replies: [(UInt32, [UInt8])] = []
        while true {
            let header = try receive(fd, 20)
            guard read64(header, 0) == replyMagic else { throw Failure(description: "bad NBD option reply") }
            let kind = read32(header, 12), length = Int(read32(header, 16))
            guard length <= 1 << 20 else { throw Failure(description: "NBD option reply of \(length) bytes") }
            let body = length > 0 ? try receive(fd, length) : []
            if kind & 0x8000_0000 != 0 {
                throw Failure(description: body.count > 0 ? String(decoding: body, as: UTF8.self) : "error \(kind & 0x7fff_ffff)")
            }
            if kind == 1 { return replies }  // NBD_REP_ACK
            replies.append((kind, body))
        }
    }

    /// Reads `length` bytes at `offset` (at most 32 MiB per request, as servers allow). With
    /// structured replies, holes arrive as lengths and stay zero here.
    public func read(offset: UInt64, length: Int) throws -> [UInt8] {
        var request = [UInt8]()
        Self.put32(&request, Self.requestMagic)
        Self.put16(&request, 0)
        Self.put16(&request, 0)  // NBD_CMD_READ
        Self.put64(&request, handle)
        Self.put64(&request, offset)
        Self.put32(&request, UInt32(length))
        try Self.send(fd, request)
        defer { handle &+= 1 }
        var out = [UInt8](repeating: 0, count: length)
        try out.withUnsafeMutableBytes { buffer in
            try reply(offset: offset, into: buffer)
        }
        return out
    }

    /// One reply to the current handle: a simple one (its payload fills `buffer`), or structured
    /// chunks up to the one flagged done (data chunks land at their offsets, holes stay zero).
    private func reply(
        offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, status: ((UInt32, [(length: UInt32, flags: UInt32)]) -> Void)? = nil
    ) throws {
        let first = try Self.receive(fd, 4)
        let magic = Self.read32(first, 0)
        if magic == Self.simpleReplyMagic {
            let rest = try Self.receive(fd, 12)
            guard Self.read64(rest, 4) == handle else { throw Failure(description: "bad NBD reply (handle)") }
            let error = Self.read32(rest, 0)
            guard error == 0 else { throw Failure(description: "NBD command at \(offset) failed: error \(error)") }
            try Self.receive(fd, into: buffer)
            return
        }
        guard magic == Self.structuredReplyMagic else { throw Failure(description: "bad NBD reply (magic)") }
        var header = first + (try Self.receive(fd, 16))
        while true {
            let flags = Self.read16(header, 4), type = Self.read16(header, 6), length = Int(Self.read32(header, 16))
            guard Self.read64(header, 8) == handle else { throw Failure(description: "bad NBD reply (handle)") }
            switch type {
            case 0:  // NBD_REPLY_TYPE_NONE
                guard length == 0 else { throw Failure(description: "bad NBD reply (none with payload)") }
            case 1:  // NBD_REPLY_TYPE_OFFSET_DATA
                let at = Self.read64(try Self.receive(fd, 8), 0)
                let count = length - 8
                guard at >= offset, count >= 0, at - offset + UInt64(count) <= UInt64(buffer.count) else {
                    throw Failure(description: "NBD data chunk outside the request")
                }
                try Self.receive(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[Int(at - offset)..<(Int(at - offset) + count)]))
            case 5:  // NBD_REPLY_TYPE_BLOCK_STATUS: a context id, then (length, flags) pairs
                let body = try Self.receive(fd, length)
                guard body.count >= 4, (body.count - 4) % 8 == 0 else { throw Failure(description: "bad NBD block status chunk") }
                status?(
                    Self.read32(body, 0),
                    stride(from: 4, to: body.count, by: 8).map { (length: Self.read32(body, $0), flags: Self.read32(body, $0 + 4)) })
            case 2:  // NBD_REPLY_TYPE_OFFSET_HOLE: already zero
                let body = try Self.receive(fd, length)
                guard body.count == 12, Self.read64(body, 0) >= offset,
                    Self.read64(body, 0) - offset + UInt64(Self.read32(body, 8)) <= UInt64(buffer.count)
                else { throw Failure(description: "NBD hole chunk outside the request") }
            default:
                let body = length > 0 ? try Self.receive(fd, length) : []
                if type & 0x8000 != 0 {
                    let code = body.count >= 4 ? Self.read32(body, 0) : 0
                    let textLength = body.count >= 6 ? Int(Self.read16(body, 4)) : 0
                    let text = body.count >= 6 + textLength ? String(decoding: body[6..<(6 + textLength)], as: UTF8.self) : ""
                    throw Failure(description: "NBD command at \(offset) failed: error \(code)\(text.isEmpty ? "" : " (\(text))")")
                }
            }
            if flags & 1 != 0 { return }  // NBD_REPLY_FLAG_DONE
            header = try Self.receive(fd, 20)
            guard Self.read32(header, 0) == Self.structuredReplyMagic else { throw Failure(description: "bad NBD reply (chunk magic)") }
        }
    }

    /// The extents of [offset, offset + length) in the metadata context asked for at connect, as
    /// (length, flags) from `offset` on; they may end short of the range (ask again from there).
    /// Stands for NBD_CMD_BLOCK_STATUS.
    public func blockStatus(offset: UInt64, length: UInt32) throws -> [(length: UInt32, flags: UInt32)] {
        guard let metaContext else { throw Failure(description: "no metadata context was negotiated") }
        var request = [UInt8]()
        Self.put32(&request, Self.requestMagic)
        Self.put16(&request, 0)
        Self.put16(&request, 7)  // NBD_CMD_BLOCK_STATUS
        Self.put64(&request, handle)
        Self.put64(&request, offset)
        Self.put32(&request, length)
        try Self.send(fd, request)
        defer { handle &+= 1 }
        var extents: [(length: UInt32, flags: UInt32)] = []
        try reply(offset: offset, into: UnsafeMutableRawBufferPointer(start: nil, count: 0)) { id, found in
            if id == metaContext { extents += found }
        }
        return extents
    }

    /// Whether any part of [offset, offset + length) has `flag` set in the context (for a dirty
    /// bitmap: whether the guest wrote there since the checkpoint).
    public func anyFlagged(offset: UInt64, length: UInt64, flag: UInt32 = 1) throws -> Bool {
        var at = offset
        while at < offset + length {
            let extents = try blockStatus(offset: at, length: UInt32(min(offset + length - at, 1 << 30)))
            guard !extents.isEmpty else { throw Failure(description: "the NBD server reported no extents at \(at)") }
            for extent in extents {
                if extent.flags & flag != 0 { return true }
                at += UInt64(extent.length)
                if at >= offset + length { return false }
            }
        }
        return false
    }

    /// Writes `bytes` at `offset` (NBD_CMD_WRITE) and waits for the server's answer.
    public func write(offset: UInt64, bytes: ArraySlice<UInt8>) throws {
        try command(1, offset: offset, length: UInt32(bytes.count), payload: Array(bytes))
    }

    /// NBD_CMD_FLUSH: what was written is on the image.
    public func flush() throws { try command(3, offset: 0, length: 0, payload: []) }

    private func command(_ type: UInt16, offset: UInt64, length: UInt32, payload: [UInt8]) throws {
        var request = [UInt8]()
        Self.put32(&request, Self.requestMagic)
        Self.put16(&request, 0)
        Self.put16(&request, type)
        Self.put64(&request, handle)
        Self.put64(&request, offset)
        Self.put32(&request, length)
        try Self.send(fd, request + payload)
        defer { handle &+= 1 }
        try reply(offset: offset, into: UnsafeMutableRawBufferPointer(start: nil, count: 0))
    }

    // MARK: wire helpers (network byte order)

    static func send(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "NBD connection lost while sending") }
            sent += n
        }
    }

    static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws {
        var got = 0
        while got < buffer.count {
            let n = recv(fd, buffer.baseAddress! + got, buffer.count - got, 0)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "NBD connection closed") }
            got += n
        }
    }

    static func receive(_ fd: Int32, _ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "NBD connection closed") }
            got += n
        }
        return out
    }

    static func put16(_ out: inout [UInt8], _ v: UInt16) { out += [UInt8(v >> 8), UInt8(v & 0xff)] }
    static func put32(_ out: inout [UInt8], _ v: UInt32) {
        for s in stride(from: 24, through: 0, by: -8) { out.append(UInt8((v >> UInt32(s)) & 0xff)) }
    }
    static func put64(_ out: inout [UInt8], _ v: UInt64) {
        for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8((v >> UInt64(s)) & 0xff)) }
    }
    static func read16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) << 8 | UInt16(b[at + 1]) }
    static func read32(_ b: [UInt8], _ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 << 8 | UInt32(b[at + $1]) } }
    static func read64(_ b: [UInt8], _ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 << 8 | UInt64(b[at + $1]) } }
}

import Glibc

/// An access log in the common shape PVE's daemon writes:
/// `ADDRESS - USER [DD/MM/YYYY:HH:MM:SS +0000] "METHOD TARGET VERSION" STATUS BYTES`.
/// Each loop collects its own lines (`AccessLogBuffer`, no lock shared between loops) and writes
/// them with one append once a second or when 32 KiB collect, not per request. Lines of one loop
/// keep their order; lines of different loops interleave by those writes.
final class AccessLog: Sendable {
    private let fd: Int32

    init(path: String) throws(HTTPServerError) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw HTTPServerError.errno("open access log \(path)") }
    }

    deinit { close(fd) }

    func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}

/// One loop's access-log lines not yet written.
struct AccessLogBuffer {
    private var bytes: [UInt8] = []
    private var second: Int64 = -1
    private var stamp: [UInt8] = []

    var isFull: Bool { bytes.count > 32 * 1024 }

    mutating func record(
        now: Int64, remote: String, user: String?, method: String, target: String, version: String, status: Int, bytes count: Int
    ) {
        if second != now {
            second = now
            stamp = Self.timestamp(now)
        }
        append(remote)
        bytes.append(contentsOf: " - ".utf8)
        append(user ?? "-")
        bytes.append(contentsOf: " [".utf8)
        bytes.append(contentsOf: stamp)
        bytes.append(contentsOf: "] \"".utf8)
        append(method)
        bytes.append(0x20)
        if target.utf8.count <= 2048 { append(target) } else { bytes.append(contentsOf: target.utf8.prefix(2048)) }
        bytes.append(0x20)
        append(version)
        bytes.append(contentsOf: "\" ".utf8)
        bytes.appendDecimal(status)
        bytes.append(0x20)
        bytes.appendDecimal(count)
        bytes.append(0x0A)
    }

    /// The collected lines; the buffer keeps its capacity for the next ones.
    mutating func take() -> [UInt8] {
        let taken = bytes
        bytes = []
        bytes.reserveCapacity(min(taken.capacity, 40 * 1024))
        return taken
    }

    private mutating func append(_ text: String) { bytes.appendUTF8(text) }

    private static func timestamp(_ now: Int64) -> [UInt8] {
        var seconds = time_t(now)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var out = [CChar](repeating: 0, count: 40)
        let n = strftime(&out, out.count, "%d/%m/%Y:%H:%M:%S +0000", &parts)
        return out[0..<n].map { UInt8(bitPattern: $0) }
    }
}

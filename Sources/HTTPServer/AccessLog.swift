import Glibc
import Synchronization

/// An access log in the common shape PVE's daemon writes:
/// `ADDRESS - USER [DD/MM/YYYY:HH:MM:SS +0000] "METHOD TARGET VERSION" STATUS BYTES`.
/// Lines are buffered and written once a second (or when 32 KiB collect), not per request.
final class AccessLog: Sendable {
    private let fd: Int32
    private let buffer = Mutex<(bytes: [UInt8], second: Int, stamp: String)>(([], -1, ""))

    init(path: String) throws(HTTPServerError) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw HTTPServerError.errno("open access log \(path)") }
    }

    deinit { close(fd) }

    func record(remote: String, user: String?, method: String, target: String, version: String, status: Int, bytes: Int) {
        let now = time(nil)
        let full = buffer.withLock { b -> Bool in
            if b.second != now {
                b.second = now
                b.stamp = Self.timestamp(now)
            }
            b.bytes.append(contentsOf: remote.utf8)
            b.bytes.append(contentsOf: " - ".utf8)
            b.bytes.append(contentsOf: (user ?? "-").utf8)
            b.bytes.append(contentsOf: " [".utf8)
            b.bytes.append(contentsOf: b.stamp.utf8)
            b.bytes.append(contentsOf: "] \"".utf8)
            b.bytes.append(contentsOf: method.utf8)
            b.bytes.append(0x20)
            b.bytes.append(contentsOf: target.utf8.prefix(2048))
            b.bytes.append(0x20)
            b.bytes.append(contentsOf: version.utf8)
            b.bytes.append(contentsOf: "\" \(status) \(bytes)\n".utf8)
            return b.bytes.count > 32 * 1024
        }
        if full { flush() }
    }

    func flush() {
        let bytes = buffer.withLock { b -> [UInt8] in
            defer { b.bytes.removeAll(keepingCapacity: true) }
            return b.bytes
        }
        guard !bytes.isEmpty else { return }
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    private static func timestamp(_ now: time_t) -> String {
        var seconds = now
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var out = [CChar](repeating: 0, count: 40)
        let n = strftime(&out, out.count, "%d/%m/%Y:%H:%M:%S +0000", &parts)
        return String(decoding: out[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

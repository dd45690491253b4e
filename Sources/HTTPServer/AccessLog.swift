import Glibc
import Synchronization

/// An access log in the common shape PVE's daemon writes:
/// `ADDRESS - USER [DD/MM/YYYY:HH:MM:SS +0000] "METHOD TARGET VERSION" STATUS BYTES`.
/// Lines are buffered and written once a second (or when 32 KiB collect), not per request.
final class AccessLog: Sendable {
    private let fd: Int32
    private let buffer = Mutex<[UInt8]>([])

    init(path: String) throws(HTTPServerError) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw HTTPServerError.errno("open access log \(path)") }
    }

    deinit { close(fd) }

    func record(remote: String, user: String?, method: String, target: String, version: String, status: Int, bytes: Int) {
        let line = "\(remote) - \(user ?? "-") [\(Self.timestamp())] \"\(method) \(target.prefix(2048)) \(version)\" \(status) \(bytes)\n"
        let full = buffer.withLock { buffer -> Bool in
            buffer.append(contentsOf: line.utf8)
            return buffer.count > 32 * 1024
        }
        if full { flush() }
    }

    func flush() {
        let bytes = buffer.withLock { buffer -> [UInt8] in
            let out = buffer
            buffer.removeAll(keepingCapacity: true)
            return out
        }
        guard !bytes.isEmpty else { return }
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    private static func timestamp() -> String {
        var seconds = time(nil)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var out = [CChar](repeating: 0, count: 40)
        let n = strftime(&out, out.count, "%d/%m/%Y:%H:%M:%S +0000", &parts)
        return String(decoding: out[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

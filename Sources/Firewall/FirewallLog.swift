import Foundation
import Glibc

/// The firewall's log: the kernel log lines its `log` statements wrote (prefix `fw <vmid> <chain>
/// <action>: `), read from /dev/kmsg and shown as PVE shows its firewall log:
/// `<vmid> <level> <chain> <time> <action>: <packet>`.
enum FirewallLog {
    struct Line {
        var time: Double
        var text: String
    }

    static let levels = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]

    static func read(vmid: Int, path: String = "/dev/kmsg") -> [Line] {
        let fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        // kmsg timestamps count from boot; the wall clock of boot turns them into dates
        var uptime = timespec(), now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &uptime)
        clock_gettime(CLOCK_REALTIME, &now)
        let boot = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9 - Double(uptime.tv_sec) - Double(uptime.tv_nsec) / 1e9
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "dd/MMM/yyyy:HH:mm:ss Z"
        var out: [Line] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        let marker = "fw \(vmid) "
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EPIPE { continue }  // records overwritten while reading
            guard n > 0 else { break }
            let record = String(decoding: buffer[0..<n], as: UTF8.self)
            guard let semicolon = record.firstIndex(of: ";") else { continue }
            let header = record[..<semicolon].split(separator: ",")
            var message = String(record[record.index(after: semicolon)...].prefix { $0 != "\n" })
            guard let range = message.range(of: marker) else { continue }
            message = String(message[range.upperBound...])
            // `<chain> <action>: <packet>`
            let words = message.split(separator: " ", maxSplits: 1).map(String.init)
            guard words.count == 2 else { continue }
            let priority = header.first.flatMap { Int($0) } ?? 4
            let micros = header.count > 2 ? Double(header[2]) ?? 0 : 0
            let time = boot + micros / 1e6
            let level = levels[min(priority & 7, levels.count - 1)]
            let date = formatter.string(from: Date(timeIntervalSince1970: time))
            out.append(Line(time: time, text: "\(vmid) \(level) \(words[0]) \(date) \(words[1])"))
        }
        return out
    }
}

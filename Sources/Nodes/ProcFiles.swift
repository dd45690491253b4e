import Glibc

/// Small readers for /proc and /sys files (they report size 0, so read until EOF).
enum ProcFiles {
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// /proc/meminfo as bytes per key.
    static func meminfo() -> [String: Int64] {
        var out: [String: Int64] = [:]
        for line in (read("/proc/meminfo") ?? "").split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let value = Int64(parts[1]) else { continue }
            out[String(parts[0].dropLast())] = parts.count > 2 && parts[2] == "kB" ? value * 1024 : value
        }
        return out
    }
}

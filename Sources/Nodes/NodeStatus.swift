import Foundation
import Glibc
import Schema

/// The node's live figures, read from the kernel on each call: memory, swap, load, uptime, kernel,
/// root filesystem and CPU model.
public struct NodeStatus {
    public static func memory() -> (total: Int64, used: Int64, free: Int64, available: Int64) {
        let m = ProcFiles.meminfo()
        let total = m["MemTotal"] ?? 0, free = m["MemFree"] ?? 0
        let available = m["MemAvailable"] ?? free
        return (total, total - available, free, available)
    }

    public static func swap() -> (total: Int64, used: Int64, free: Int64) {
        let m = ProcFiles.meminfo()
        let total = m["SwapTotal"] ?? 0, free = m["SwapFree"] ?? 0
        return (total, total - free, free)
    }

    public static func uptime() -> Int64 {
        guard let text = ProcFiles.read("/proc/uptime"), let first = text.split(separator: " ").first, let v = Double(first) else { return 0 }
        return Int64(v)
    }

    public static func loadavg() -> [String] {
        Array((ProcFiles.read("/proc/loadavg") ?? "0 0 0").split(separator: " ").prefix(3).map(String.init))
    }

    public static func filesystem(_ path: String) -> (total: Int64, used: Int64, free: Int64, avail: Int64) {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return (0, 0, 0, 0) }
        let block = Int64(s.f_frsize)
        let total = Int64(s.f_blocks) * block, free = Int64(s.f_bfree) * block, avail = Int64(s.f_bavail) * block
        return (total, total - free, free, avail)
    }

    public static func kernel() -> (sysname: String, release: String, version: String, machine: String) {
        var u = utsname()
        uname(&u)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return (field(u.sysname), field(u.release), field(u.version), field(u.machine))
    }

    public static func cpuInfo() -> JSON {
        let text = ProcFiles.read("/proc/cpuinfo") ?? ""
        var model = "unknown", mhz = "0", flags = ""
        var cpus = 0
        var sockets = Set<String>()
        var coresPerSocket = 0
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "processor": cpus += 1
            case "model name": model = parts[1]
            case "cpu MHz": mhz = parts[1]
            case "physical id": sockets.insert(parts[1])
            case "cpu cores": coresPerSocket = Int(parts[1]) ?? coresPerSocket
            case "flags": flags = parts[1]
            default: break
            }
        }
        let socketCount = max(1, sockets.count)
        return [
            "model": .string(model), "cpus": JSON(cpus), "sockets": JSON(socketCount),
            "cores": JSON(coresPerSocket > 0 ? coresPerSocket : cpus / socketCount), "mhz": .string(mhz),
            "flags": .string(flags), "hvm": flags.contains("vmx") || flags.contains("svm") ? "1" : "0",
            "user_hz": JSON(Int(sysconf(Int32(_SC_CLK_TCK)))),
        ]
    }

    public static var cpuCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    public static var bootMode: String {
        access("/sys/firmware/efi", F_OK) == 0 ? "efi" : "legacy-bios"
    }

    /// The configured time zone (Debian's /etc/timezone, else the /etc/localtime link).
    public static func timezone() -> String {
        if let text = ProcFiles.read("/etc/timezone")?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty { return text }
        var buffer = [CChar](repeating: 0, count: 512)
        let n = readlink("/etc/localtime", &buffer, buffer.count - 1)
        if n > 0 {
            let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let range = target.range(of: "zoneinfo/") { return String(target[range.upperBound...]) }
        }
        return "UTC"
    }

    /// Seconds east of UTC right now.
    public static func utcOffset(_ t: Int64) -> Int64 {
        var seconds = time_t(t)
        var parts = tm()
        localtime_r(&seconds, &parts)
        return Int64(parts.tm_gmtoff)
    }
}

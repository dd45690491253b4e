import Glibc

/// The on-disk task lists, shared by every process of a node (corrald and the CLIs) under an flock:
/// `active` holds the UPIDs of running tasks, `index` one line per finished task
/// (`UPID ENDTIME-HEX STATUS`), and `<last hex digit of starttime>/<UPID>` each task's log.
struct TaskStore {
    let directory: String

    init(directory: String) throws(TaskError) {
        self.directory = directory
        var prefix = ""
        for part in directory.split(separator: "/").dropLast() {
            prefix += "/" + part
            mkdir(prefix, 0o755)
        }
        for sub in [""] + (0..<16).map({ String($0, radix: 16, uppercase: true) }) {
            let path = sub.isEmpty ? directory : "\(directory)/\(sub)"
            if mkdir(path, 0o755) != 0 && errno != EEXIST {
                throw TaskError(.io, "cannot create \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    func logPath(_ upid: UPID) -> String { "\(directory)/\(upid.logSubdirectory)/\(upid)" }

    /// Runs `body` holding the store's exclusive lock.
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        let fd = open("\(directory)/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd >= 0 { flock(fd, LOCK_EX) }
        defer {
            if fd >= 0 {
                flock(fd, LOCK_UN)
                close(fd)
            }
        }
        return try body()
    }

    func readActive() -> [UPID] {
        readLines("active").compactMap { UPID(String($0.split(separator: " ").first ?? "")) }
    }

    func writeActive(_ upids: [UPID]) {
        writeFile("active", upids.map { "\($0)\n" }.joined())
    }

    func readIndex() -> [TaskRecord] {
        readLines("index").compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
            guard parts.count == 3, let upid = UPID(parts[0]), let end = Int64(parts[1], radix: 16) else { return nil }
            return TaskRecord(upid: upid, endtime: end, exit: TaskExit(statusText: parts[2]))
        }
    }

    func appendIndex(_ record: TaskRecord) {
        let status = (record.exit ?? .error("unknown")).statusText.replacingNewlines()
        let end = String(record.endtime ?? 0, radix: 16, uppercase: true)
        appendFile("index", "\(record.upid) \(end) \(status)\n")
    }

    private func readLines(_ name: String) -> [String] {
        guard let text = readFile("\(directory)/\(name)") else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    private func writeFile(_ name: String, _ text: String) {
        let tmp = "\(directory)/.\(name).tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        rename(tmp, "\(directory)/\(name)")
    }

    private func appendFile(_ name: String, _ text: String) {
        let fd = open("\(directory)/\(name)", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}

/// Reads a whole file, nil when it cannot be opened.
func readFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: out, as: UTF8.self)
}

extension String {
    func replacingNewlines() -> String { split(whereSeparator: \.isNewline).joined(separator: " ") }
}

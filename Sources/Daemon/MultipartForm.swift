import Foundation
import Glibc

/// A multipart/form-data body read from a spooled file without loading it: small fields become
/// text, the one file part is copied to a file of its own (next to where it will end up).
struct MultipartForm {
    var fields: [String: String] = [:]
    var fileName: String?
    var filePath: String?

    enum Failure: Error, CustomStringConvertible {
        case malformed(String)
        var description: String { if case .malformed(let why) = self { return "malformed multipart body: \(why)" }; return "" }
    }

    static func boundary(of contentType: String) -> String? {
        for part in contentType.split(separator: ";") {
            let item = part.trimmingCharacters(in: .whitespaces)
            if item.lowercased().hasPrefix("boundary=") {
                return String(item.dropFirst("boundary=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    /// Parses `path`; the file part goes to a new file in `fileDirectory`.
    static func parse(path: String, boundary: String, fileDirectory: String) throws -> MultipartForm {
        guard let input = FileHandle(forReadingAtPath: path) else { throw Failure.malformed("cannot read the upload") }
        defer { try? input.close() }
        var reader = Reader(handle: input)
        let delimiter = Array("--\(boundary)".utf8)
        let separator = Array("\r\n--\(boundary)".utf8)
        var form = MultipartForm()
        // preamble up to the first delimiter
        guard try reader.skip(past: delimiter) else { throw Failure.malformed("no opening boundary") }
        while true {
            guard let after = try reader.take(2) else { throw Failure.malformed("truncated after a boundary") }
            if after == Array("--".utf8) { break }
            guard after == [13, 10] else { throw Failure.malformed("boundary not followed by CRLF") }
            guard let head = try reader.readHead() else { throw Failure.malformed("part without a head") }
            let disposition = head["content-disposition"] ?? ""
            guard let name = attribute("name", in: disposition) else { throw Failure.malformed("part without a name") }
            if let fileName = attribute("filename", in: disposition) {
                // PVE's name for an upload's temporary file (the upload endpoint's `tmpfilename` pattern)
                let target = fileDirectory + "/pveupload-" + (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
                guard FileManager.default.createFile(atPath: target, contents: nil), let out = FileHandle(forWritingAtPath: target) else {
                    throw Failure.malformed("cannot write into \(fileDirectory)")
                }
                do {
                    try reader.copy(until: separator, to: out)
                    try out.close()
                } catch {
                    unlink(target)
                    throw error
                }
                form.fileName = (fileName as NSString).lastPathComponent
                form.filePath = target
                form.fields[name] = form.fileName
            } else {
                let collector = DataCollector()
                try reader.copy(until: separator, to: collector, limit: 65536)
                form.fields[name] = String(decoding: collector.data, as: UTF8.self)
            }
        }
        return form
    }

    static func attribute(_ key: String, in header: String) -> String? {
        for part in header.split(separator: ";") {
            let item = part.trimmingCharacters(in: .whitespaces)
            if item.hasPrefix(key + "=") {
                return String(item.dropFirst(key.count + 1)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    protocol Sink { func write(_ bytes: ArraySlice<UInt8>) throws }

    final class DataCollector: Sink {
        var data: [UInt8] = []
        func write(_ bytes: ArraySlice<UInt8>) throws { data += bytes }
    }

    /// A forward reader over the file with a window, for boundary searches across chunk edges.
    struct Reader {
        let handle: FileHandle
        var window: [UInt8] = []
        var eof = false

        init(handle: FileHandle) { self.handle = handle }

        mutating func fill(_ atLeast: Int) throws {
            while window.count < atLeast && !eof {
                let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
                if chunk.isEmpty { eof = true } else { window += chunk }
            }
        }

        mutating func take(_ n: Int) throws -> [UInt8]? {
            try fill(n)
            guard window.count >= n else { return nil }
            defer { window.removeFirst(n) }
            return Array(window.prefix(n))
        }

        mutating func skip(past marker: [UInt8]) throws -> Bool {
            while true {
                try fill(marker.count + (1 << 16))
                if let i = Self.find(marker, in: window) {
                    window.removeFirst(i + marker.count)
                    return true
                }
                if eof { return false }
                window.removeFirst(max(0, window.count - marker.count))
            }
        }

        /// Header lines up to the blank line, names lowercased.
        mutating func readHead() throws -> [String: String]? {
            var headers: [String: String] = [:]
            while true {
                try fill(8192)
                guard let end = Self.find([13, 10], in: window) else { return nil }
                let line = String(decoding: window.prefix(end), as: UTF8.self)
                window.removeFirst(end + 2)
                if line.isEmpty { return headers }
                if let colon = line.firstIndex(of: ":") {
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
            }
        }

        /// Copies bytes to `sink` up to `marker` (consumed, not copied).
        mutating func copy(until marker: [UInt8], to sink: Any, limit: Int = .max) throws {
            var copied = 0
            func emit(_ bytes: ArraySlice<UInt8>) throws {
                copied += bytes.count
                if copied > limit { throw Failure.malformed("a form field is too long") }
                if let handle = sink as? FileHandle { try handle.write(contentsOf: bytes) } else if let s = sink as? any Sink { try s.write(bytes) }
            }
            while true {
                try fill(marker.count + (1 << 20))
                if let i = Self.find(marker, in: window) {
                    try emit(window[..<i])
                    window.removeFirst(i + marker.count)
                    return
                }
                if eof { throw Failure.malformed("a part is not closed by its boundary") }
                let keep = marker.count - 1
                let safe = window.count - keep
                if safe > 0 {
                    try emit(window[..<safe])
                    window.removeFirst(safe)
                }
            }
        }

        static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
            guard needle.count <= haystack.count, let first = needle.first else { return nil }
            var i = 0
            let last = haystack.count - needle.count
            return haystack.withUnsafeBufferPointer { h in
                while i <= last {
                    guard let j = h[i...last].firstIndex(of: first) else { return nil }
                    if h[j..<(j + needle.count)].elementsEqual(needle) { return j }
                    i = j + 1
                }
                return nil
            }
        }
    }
}

import Foundation
import TLS

/// A guest's configuration file in PVE's format (`qemu-server/<vmid>.conf`, `lxc/<vmid>.conf`):
/// `key: value` lines, leading `#` lines as the description, a `[PENDING]` section with `delete:`, and
/// one `[name]` section per snapshot. Values stay text here (their typed meaning belongs to the QEMU
/// and LXC models), so keys this build does not know survive a round trip unchanged.
public struct GuestConfig: Equatable, Sendable {
    public struct Section: Equatable, Sendable {
        public var values: [String: String] = [:]
        /// Multi-line text kept as `#` comment lines above the section's keys.
        public var description: String?
        /// A container's raw `lxc.*` lines: a key may repeat (`lxc.idmap`), and order matters, so they
        /// stay a list, written after the other keys.
        public var lxc: [RawLine] = []

        public init(values: [String: String] = [:], description: String? = nil) {
            self.values = values
            self.description = description
        }

        public subscript(key: String) -> String? {
            get { values[key] }
            set { values[key] = newValue }
        }
    }

    public struct RawLine: Equatable, Sendable {
        public var key: String
        public var value: String
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    public var current = Section()
    /// Changes that apply at the next start (PVE's `[PENDING]`).
    public var pending = Section()
    /// Keys to remove at the next start; `force` ones are removed even if still referenced.
    public var pendingDelete: [(key: String, force: Bool)] = []
    /// Snapshot sections by name.
    public var snapshots: [String: Section] = [:]
    /// Sections this build does not interpret (`[special:cloudinit]`), kept verbatim.
    public var special: [String: Section] = [:]

    public init() {}

    public static func == (a: GuestConfig, b: GuestConfig) -> Bool {
        a.current == b.current && a.pending == b.pending && a.snapshots == b.snapshots && a.special == b.special
            && a.pendingDelete.map(\.key) == b.pendingDelete.map(\.key) && a.pendingDelete.map(\.force) == b.pendingDelete.map(\.force)
    }

    public struct ParseError: Error, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Parses a config file. Lines that are neither a key, a comment nor a section header are errors,
    /// as PVE refuses them too; a key given twice keeps the last value.
    public static func parse(_ text: String) throws(ParseError) -> GuestConfig {
        var config = GuestConfig()
        enum Target { case current, pending, snapshot(String), special(String) }
        var target = Target.current
        var description: [String] = []
        var section = Section()

        func flush() {
            if !description.isEmpty { section.description = description.joined(separator: "\n") }
            switch target {
            case .current: config.current = section
            case .pending: config.pending = section
            case .snapshot(let name): config.snapshots[name] = section
            case .special(let name): config.special[name] = section
            }
            section = Section()
            description = []
        }

        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw[...]
            if line.allSatisfy(\.isWhitespace) { continue }
            if line.hasPrefix("#") {
                description.append(decodeComment(String(line.dropFirst())))
                continue
            }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else { throw ParseError(line: index + 1, message: "malformed section header '\(line)'") }
                flush()
                let name = String(line.dropFirst().dropLast())
                if name == "PENDING" {
                    target = .pending
                } else if name.hasPrefix("special:") {
                    target = .special(String(name.dropFirst("special:".count)))
                } else {
                    guard isValidSnapshotName(name) else { throw ParseError(line: index + 1, message: "invalid snapshot name '\(name)'") }
                    target = .snapshot(name)
                }
                continue
            }
            guard let colon = line.firstIndex(of: ":") else {
                throw ParseError(line: index + 1, message: "unable to parse '\(line)'")
            }
            let key = String(line[..<colon])
            guard isValidKey(key) else { throw ParseError(line: index + 1, message: "invalid key '\(key)'") }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if case .pending = target, key == "delete" {
                for item in value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == ";" }) {
                    let force = item.hasPrefix("!")
                    let name = String(force ? item.dropFirst() : item[...])
                    config.pendingDelete.removeAll { $0.key == name }
                    config.pendingDelete.append((name, force))
                }
                continue
            }
            if key.hasPrefix("lxc.") {
                section.lxc.append(RawLine(key: key, value: value))
            } else {
                section.values[key] = value
            }
        }
        flush()
        return config
    }

    /// The file text: description, keys sorted, then `[PENDING]`, `[special:…]` and snapshots by name,
    /// as PVE writes them, so a file PVE wrote reads back and writes out the same.
    public func serialized() -> String {
        var out = ""
        func write(_ section: Section, extra: [(String, String)] = []) {
            if let description = section.description {
                for line in description.split(separator: "\n", omittingEmptySubsequences: false) {
                    out += "#" + Self.encodeComment(String(line)) + "\n"
                }
            }
            let entries = (section.values.map { ($0.key, $0.value) } + extra).sorted { $0.0 < $1.0 }
            for (key, value) in entries { out += "\(key): \(value)\n" }
            for line in section.lxc { out += "\(line.key): \(line.value)\n" }
        }
        write(current)
        if !pending.values.isEmpty || pending.description != nil || !pendingDelete.isEmpty {
            out += "\n[PENDING]\n"
            let delete = pendingDelete.map { ($0.force ? "!" : "") + $0.key }.joined(separator: ",")
            write(pending, extra: delete.isEmpty ? [] : [("delete", delete)])
        }
        for name in special.keys.sorted() {
            out += "\n[special:\(name)]\n"
            write(special[name]!)
        }
        for name in snapshots.keys.sorted() {
            out += "\n[\(name)]\n"
            write(snapshots[name]!)
        }
        return out
    }

    /// PVE's digest: the SHA-1 of the file as stored, in hex.
    public static func digest(of data: [UInt8]) -> String { Digest.sha1Hex(data) }

    public static func isValidKey(_ key: String) -> Bool {
        guard let first = key.unicodeScalars.first, first.properties.isLowercase || first == "_" else { return false }
        return key.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" || $0 == "." }
    }

    /// Snapshot names as PVE allows them: a letter, then letters, digits, `-` and `_`, at most 40.
    public static func isValidSnapshotName(_ name: String) -> Bool {
        guard name.count <= 40, let first = name.unicodeScalars.first, first.properties.isAlphabetic, first.isASCII else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_") }
    }

    // Comments are percent-encoded for control characters, non-ASCII bytes and ':' so that a
    // description can never turn into a key line.
    static func encodeComment(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if byte < 0x20 || byte >= 0x7f || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "%") {
                out += "%" + String(format: "%02X", byte)
            } else {
                out.unicodeScalars.append(UnicodeScalar(byte))
            }
        }
        return out
    }

    static func decodeComment(_ text: String) -> String {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.first {
            if byte == UInt8(ascii: "%"), utf8.count >= 3,
                let value = UInt8(String(decoding: utf8.dropFirst().prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
                utf8 = utf8.dropFirst()
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

import API
import Foundation
import Glibc
import Schema
import TLS

/// The node's own system files, named by the settings: `/etc/resolv.conf` and `/etc/hosts` on a real
/// install, files in the data directory of a test node (which must never touch the machine's).
public struct NodeSystemFiles: Sendable {
    public let resolvConf: String
    public let hosts: String
    /// `/etc/timezone` and `/etc/localtime` (a link into /usr/share/zoneinfo).
    public let timezone: String
    public let localtime: String

    /// Whether this node is the machine's one node (a real install), so it may power the machine off.
    public let ownsMachine: Bool

    public init(
        resolvConf: String, hosts: String, timezone: String = "/etc/timezone", localtime: String = "/etc/localtime", ownsMachine: Bool = false
    ) {
        self.ownsMachine = ownsMachine
        self.resolvConf = resolvConf
        self.hosts = hosts
        self.timezone = timezone
        self.localtime = localtime
    }

    /// The node's time zone: the timezone file, else where localtime links to, else UTC.
    public var currentTimezone: String {
        if let text = try? String(contentsOfFile: timezone, encoding: .utf8) {
            let zone = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !zone.isEmpty { return zone }
        }
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: localtime), let range = target.range(of: "zoneinfo/") {
            return String(target[range.upperBound...])
        }
        return "UTC"
    }
}

/// `/nodes/{node}/dns` and `/nodes/{node}/hosts`: the resolver and the hosts file, as PVE edits them.
enum NodeSystemEndpoints {
    static func all(files: NodeSystemFiles) -> [Endpoint] {
        [
            Endpoint(
                pve: "PUT /nodes/{node}/time", description: "Sets the node's time zone (a zone of /usr/share/zoneinfo).",
                permission: .privileges(path: "/nodes/{node}", ["Sys.Modify"]),
                handler: .blocking { context in
                    let zone = try context.require("timezone")
                    let target = "/usr/share/zoneinfo/" + zone
                    var isDirectory: ObjCBool = false
                    guard !zone.contains(".."), !zone.hasPrefix("/"), FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory),
                        !isDirectory.boolValue
                    else { throw APIError.parameters(["timezone": "unknown time zone '\(zone)'"]) }
                    try write(files.timezone, zone + "\n")
                    // the link is replaced by rename, so nothing ever sees /etc/localtime missing
                    let temp = files.localtime + ".new.\(getpid())"
                    unlink(temp)
                    guard symlink(target, temp) == 0, rename(temp, files.localtime) == 0 else {
                        unlink(temp)
                        throw APIError(500, "cannot link \(files.localtime): \(String(cString: strerror(errno)))")
                    }
                    return .null
                }),
            Endpoint(
                pve: "GET /nodes/{node}/dns", description: "The resolver's search domain and name servers.",
                returns: .object([:], additionalProperties: true), permission: .privileges(path: "/nodes/{node}", ["Sys.Audit"]),
                handler: .blocking { _ in .object(dns(read(files.resolvConf))) }),
            Endpoint(
                pve: "PUT /nodes/{node}/dns", description: "Set the search domain and up to three name servers (other resolver lines are kept).",
                permission: .privileges(path: "/nodes/{node}", ["Sys.Modify"]),
                handler: .blocking { context in
                    let servers = ["dns1", "dns2", "dns3"].compactMap { context.string($0) }
                    try write(files.resolvConf, updatedResolvConf(read(files.resolvConf), search: try context.require("search"), servers: servers))
                    return .null
                }),
            Endpoint(
                pve: "GET /nodes/{node}/hosts", description: "The hosts file, with its digest.",
                returns: .object(["data": .string()], additionalProperties: true), permission: .privileges(path: "/", ["Sys.Audit"]),
                handler: .blocking { _ in
                    let text = read(files.hosts)
                    return ["data": .string(text), "digest": .string(Digest.sha1Hex(Array(text.utf8)))]
                }),
            Endpoint(
                pve: "POST /nodes/{node}/hosts", description: "Replace the hosts file (refused if it changed since `digest`).",
                permission: .privileges(path: "/nodes/{node}", ["Sys.Modify"]),
                handler: .blocking { context in
                    if let digest = context.string("digest"), digest != Digest.sha1Hex(Array(read(files.hosts).utf8)) {
                        throw APIError(500, "detected modified configuration - file changed by other user? Try again.")
                    }
                    var text = try context.require("data")
                    if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
                    try write(files.hosts, text)
                    return .null
                }),
        ]
    }

    static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// Written to a temporary name and renamed over the file, so readers (the resolver) never see half of it.
    static func write(_ path: String, _ text: String) throws {
        let temp = path + ".corral-new"
        do {
            try text.write(toFile: temp, atomically: false, encoding: .utf8)
            guard rename(temp, path) == 0 else { throw APIError(500, "cannot replace \(path): \(String(cString: strerror(errno)))") }
        } catch let error as APIError {
            unlink(temp)
            throw error
        } catch {
            unlink(temp)
            throw APIError(500, "cannot write \(path): \(error)")
        }
    }

    /// `search` (the first `search` or `domain` line) and `dns1`–`dns3` (the `nameserver` lines).
    static func dns(_ text: String) -> [String: JSON] {
        var out: [String: JSON] = [:]
        var servers = 0
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let first = words.first else { continue }
            if (first == "search" || first == "domain"), out["search"] == nil, words.count > 1 {
                out["search"] = .string(words.dropFirst().joined(separator: " "))
            } else if first == "nameserver", words.count > 1, servers < 3 {
                servers += 1
                out["dns\(servers)"] = .string(words[1])
            }
        }
        return out
    }

    /// The resolver file with its search and name servers replaced; comments and options stay.
    static func updatedResolvConf(_ text: String, search: String, servers: [String]) -> String {
        let kept = text.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
            let first = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first
            return first != "search" && first != "domain" && first != "nameserver"
        }.map(String.init)
        let rest = kept.joined(separator: "\n").trimmingCharacters(in: .newlines)
        return "search \(search)\n" + servers.map { "nameserver \($0)\n" }.joined() + (rest.isEmpty ? "" : rest + "\n")
    }
}

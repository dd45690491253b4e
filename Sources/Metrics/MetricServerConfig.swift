import API
import ClusterFS
import Foundation
import Schema
import TLS

/// The external metric servers of `/etc/pve/status.cfg` (PVE's format: `graphite: id` and
/// `influxdb: id` sections), cluster-wide. A server's token never goes into the file: it lives in
/// `priv/metricserver/<id>.pw`, readable by root only, as PVE keeps it.
public struct MetricServerConfig: Sendable {
    public static let file = "status.cfg"
    static let tokenDirectory = "priv/metricserver"
    /// The cluster lock every change of the file is made under.
    static let lock = "metricserver"

    let tree: any ConfigTree

    public init(tree: any ConfigTree) { self.tree = tree }

    /// One server as the sender needs it, defaults filled in.
    public struct Server: Sendable, Equatable {
        public var id: String
        public var type: String
        public var server: String
        public var port: Int
        public var mtu: Int
        public var timeout: Double
        /// graphite: `udp` or `tcp`; influxdb: `udp`, `http` or `https`.
        public var proto: String
        public var path: String
        public var organization: String
        public var bucket: String
        public var token: String?
        public var apiPathPrefix: String
        public var maxBodySize: Int
        public var verifyCertificate: Bool

        init(_ section: SectionConfig.Section, token: String?) {
            id = section.id
            type = section.type
            server = section["server"] ?? ""
            port = Int(section["port"] ?? "") ?? (section.type == "graphite" ? 2003 : 8089)
            mtu = Int(section["mtu"] ?? "") ?? 1500
            timeout = Double(section["timeout"] ?? "") ?? 1
            proto = section.type == "graphite" ? section["proto"] ?? "udp" : section["influxdbproto"] ?? "udp"
            path = section["path"] ?? "proxmox"
            organization = section["organization"] ?? "proxmox"
            bucket = section["bucket"] ?? "proxmox"
            self.token = token
            // PVE's rule: nothing or "/" is the root, anything else gets one leading and one trailing slash
            let prefix = section["api-path-prefix"] ?? ""
            let bare = String(prefix.drop { $0 == "/" })
            apiPathPrefix = bare.isEmpty ? "/" : "/\(bare)/"
            maxBodySize = Int(section["max-body-size"] ?? "") ?? 25_000_000
            verifyCertificate = section["verify-certificate"].map { $0 != "0" } ?? true
        }
    }

    /// What each section type may hold (PVE's plugin properties, OpenTelemetry left out: Corral
    /// does not send it).
    static let schema: SectionConfigSchema = {
        let shared: [String: Schema] = [
            "server": .string(format: "address"), "port": .integer(minimum: 1, maximum: 65536),
            "mtu": .integer(minimum: 512, maximum: 65536).optional(), "disable": .boolean().optional(),
            "timeout": .integer(minimum: 0).optional(),
        ]
        let graphite: [String: Schema] = [
            "path": .string(format: "graphite-path").optional(), "proto": .string(enum: ["udp", "tcp"]).optional(),
        ]
        let influx: [String: Schema] = [
            "influxdbproto": .string(enum: ["udp", "http", "https"]).optional(), "organization": .string().optional(),
            "bucket": .string().optional(), "api-path-prefix": .string().optional(),
            "max-body-size": .integer(minimum: 1).optional(), "verify-certificate": .boolean().optional(),
        ]
        var graphiteAll = shared.merging(graphite) { a, _ in a }
        graphiteAll["port"] = graphiteAll["port"]!.optional()
        return SectionConfigSchema(
            file: file, id: .string(format: "pve-configid"),
            types: ["graphite": graphiteAll, "influxdb": shared.merging(influx) { a, _ in a }])
    }()

    func text() -> String { (try? tree.readString(Self.file)) ?? "" }

    public func load() throws -> SectionConfig {
        do { return try SectionConfig.parse(text(), file: Self.file) } catch { throw APIError(500, "cannot parse \(Self.file): \(error)") }
    }

    /// The servers the sender uses: enabled ones of known types (a section of another version's
    /// type is left alone, as PVE skips it).
    public func enabled() -> [Server] {
        guard let config = try? load() else { return [] }
        return config.sections.filter { Self.schema.types[$0.type] != nil && $0["disable"] != "1" }.map {
            Server($0, token: token($0.id))
        }
    }

    func server(_ id: String) throws -> Server {
        guard let section = try load()[id] else { throw APIError(500, "status server entry '\(id)' does not exist") }
        return Server(section, token: token(id))
    }

    func tokenPath(_ id: String) -> String { "\(Self.tokenDirectory)/\(id).pw" }

    func token(_ id: String) -> String? {
        guard let text = try? tree.readString(tokenPath(id)), !text.isEmpty else { return nil }
        return text
    }

    func setToken(_ id: String, _ token: String?) throws {
        if let token {
            if !tree.exists(Self.tokenDirectory) { try? tree.mkdir(Self.tokenDirectory) }
            try tree.write(tokenPath(id), Array(token.utf8))
        } else if tree.exists(tokenPath(id)) {
            try tree.delete(tokenPath(id))
        }
    }

    static func digest(_ text: String) -> String { SectionConfigFile.digest(text) }

    /// Loads, changes and writes the file under the cluster lock; a stale `digest` is refused.
    func modify(digest: String?, _ change: (inout SectionConfig) throws -> Void) throws {
        try SectionConfigFile(tree: tree, path: Self.file, lock: Self.lock).modify(digest: digest, change)
    }

    /// A section in PVE's writer order: `disable` first, then the type's required options, then the
    /// others by name; booleans as 1/0 and `disable` only when set.
    static func ordered(_ section: SectionConfig.Section) -> SectionConfig.Section {
        var out = SectionConfig.Section(type: section.type, id: section.id, comments: section.comments)
        let values = section.values
        if values["disable"] == "1" { out.options.append(.init("disable", nil)) }
        let required = section.type == "graphite" ? ["server"] : ["port", "server"]
        for key in required { if let value = values[key] { out.options.append(.init(key, value)) } }
        for key in values.keys.sorted() where key != "disable" && !required.contains(key) && !(values[key] ?? "").isEmpty {
            out.options.append(.init(key, values[key]))
        }
        return out
    }
}

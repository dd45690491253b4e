import API
import Foundation
import Schema

/// `/cluster/metrics/server`: PVE's external metric server entries of `status.cfg`. A change is
/// checked against the type's options and, unless the entry is disabled, tested against the server
/// (as PVE does) before it is stored; a failed create leaves neither the entry nor its token.
enum MetricServerEndpoints {
    static let audit = Permission.privileges(path: "/", ["Sys.Audit"])
    static let modify = Permission.privileges(path: "/", ["Sys.Modify"])
    /// Parameters that are no options of the section.
    static let bookkeeping: Set<String> = ["id", "type", "digest", "delete", "token"]
    static let integers: Set<String> = ["port", "mtu", "timeout", "max-body-size", "disable", "verify-certificate"]

    static func all(_ config: MetricServerConfig) -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /cluster/metrics/server", description: "The external metric servers.",
                returns: .array(of: .object(["id": .string()], additionalProperties: true)), permission: audit, childKey: "id",
                handler: .blocking { _ in
                    .array(
                        try config.load().sections.sorted { $0.id < $1.id }.map { section in
                            .object([
                                "id": .string(section.id), "type": .string(section.type), "server": .string(section["server"] ?? ""),
                                "port": .int(Int64(section["port"] ?? "") ?? 0), "disable": .int(section["disable"] == "1" ? 1 : 0),
                            ])
                        })
                }),
            Endpoint(
                pve: "GET /cluster/metrics/server/{id}", description: "One metric server's options (its token never shows).",
                returns: .object([:], additionalProperties: true), permission: audit,
                handler: .blocking { context in
                    let id = try context.require("id")
                    guard let section = try config.load()[id] else { throw APIError(500, "status server entry '\(id)' does not exist") }
                    var row: [String: JSON] = ["type": .string(section.type)]
                    for (key, value) in section.values {
                        row[key] = integers.contains(key) ? Int64(value).map { .int($0) } ?? .string(value) : .string(value)
                    }
                    return .object(row)
                }),
            Endpoint(
                pve: "POST /cluster/metrics/server/{id}", description: "Adds a metric server (tested first unless disabled).",
                permission: modify,
                handler: .blocking { context in
                    let id = try context.require("id")
                    let type = try context.require("type")
                    guard MetricServerConfig.schema.types[type] != nil else {
                        throw APIError.parameters(["type": "Corral sends to 'graphite' and 'influxdb' servers, not '\(type)'"])
                    }
                    var section = SectionConfig.Section(type: type, id: id)
                    set(context, on: &section)
                    try check(section)
                    let token = context.string("token")
                    try test(section, token: token)
                    try config.modify(digest: nil) { file in
                        guard file[id] == nil else { throw APIError(500, "Metric server '\(id)' already exists") }
                        try config.setToken(id, token)
                        file[id] = MetricServerConfig.ordered(section)
                    }
                    return .null
                }),
            Endpoint(
                pve: "PUT /cluster/metrics/server/{id}", description: "Changes a metric server (tested first unless disabled).",
                permission: modify,
                handler: .blocking { context in
                    let id = try context.require("id")
                    let deleted = Formats.splitList(context.string("delete") ?? "")
                    var errors: [String: String] = [:]
                    for key in deleted {
                        if context.parameters[key] != nil { errors[key] = "cannot set and delete '\(key)' at once" }
                        if ["server", "port"].contains(key) { errors[key] = "unable to delete required option '\(key)'" }
                    }
                    if !errors.isEmpty { throw APIError.parameters(errors) }
                    try config.modify(digest: context.string("digest")) { file in
                        guard var section = file[id] else { throw APIError(500, "status server entry '\(id)' does not exist") }
                        for key in deleted where key != "token" { section[key] = nil }
                        set(context, on: &section)
                        try check(section)
                        let token = deleted.contains("token") ? nil : context.string("token") ?? config.token(id)
                        try test(section, token: token)
                        if deleted.contains("token") || context.string("token") != nil { try config.setToken(id, token) }
                        file[id] = MetricServerConfig.ordered(section)
                    }
                    return .null
                }),
            Endpoint(
                pve: "DELETE /cluster/metrics/server/{id}", description: "Removes a metric server and its token.", permission: modify,
                handler: .blocking { context in
                    let id = try context.require("id")
                    try config.modify(digest: nil) { file in
                        guard file[id] != nil else { throw APIError(500, "status server entry '\(id)' does not exist") }
                        file[id] = nil
                        try config.setToken(id, nil)
                    }
                    return .null
                }),
        ]
    }

    /// The call's options on the section; false flags other than `disable` are kept as 0.
    static func set(_ context: RequestContext, on section: inout SectionConfig.Section) {
        for (key, value) in context.parameters.sorted(by: { $0.key < $1.key }) where !bookkeeping.contains(key) {
            let text = value.plainText
            section[key] = key == "disable" && text == "0" ? nil : text
        }
    }

    static func check(_ section: SectionConfig.Section) throws {
        let errors = MetricServerConfig.schema.check(section)
        if !errors.isEmpty { throw APIError.parameters(errors) }
    }

    /// PVE's connection test, skipped for a disabled entry.
    static func test(_ section: SectionConfig.Section, token: String?) throws {
        guard section["disable"] != "1" else { return }
        do {
            try MetricSender(server: MetricServerConfig.Server(section, token: token)).test()
        } catch {
            throw APIError(500, "connection to metric server '\(section.id)' failed: \(error)")
        }
    }
}

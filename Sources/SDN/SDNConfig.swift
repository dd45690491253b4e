import API
import ClusterFS
import Foundation
import Schema

/// The SDN configuration as PVE keeps it: `sdn/zones.cfg`, `sdn/vnets.cfg`, `sdn/subnets.cfg`,
/// `sdn/ipams.cfg` (section-config files, edited by the API and pending until applied) and
/// `sdn/.running-config` (JSON, what `PUT /cluster/sdn` last applied; every node builds its
/// networks from it).
public struct SDNConfig: Equatable, Sendable {
    public static let kinds = ["zones", "vnets", "subnets", "controllers", "ipams"]

    /// Objects per kind, by id; values as the files hold them (`dhcp-range` may repeat).
    public var objects: [String: [String: SDNObject]] = [:]
    public var version: Int = 0

    public init(objects: [String: [String: SDNObject]] = [:], version: Int = 0) {
        self.objects = objects
        self.version = version
    }

    public var zones: [String: SDNObject] { objects["zones"] ?? [:] }
    public var vnets: [String: SDNObject] { objects["vnets"] ?? [:] }
    public var subnets: [String: SDNObject] { objects["subnets"] ?? [:] }

    /// The pending configuration, from the section-config files.
    public static func load(tree: any ConfigTree) throws -> SDNConfig {
        var config = SDNConfig()
        for kind in kinds {
            let text = (try? tree.readString("sdn/\(kind).cfg")) ?? ""
            let file: SectionConfig
            do { file = try SectionConfig.parse(text, file: "sdn/\(kind).cfg") } catch { throw APIError(500, "\(error)") }
            var objects: [String: SDNObject] = [:]
            for section in file.sections { objects[section.id] = SDNObject(section) }
            config.objects[kind] = objects
        }
        config.version = Int(((try? tree.readString("sdn/.version")) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        if config.objects["ipams"]?.isEmpty ?? true { config.objects["ipams"] = ["pve": SDNObject(type: "pve")] }
        return config
    }

    /// What was last applied (empty before the first apply).
    public static func running(tree: any ConfigTree) -> SDNConfig {
        guard let data = try? tree.read("sdn/.running-config"), let json = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any]
        else { return SDNConfig() }
        var config = SDNConfig(version: (json["version"] as? Int) ?? 0)
        for kind in kinds {
            let ids = (json[kind] as? [String: Any])?["ids"] as? [String: Any] ?? [:]
            var objects: [String: SDNObject] = [:]
            for (id, raw) in ids {
                guard let values = raw as? [String: Any] else { continue }
                var object = SDNObject(type: values["type"] as? String ?? "")
                for (key, value) in values where key != "type" {
                    if let list = value as? [Any] {
                        object.lists[key] = list.map { "\($0)" }
                    } else {
                        object.values[key] = "\(value)"
                    }
                }
                objects[id] = object
            }
            config.objects[kind] = objects
        }
        return config
    }

    /// `.running-config`'s text: PVE's layout (`{kind: {ids: {id: {type, …}}}, version}`).
    public func runningText() -> String {
        var out: [String: Any] = ["version": version]
        for kind in Self.kinds {
            var ids: [String: Any] = [:]
            for (id, object) in objects[kind] ?? [:] {
                var values: [String: Any] = ["type": object.type]
                for (key, value) in object.values { values[key] = Int(value).map { $0 as Any } ?? value }
                for (key, list) in object.lists { values[key] = list }
                ids[id] = values
            }
            out[kind] = ["ids": ids]
        }
        let data = (try? JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes one kind's file (ids sorted, as PVE writes them) and bumps `.version`.
    public static func write(_ kind: String, _ objects: [String: SDNObject], tree: any ConfigTree) throws {
        if !tree.exists("sdn") { try? tree.mkdir("sdn") }
        let old = (try? SectionConfig.parse((try? tree.readString("sdn/\(kind).cfg")) ?? "", file: kind)) ?? SectionConfig()
        var file = SectionConfig()
        for id in objects.keys.sorted() {
            let object = objects[id]!
            // an unchanged section keeps its option order and comments
            if let section = old[id], SDNObject(section) == object {
                file.sections.append(section)
            } else {
                file.sections.append(object.section(id: id))
            }
        }
        try tree.write("sdn/\(kind).cfg", Array(file.serialized().utf8))
        let version = (Int(((try? tree.readString("sdn/.version")) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) + 1
        try tree.write("sdn/.version", Array("\(version)\n".utf8))
    }
}

/// One zone, vnet, subnet, controller or IPAM: its type and options. Repeatable options
/// (`dhcp-range`) are lists.
public struct SDNObject: Equatable, Sendable {
    public static let repeatable: Set<String> = ["dhcp-range"]
    public var type: String
    public var values: [String: String] = [:]
    public var lists: [String: [String]] = [:]

    public init(type: String, values: [String: String] = [:], lists: [String: [String]] = [:]) {
        self.type = type
        self.values = values
        self.lists = lists
    }

    init(_ section: SectionConfig.Section) {
        type = section.type
        for option in section.options {
            if Self.repeatable.contains(option.key) {
                lists[option.key, default: []].append(option.value ?? "")
            } else {
                values[option.key] = option.value ?? "1"
            }
        }
    }

    func section(id: String) -> SectionConfig.Section {
        var options = values.keys.sorted().map { SectionConfig.Section.Option($0, values[$0]) }
        for key in lists.keys.sorted() { options += lists[key]!.map { SectionConfig.Section.Option(key, $0) } }
        return SectionConfig.Section(type: type, id: id, options: options)
    }

    public subscript(key: String) -> String? { values[key] }

    /// The object as the API shows it: numbers as numbers, repeatable options as arrays.
    public func json(id idKey: String, _ id: String) -> [String: JSON] {
        var out: [String: JSON] = [idKey: .string(id), "type": .string(type)]
        for (key, value) in values { out[key] = Int64(value).map(JSON.int) ?? .string(value) }
        for (key, list) in lists { out[key] = .array(list.map { .string($0) }) }
        return out
    }

    /// `dhcp-range` entries as (start, end).
    public var dhcpRanges: [(start: String, end: String)] {
        (lists["dhcp-range"] ?? []).compactMap { text in
            var fields: [String: String] = [:]
            for part in text.split(separator: ",") {
                let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
                if kv.count == 2 { fields[kv[0]] = kv[1] }
            }
            guard let start = fields["start-address"], let end = fields["end-address"] else { return nil }
            return (start, end)
        }
    }

    public var flag: (String) -> Bool { { ["1", "true", "yes", "on"].contains(self.values[$0] ?? "0") } }
}

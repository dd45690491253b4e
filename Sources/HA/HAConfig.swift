import Schema

/// PVE's HA files read into the managers' resources: `ha/resources.cfg` (`vm: 100`, `ct: 101` with
/// state, max_restart, max_relocate, group, failback), `ha/groups.cfg` (`group: name` with
/// `nodes n1:2,n2`, restricted, nofailback) and PVE 9's `ha/rules.cfg` (`node-affinity: name` with
/// resources, nodes, strict, disable). A node-affinity rule wins over a resource's group, as PVE 9
/// turns groups into rules. Resource-affinity rules (`affinity positive|negative`) keep services on
/// one node or on different ones.
public enum HAConfig {
    /// `n1:2,n2` → [n1: 2, n2: 0]
    public static func priorities(_ text: String?) -> [String: Int] {
        var out: [String: Int] = [:]
        for item in (text ?? "").split(whereSeparator: { $0 == "," || $0 == " " || $0 == ";" }) {
            let parts = item.split(separator: ":", maxSplits: 1)
            out[String(parts[0])] = parts.count == 2 ? Int(parts[1]) ?? 0 : 0
        }
        return out
    }

    static func flag(_ value: String?, _ fallback: Bool) -> Bool { value.map { $0 == "1" } ?? fallback }

    public static func resources(resources: String, groups: String = "", rules: String = "") throws -> [String: HAResource] {
        let resourceFile = try SectionConfig.parse(resources, file: "ha/resources.cfg")
        let groupFile = try SectionConfig.parse(groups, file: "ha/groups.cfg")
        let ruleFile = try SectionConfig.parse(rules, file: "ha/rules.cfg")
        var out: [String: HAResource] = [:]
        for section in resourceFile.sections where ["vm", "ct"].contains(section.type) {
            let sid = "\(section.type):\(section.id)"
            var resource = HAResource(
                sid: sid, state: section["state"] ?? "started", maxRestart: Int(section["max_restart"] ?? "") ?? 1,
                maxRelocate: Int(section["max_relocate"] ?? "") ?? 1, failback: flag(section["failback"], true))
            if let name = section["group"], let group = groupFile[name], group.type == "group" {
                resource.nodes = priorities(group["nodes"])
                resource.strict = flag(group["restricted"], false)
                resource.failback = resource.failback && !flag(group["nofailback"], false)
            }
            out[sid] = resource
        }
        for rule in ruleFile.sections where rule.type == "node-affinity" && !flag(rule["disable"], false) {
            for sid in (rule["resources"] ?? "").split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init) where out[sid] != nil {
                out[sid]!.nodes = priorities(rule["nodes"])
                out[sid]!.strict = flag(rule["strict"], false)
            }
        }
        for rule in ruleFile.sections where rule.type == "resource-affinity" && !flag(rule["disable"], false) {
            let members = (rule["resources"] ?? "").split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init).filter { out[$0] != nil }
            for sid in members {
                let others = members.filter { $0 != sid }
                if rule["affinity"] == "negative" { out[sid]!.apart += others } else { out[sid]!.together += others }
            }
        }
        return out
    }
}

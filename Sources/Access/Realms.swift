/// A realm of `domains.cfg`. `pam` and `pve` always exist; other types (LDAP, AD, OpenID) are kept
/// when read but cannot be logged into yet.
public struct Realm: Equatable, Sendable {
    public var id: String
    public var type: String
    public var options: [String: String] = [:]

    public var comment: String? { options["comment"] }
    public var isDefault: Bool { options["default"] == "1" }

    /// Parses PVE's section-config text: `type: id` headers, then indented `key value` lines.
    public static func parse(_ text: String) -> [Realm] {
        var realms: [Realm] = []
        var current: Realm?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.trimmed(" \t").isEmpty || line.hasPrefix("#") {
                if let c = current { realms.append(c) }
                current = nil
                continue
            }
            if line.first == " " || line.first == "\t" {
                let body = line.trimmed(" \t")
                let key = body.prefix { !$0.isWhitespace }
                let value = body.dropFirst(key.count).trimmed(" \t")
                current?.options[String(key)] = value.isEmpty ? "1" : UserConfig.decodeText(value)
                continue
            }
            if let c = current { realms.append(c) }
            current = nil
            guard let colon = line.firstIndex(of: ":") else { continue }
            let type = line[..<colon].trimmed(" \t").lowercased()
            let id = line[line.index(after: colon)...].trimmed(" \t")
            if UserConfig.isRealm(id) { current = Realm(id: id, type: type) }
        }
        if let c = current { realms.append(c) }
        var byID: [String: Realm] = [:]
        for realm in realms where byID[realm.id] == nil { byID[realm.id] = realm }
        // the two built-in realms always exist, with their types forced
        byID["pam", default: Realm(id: "pam", type: "pam", options: ["comment": "Linux PAM standard authentication"])].type = "pam"
        byID["pve", default: Realm(id: "pve", type: "pve", options: ["comment": "Corral authentication server"])].type = "pve"
        return byID.values.sorted { $0.id < $1.id }
    }
}

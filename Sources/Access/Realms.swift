import Schema

/// A realm of `domains.cfg`. `pam` and `pve` always exist; other types (LDAP, AD, OpenID) are kept
/// when read but cannot be logged into yet.
public struct Realm: Equatable, Sendable {
    public var id: String
    public var type: String
    public var options: [String: String] = [:]

    public var comment: String? { options["comment"] }
    public var isDefault: Bool { options["default"] == "1" }

    /// Reads `domains.cfg` through the one section-config parser. A file that cannot be read leaves
    /// the two built-in realms, so root@pam can always log in to mend it.
    public static func parse(_ text: String) -> [Realm] {
        let sections = (try? SectionConfig.parse(text, file: "domains.cfg"))?.sections ?? []
        let realms = sections.filter { UserConfig.isRealm($0.id) }.map { section in
            Realm(id: section.id, type: section.type.lowercased(), options: section.values.mapValues { UserConfig.decodeText($0) })
        }
        var byID: [String: Realm] = [:]
        for realm in realms where byID[realm.id] == nil { byID[realm.id] = realm }
        // the two built-in realms always exist, with their types forced
        byID["pam", default: Realm(id: "pam", type: "pam", options: ["comment": "Linux PAM standard authentication"])].type = "pam"
        byID["pve", default: Realm(id: "pve", type: "pve", options: ["comment": "Corral authentication server"])].type = "pve"
        return byID.values.sorted { $0.id < $1.id }
    }
}

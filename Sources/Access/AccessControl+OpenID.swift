import Foundation

extension AccessControl {
    /// A finished OpenID login: the user ID `<claim>@<realm>` (the realm's `username-claim`, by
    /// default the subject), created in user.cfg when the realm has `autocreate`, and its groups
    /// from `groups-claim` (as `<group>-<realm>`; made with `groups-autocreate`, the user's other
    /// groups of the realm dropped with `groups-overwrite`). Blocking.
    /// Every failure is `authentication failure` to the caller, as PVE answers; why goes to the log.
    public func openIDLogin(state: String, code: String, redirect: String) throws(AccessError) -> String {
        do {
            return try openIDUser(state: state, code: code, redirect: redirect)
        } catch {
            Self.log("openid login: \(error.message)")
            throw AccessError.authenticationFailure
        }
    }

    func openIDUser(state: String, code: String, redirect: String) throws(AccessError) -> String {
        let realm: Realm, claims: [String: Any]
        do { (realm, claims) = try openID.claims(state: state, code: code, redirect: redirect, realms: realms, now: now) } catch {
            throw AccessError(401, "\(error)")
        }
        let o = realm.options
        let claimName = o["username-claim"].flatMap { $0.isEmpty ? nil : $0 } ?? "sub"
        // PVE's older names for the two usual claims still work
        let fallback = ["subject": "sub", "username": "preferred_username"][claimName]
        guard let name = Self.claimText(claims[claimName]) ?? fallback.flatMap({ Self.claimText(claims[$0]) }), !name.isEmpty else {
            throw AccessError(401, "missing configured claim '\(claimName)' in returned info object")
        }
        let user = "\(name)@\(realm.id)"
        guard UserConfig.isUserID(user), !user.contains(":"), !name.contains(where: { $0.isWhitespace || $0 == "/" }) else {
            throw AccessError(401, "value '\(user)' does not look like a valid user name")
        }
        // a groups claim that is missing or not a list leaves the user's groups alone (PVE logs it)
        let groups = o["groups-claim"].flatMap { claims[$0] as? [Any] }?.compactMap(Self.claimText)
        if let claim = o["groups-claim"], groups == nil { Self.log("openid login of \(user): groups claim '\(claim)' missing or not a list") }
        do {
            try updateUserConfig { config in
                if config.users[user] == nil {
                    guard o["autocreate"] == "1" else { throw AccessError(401, "no such user ('\(user)')") }
                    var entry = UserConfig.User(id: user)
                    entry.email = Self.claimText(claims["email"]) ?? ""
                    entry.firstname = Self.claimText(claims["given_name"]) ?? ""
                    entry.lastname = Self.claimText(claims["family_name"]) ?? ""
                    config.users[user] = entry
                }
                guard let groups else { return }
                let wanted = Set(
                    groups.map { "\($0)-\(realm.id)" }.filter { id in
                        id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".-_".contains($0)) }
                    })
                if o["groups-overwrite"] == "1" {
                    for id in config.groups.keys where id.hasSuffix("-\(realm.id)") && !wanted.contains(id) {
                        config.groups[id]?.members.removeAll { $0 == user }
                    }
                }
                for id in wanted.sorted() {
                    if config.groups[id] == nil {
                        guard o["groups-autocreate"] == "1" else { continue }
                        config.groups[id] = UserConfig.Group(id: id)
                    }
                    if config.groups[id]?.members.contains(user) == false { config.groups[id]?.members.append(user) }
                }
            }
        } catch let error as AccessError {
            throw error
        } catch {
            throw AccessError(500, "cannot update user.cfg: \(error)")
        }
        try checkUsable(user, userConfig)
        return user
    }

    static func claimText(_ value: Any?) -> String? {
        switch value {
        case let text as String: text
        case let number as NSNumber: number.stringValue
        default: nil
        }
    }
}

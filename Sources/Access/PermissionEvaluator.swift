import Synchronization

/// Who is asking: a user, or one of a user's API tokens.
public enum Identity: Equatable, Hashable, Sendable {
    case user(String)
    case token(user: String, id: String)  // id is the full `user@realm!name`

    public var user: String {
        switch self {
        case .user(let u): u
        case .token(let u, _): u
        }
    }

    public var name: String {
        switch self {
        case .user(let u): u
        case .token(_, let id): id
        }
    }

    public init?(_ text: String) {
        if let bang = text.firstIndex(of: "!") {
            self = .token(user: String(text[..<bang]), id: text)
        } else {
            self = .user(text)
        }
    }
}

/// PVE's ACL rules over a UserConfig:
/// - the path is walked from `/` down; at each node an identity's own entries (propagating ones,
///   or any at the target) replace everything inherited; for a user, its user entries win over
///   its groups' entries at the same node, which are unioned;
/// - NoAccess anywhere in the result means no privileges;
/// - a pool's roles also apply to the exact `/vms/<id>` and `/storage/<id>` of its members;
/// - root@pam has every privilege; a privilege-separated token gets the intersection of its own
///   privileges and its user's.
public struct PermissionEvaluator: Sendable {
    /// Everything in one object: every API call takes the evaluator, and copying it is then one
    /// reference, not one per table.
    let tables: Tables

    public var config: UserConfig { tables.config }
    private var entriesByPath: [String: [UserConfig.ACLEntry]] { tables.entriesByPath }
    private var roleTable: [String: Set<String>] { tables.roleTable }
    private var memo: RolesMemo { tables.memo }

    final class Tables: Sendable {
        let config: UserConfig
        let entriesByPath: [String: [UserConfig.ACLEntry]]
        let roleTable: [String: Set<String>]
        /// Roles already worked out, by identity and path: the evaluator lives as long as its user.cfg,
        /// and lists ask the same thousand paths on every request.
        let memo = RolesMemo()

        init(_ config: UserConfig) {
            self.config = config
            entriesByPath = Dictionary(grouping: config.acl, by: \.path)
            roleTable = config.roles
        }
    }

    public init(_ config: UserConfig) { tables = Tables(config) }

    /// The roles `ugidSet` has on `path` by the ACL tree alone (no pools), with their propagate flags.
    private func aclRoles(_ identity: Identity, _ path: String) -> [String: Bool] {
        let parts = UserConfig.pathComponents(path)
        var result: [String: Bool] = [:]
        let groups = Set(config.groups(of: identity.user).map { "@" + $0 })
        for depth in 0...parts.count {
            let node = "/" + parts.prefix(depth).joined(separator: "/")
            let isTarget = depth == parts.count
            let entries = (entriesByPath[node] ?? []).filter { $0.propagate || isTarget }
            func roles(_ match: (String) -> Bool) -> [String: Bool] {
                var out: [String: Bool] = [:]
                for e in entries where match(e.ugid) { out[e.role] = (out[e.role] ?? false) || e.propagate }
                return out
            }
            switch identity {
            case .token(_, let id):
                let own = roles { $0 == id }
                if !own.isEmpty { result = own }
            case .user(let user):
                let own = roles { $0 == user }
                if !own.isEmpty {
                    result = own
                    continue
                }
                let fromGroups = roles { groups.contains($0) }
                if !fromGroups.isEmpty { result = fromGroups }
            }
        }
        if result["NoAccess"] != nil { return ["NoAccess": result["NoAccess"]!] }
        return result
    }

    /// Roles on `path`, pools included.
    public func roles(_ identity: Identity, on path: String) -> [String: Bool] {
        let key = "\(identity.name)\u{0}\(path)"
        if let known = memo.roles.withLock({ $0[key] }) { return known }
        let result = computeRoles(identity, on: path)
        memo.roles.withLock { roles in
            if roles.count > 100_000 { roles.removeAll() }
            roles[key] = result
        }
        return result
    }

    private func computeRoles(_ identity: Identity, on path: String) -> [String: Bool] {
        var result = aclRoles(identity, path)
        let parts = UserConfig.pathComponents(path)
        guard parts.count == 2, result["NoAccess"] == nil else { return result }
        for pool in config.pools.values {
            let member =
                (parts[0] == "vms" && pool.vms.contains { String($0) == parts[1] }) || (parts[0] == "storage" && pool.storage.contains(parts[1]))
            guard member else { continue }
            let poolRoles = aclRoles(identity, "/pool/" + pool.id)
            if poolRoles["NoAccess"] != nil { return ["NoAccess": false] }
            for role in poolRoles.keys where result[role] == nil { result[role] = false }
        }
        return result
    }

    private func privilegesByACL(_ identity: Identity, on path: String) -> Set<String> {
        var out = Set<String>()
        for role in roles(identity, on: path).keys { out.formUnion(roleTable[role] ?? []) }
        return out
    }

    /// The effective privileges of `identity` on `path`.
    public func privileges(_ identity: Identity, on path: String) -> Set<String> {
        switch identity {
        case .user(let user):
            return user == "root@pam" ? Privileges.allSet : privilegesByACL(identity, on: path)
        case .token(let user, let id):
            let privsep = config.tokens[id]?.privsep ?? true
            if !privsep { return user == "root@pam" ? Privileges.allSet : privilegesByACL(.user(user), on: path) }
            let own = privilegesByACL(identity, on: path)
            // root@pam's separated tokens have exactly their own ACLs
            return user == "root@pam" ? own : own.intersection(privilegesByACL(.user(user), on: path))
        }
    }

    public func has(_ identity: Identity, _ privileges: [String], on path: String, any: Bool = false) -> Bool {
        let grants: (String) -> Bool
        if case .user(let user) = identity, user != "root@pam" {
            // a user's roles asked once, each privilege looked up in them: building the union of an
            // Administrator's privileges for every row of a thousand-guest list was most of the list
            let roles = Array(roles(identity, on: path).keys)
            grants = { privilege in roles.contains { roleTable[$0]?.contains(privilege) == true } }
        } else {
            let granted = self.privileges(identity, on: path)
            grants = { granted.contains($0) }
        }
        return any ? privileges.contains(where: grants) : privileges.allSatisfy(grants)
    }
}

/// The evaluator's memo of roles (a class: the evaluator is a value shared between threads).
final class RolesMemo: Sendable {
    let roles = Mutex<[String: [String: Bool]]>([:])
}

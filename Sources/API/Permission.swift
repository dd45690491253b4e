import Schema

/// An endpoint's declared access check, in the shapes PVE declares: evaluated before the handler runs,
/// and published in the schema dump and OpenAPI document.
public indirect enum Permission: Sendable, Equatable {
    /// No authentication at all (login, realm list).
    case world
    /// Any authenticated user; the handler filters what it returns.
    case anyUser
    /// Privileges on an ACL path; `{param}` in the path is filled from the request. `any` means one suffices.
    case privileges(path: String, [String], any: Bool = false)
    /// The `userid` parameter must be the caller (PVE's `userid-param self`).
    case selfUser
    /// Only root@pam.
    case rootOnly
    /// A privilege on the realm of the `userid` parameter (`/access/realm/<realm>`): PVE's `userid-param <priv>`.
    case useridRealm(String)
    /// Any of the privileges on `/access/groups`, or on a group of the target user (and of the
    /// requested `groups` when `groupsParam` is `create` or `update`): PVE's `userid-group`.
    case useridGroup([String], groupsParam: String? = nil)
    /// Permissions.Modify on the path, or the allocate privilege of its kind: PVE's `perm-modify`.
    case permModify(String)
    /// Privileges on a path built from a parameter, checked only when that parameter is given
    /// (PVE's `require_param`, as in clone's "or the target pool").
    case privilegesIfParameter(path: String, [String], parameter: String)
    case and([Permission])
    case or([Permission])

    /// The check in PVE's `permissions` JSON shape (as in methods.json).
    public var pveShape: JSON {
        switch self {
        case .world: return ["user": "world"]
        case .anyUser: return ["user": "all"]
        // PVE declares no permissions on root-only methods (its handler then admits root@pam alone)
        case .rootOnly: return .object([:])
        case .selfUser, .privileges, .and, .or, .useridRealm, .useridGroup, .permModify, .privilegesIfParameter: return ["check": checkShape]
        }
    }

    private var checkShape: JSON {
        switch self {
        case .privileges(let path, let privileges, let any):
            var items: [JSON] = ["perm", .string(path), .array(privileges.map { .string($0) })]
            if any { items += ["any", 1] }
            return .array(items)
        case .privilegesIfParameter(let path, let privileges, let parameter):
            return ["perm", .string(path), .array(privileges.map { .string($0) }), "require_param", .string(parameter)]
        case .selfUser: return ["userid-param", "self"]
        case .useridRealm(let privilege): return ["userid-param", .string(privilege)]
        case .useridGroup(let privileges, let groupsParam):
            var items: [JSON] = ["userid-group", .array(privileges.map { .string($0) })]
            if let groupsParam { items += ["groups_param", .string(groupsParam)] }
            return .array(items)
        case .permModify(let path): return ["perm-modify", .string(path)]
        case .and(let parts): return .array(["and"] + parts.map(\.checkShape))
        case .or(let parts): return .array(["or"] + parts.map(\.checkShape))
        case .world, .anyUser, .rootOnly: return .null
        }
    }
}

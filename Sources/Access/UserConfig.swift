/// `user.cfg` in PVE's format: users, API tokens, groups, pools, custom roles and ACL entries, one
/// colon-separated line each. Parsing is forgiving (unknown or malformed lines are skipped, as PVE
/// does); writing is canonical (PVE's order), so a file written by either reads the same in both.
public struct UserConfig: Equatable, Sendable {
    public struct User: Equatable, Sendable {
        public var id: String
        public var enable = true
        public var expire = 0
        public var firstname = "", lastname = "", email = "", comment = "", keys = ""
        public init(id: String) { self.id = id }
    }
    public struct Token: Equatable, Sendable {
        public var id: String  // user@realm!name
        public var expire = 0
        public var privsep = true
        public var comment = ""
        public init(id: String) { self.id = id }
        public var user: String { String(id[..<(id.firstIndex(of: "!") ?? id.endIndex)]) }
    }
    public struct Group: Equatable, Sendable {
        public var id: String
        public var members: [String] = []
        public var comment = ""
        public init(id: String) { self.id = id }
    }
    public struct Pool: Equatable, Sendable {
        public var id: String
        public var comment = ""
        public var vms: [Int] = []
        public var storage: [String] = []
        public init(id: String) { self.id = id }
    }
    /// One role granted to one user (`user@realm`), group (`@name`) or token on one path.
    public struct ACLEntry: Equatable, Hashable, Sendable {
        public var path: String
        public var ugid: String
        public var role: String
        public var propagate: Bool
        public init(path: String, ugid: String, role: String, propagate: Bool) {
            self.path = path
            self.ugid = ugid
            self.role = role
            self.propagate = propagate
        }
    }

    public var users: [String: User] = [:]
    public var tokens: [String: Token] = [:]
    public var groups: [String: Group] = [:]
    public var pools: [String: Pool] = [:]
    /// Custom roles only; `roles` adds the built-in ones.
    public var customRoles: [String: Set<String>] = [:]
    public var acl: [ACLEntry] = []

    public init() { users["root@pam"] = User(id: "root@pam") }

    /// Every role by name: built-in roles always win over a custom one of the same name.
    public var roles: [String: Set<String>] { customRoles.merging(Privileges.builtinRoles) { $1 } }

    public func groups(of user: String) -> [String] { groups.values.filter { $0.members.contains(user) }.map(\.id).sorted() }

    // MARK: parsing

    public static func parse(_ text: String) -> UserConfig {
        var config = UserConfig()
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = raw.trimmed(" \t\r")
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            var fields = line.split(separator: ":", omittingEmptySubsequences: false).map { String($0).trimmed(" \t") }
            while fields.count < 10 { fields.append("") }
            switch fields[0] {
            case "user":
                guard isUserID(fields[1]), fields[3].isEmpty || fields[3].allSatisfy(\.isNumber) else { continue }
                var user = User(id: fields[1])
                user.enable = ["1", "true", "yes", "on"].contains(fields[2].lowercased())
                user.expire = Int(fields[3]) ?? 0
                user.firstname = decodeText(fields[4])
                user.lastname = decodeText(fields[5])
                user.email = fields[6]
                user.comment = decodeText(fields[7])
                user.keys = fields[8]
                config.users[user.id] = user
            case "token":
                guard let bang = fields[1].firstIndex(of: "!"), isUserID(String(fields[1][..<bang])) else { continue }
                var token = Token(id: fields[1])
                token.expire = Int(fields[2]) ?? 0
                token.privsep = fields[3] == "1"
                token.comment = decodeText(fields[4])
                config.tokens[token.id] = token
            case "group":
                guard isSimpleID(fields[1]) else { continue }
                var group = Group(id: fields[1])
                group.members = splitList(fields[2])
                group.comment = decodeText(fields[3])
                config.groups[group.id] = group
            case "pool":
                guard !fields[1].isEmpty else { continue }
                var pool = Pool(id: fields[1])
                pool.comment = decodeText(fields[2])
                pool.vms = splitList(fields[3]).compactMap { Int($0) }
                pool.storage = splitList(fields[4])
                config.pools[pool.id] = pool
            case "role":
                guard isSimpleID(fields[1]), Privileges.builtinRoles[fields[1]] == nil else { continue }
                config.customRoles[fields[1]] = Set(splitList(fields[2]).filter { Privileges.allSet.contains($0) })
            case "acl":
                let propagate = fields[1] != "0"
                guard let path = normalizePath(fields[2]) else { continue }
                for ugid in splitList(fields[3]) where ugid != "root@pam" {
                    for role in splitList(fields[4]) {
                        config.acl.append(ACLEntry(path: path, ugid: ugid, role: role, propagate: propagate))
                    }
                }
            default:
                continue
            }
        }
        // tokens of users that do not exist are dropped, as PVE does
        config.tokens = config.tokens.filter { config.users[$0.value.user] != nil }
        return config
    }

    // MARK: writing

    public func serialized() -> String {
        var out = ""
        for user in users.values.sorted(by: { $0.id < $1.id }) {
            out +=
                "user:\(user.id):\(user.enable ? 1 : 0):\(user.expire):\(Self.encodeText(user.firstname)):\(Self.encodeText(user.lastname)):\(user.email):\(Self.encodeText(user.comment)):\(user.keys):\n"
            for token in tokens.values.filter({ $0.user == user.id }).sorted(by: { $0.id < $1.id }) {
                out += "token:\(token.id):\(token.expire):\(token.privsep ? 1 : 0):\(Self.encodeText(token.comment)):\n"
            }
        }
        out += "\n"
        for group in groups.values.sorted(by: { $0.id < $1.id }) {
            out += "group:\(group.id):\(group.members.sorted().joined(separator: ",")):\(Self.encodeText(group.comment)):\n"
        }
        out += "\n"
        for pool in pools.values.sorted(by: { $0.id < $1.id }) {
            out +=
                "pool:\(pool.id):\(Self.encodeText(pool.comment)):\(pool.vms.sorted().map(String.init).joined(separator: ",")):\(pool.storage.sorted().joined(separator: ",")):\n"
        }
        out += "\n"
        for (name, privileges) in customRoles.sorted(by: { $0.key < $1.key }) {
            out += "role:\(name):\(privileges.sorted().joined(separator: ",")):\n"
        }
        out += "\n"
        // per path (depth first, children sorted): one line per (propagate, identical role set)
        let byPath = Dictionary(grouping: acl.filter { $0.ugid != "root@pam" }, by: \.path)
        for path in byPath.keys.sorted(by: { Self.pathComponents($0).lexicographicallyPrecedes(Self.pathComponents($1)) }) {
            var rolesOf: [String: [Bool: Set<String>]] = [:]
            for entry in byPath[path]! { rolesOf[entry.ugid, default: [:]][entry.propagate, default: []].insert(entry.role) }
            var lines: [String: [String]] = [:]  // "propagate:roles" → ugids
            for (ugid, byPropagate) in rolesOf {
                for (propagate, roles) in byPropagate {
                    lines["\(propagate ? 1 : 0):\(roles.sorted().joined(separator: ","))", default: []].append(ugid)
                }
            }
            for key in lines.keys.sorted() {
                let (propagate, roles) = (key.prefix(1), key.dropFirst(2))
                out += "acl:\(propagate):\(path):\(lines[key]!.sorted().joined(separator: ",")):\(roles):\n"
            }
        }
        return out
    }

    // MARK: syntax

    static func pathComponents(_ path: String) -> [String] { path.split(separator: "/").map(String.init) }

    /// `//` collapsed, no trailing `/`, only `[A-Za-z0-9.-_/]`.
    public static func normalizePath(_ raw: String) -> String? {
        let parts = pathComponents(raw)
        let allowed = parts.allSatisfy { $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) } }
        guard raw.hasPrefix("/"), allowed else { return nil }
        return "/" + parts.joined(separator: "/")
    }

    public static func isUserID(_ s: String) -> Bool {
        guard let at = s.lastIndex(of: "@"), s.count >= 3, s.count <= 64 else { return false }
        let name = s[..<at], realm = s[s.index(after: at)...]
        return !name.isEmpty && !name.contains(where: { $0.isWhitespace || $0 == ":" || $0 == "/" })
            && isRealm(String(realm))
    }

    public static func isRealm(_ s: String) -> Bool {
        guard let first = s.first, first.isASCII, first.isLetter, s.count >= 2 else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    static func isSimpleID(_ s: String) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    static func splitList(_ s: String) -> [String] {
        s.split(whereSeparator: { $0 == "," || $0 == ";" || $0 == " " || $0 == "\t" }).map(String.init)
    }

    /// Percent-encodes what cannot stand in a colon-separated field: control bytes, non-ASCII, `%`, `:`.
    static func encodeText(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            if (0x20...0x7e).contains(byte), byte != 0x25, byte != 0x3a {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return out
    }

    /// Percent-decoding on UTF-8 bytes: also on every request's ticket cookie, where Foundation's
    /// decoding (through UTF-16) would cost more than the rest of authentication.
    public static func decodeText(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        let source = Array(text.utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(source.count)
        var i = 0
        while i < source.count {
            if source[i] == UInt8(ascii: "%"), i + 2 < source.count, let high = nibble(source[i + 1]), let low = nibble(source[i + 2]) {
                bytes.append(high << 4 | low)
                i += 3
            } else {
                bytes.append(source[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension StringProtocol {
    func trimmed(_ set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}

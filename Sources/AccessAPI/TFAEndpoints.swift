import API
import Access
import Foundation
import Schema

/// `/access/tfa…`: TOTP keys, WebAuthn security keys and recovery codes per user (U2F and Yubico
/// are refused with a clear message).
public enum TFAEndpoints {
    static let userid = Schema.string(format: "pve-userid", maxLength: 64)
    static let selfOrAudit: Permission = .or([.selfUser, .useridGroup(["User.Modify", "Sys.Audit"])])
    static let selfOrAdmin: Permission = .or([.selfUser, .useridGroup(["User.Modify"])])
    static let confirmation = Schema.string(maxLength: 64).optional()

    static func entries(_ user: TFAConfig.User) -> [JSON] {
        var out: [JSON] = []
        if let r = user.recovery {
            out.append([
                "id": "recovery", "type": "recovery", "description": .string("\(r.remaining.count) of \(r.entries.count) codes left"),
                "created": JSON(r.created), "enable": true,
            ])
        }
        out += user.totp.map { e in
            ["id": .string(e.id), "type": "totp", "description": .string(e.description), "created": JSON(e.created), "enable": JSON(e.enable)]
        }
        out += user.webauthn.map { e in
            ["id": .string(e.id), "type": "webauthn", "description": .string(e.description), "created": JSON(e.created), "enable": JSON(e.enable)]
        }
        return out
    }

    /// Anyone but root confirms a change to second factors with their own current password.
    static func confirm(_ access: AccessControl, _ context: RequestContext) throws {
        guard context.user != "root@pam" else { return }
        guard let password = context.string("password") else {
            throw APIError.parameters(["password": "your current password is required to change second factors"])
        }
        do { try access.checkPassword(user: context.user, password: password) } catch {
            throw APIError(403, "password confirmation failed")
        }
    }

    public static func all(access: AccessControl) -> [Endpoint] {
        [
            Endpoint(
                .GET, "/access/tfa", name: "list_tfa", description: "Second factors of every user the caller may see.",
                returns: .array(of: .object(["userid": .string()], additionalProperties: true)), permission: .anyUser, protected: true,
                childKey: "userid",
                handler: .sync { context in
                    let seeAll = context.has(["User.Modify", "Sys.Audit"], on: "/access/groups", any: true)
                    let me = Identity(context.user)?.user
                    return .array(
                        access.tfa.users.sorted { $0.key < $1.key }.filter { seeAll || $0.key == me }.map { user, entry in
                            ["userid": .string(user), "entries": .array(entries(entry))]
                        })
                }),
            Endpoint(
                .GET, "/access/tfa/{userid}", name: "list_user_tfa", description: "A user's second factors.",
                parameters: ["userid": userid], returns: .array(of: .object([:], additionalProperties: true)), permission: selfOrAudit,
                protected: true, childKey: "id",
                handler: .sync { context in .array(entries(access.tfa.users[try context.require("userid")] ?? TFAConfig.User())) }),
            Endpoint(
                .POST, "/access/tfa/{userid}", name: "add_tfa_entry",
                description:
                    "Add a TOTP key (confirmed by a current code), a WebAuthn security key (two calls: the challenge, then the key's answer) or a set of recovery codes (shown once).",
                parameters: [
                    "userid": userid, "type": Schema.string(enum: ["totp", "u2f", "webauthn", "recovery", "yubico"]),
                    "totp": Schema.string().optional(), "value": Schema.string().optional(), "challenge": Schema.string().optional(),
                    "password": confirmation, "description": Schema.string(maxLength: 255).optional(),
                ],
                returns: .object([
                    "id": Schema.string().optional(), "recovery": Schema.array(of: .string()).optional(), "challenge": Schema.string().optional(),
                ]),
                permission: selfOrAdmin, protected: true, allowToken: false,
                handler: .blocking { context in
                    let user = try context.require("userid")
                    try confirm(access, context)
                    guard access.userConfig.users[user] != nil else { throw APIError(404, "no such user ('\(user)')") }
                    switch try context.require("type") {
                    case "totp":
                        guard let uri = context.string("totp"), let totp = TOTP(uri: uri) else {
                            throw APIError.parameters(["totp": "expected an otpauth://totp/ URI with a base32 secret of at least 80 bits"])
                        }
                        guard let code = context.string("value"), totp.verify(code, at: access.now) else {
                            throw APIError.parameters(["value": "the code does not match the key: enter the current code from the app"])
                        }
                        let id = UUID().uuidString.lowercased()
                        let entry = TFAConfig.Entry(id: id, description: context.string("description") ?? "", created: access.now, uri: uri)
                        try access.updateTFA { $0.users[user, default: TFAConfig.User()].totp.append(entry) }
                        return ["id": .string(id)]
                    case "recovery":
                        let codes: [String] = try access.updateTFA { config in
                            if let existing = config.users[user]?.recovery, !existing.remaining.isEmpty {
                                throw APIError(400, "the user already has recovery codes; delete them first to make new ones")
                            }
                            let (recovery, codes) = try TFAConfig.Recovery.generate(now: access.now)
                            config.users[user, default: TFAConfig.User()].recovery = recovery
                            return codes
                        }
                        return ["id": "recovery", "recovery": .array(codes.map { .string($0) })]
                    case "webauthn":
                        do {
                            if let challenge = context.string("challenge"), let value = context.string("value") {
                                let id = try access.finishWebAuthnRegistration(
                                    user: user, challenge: challenge, answer: value, description: context.string("description"))
                                return ["id": .string(id)]
                            }
                            let options = try access.startWebAuthnRegistration(user: user, description: context.string("description") ?? "")
                            return ["challenge": .string(options), "id": .null]
                        } catch let error as AccessError { throw AccessEndpoints.fail(error) }
                    case let other:
                        throw APIError(400, "second factors of type '\(other)' are not supported yet (totp, webauthn and recovery are)")
                    }
                }),
            Endpoint(
                .GET, "/access/tfa/{userid}/{id}", name: "get_tfa_entry", description: "One second factor.",
                parameters: ["userid": userid, "id": Schema.string()], returns: .object([:], additionalProperties: true),
                permission: selfOrAudit, protected: true,
                handler: .sync { context in
                    let id = try context.require("id")
                    let all = entries(access.tfa.users[try context.require("userid")] ?? TFAConfig.User())
                    guard let entry = all.first(where: { $0["id"]?.stringValue == id }) else { throw APIError(404, "no such entry") }
                    return entry
                }),
            Endpoint(
                .PUT, "/access/tfa/{userid}/{id}", name: "update_tfa_entry", description: "Enable, disable or describe a TOTP or WebAuthn key.",
                parameters: [
                    "userid": userid, "id": Schema.string(), "enable": Schema.boolean().optional(), "password": confirmation,
                    "description": Schema.string(maxLength: 255).optional(),
                ],
                returns: .null, permission: selfOrAdmin, protected: true, allowToken: false,
                handler: .blocking { context in
                    let user = try context.require("userid"), id = try context.require("id")
                    try confirm(access, context)
                    try access.updateTFA { config in
                        if let index = config.users[user]?.totp.firstIndex(where: { $0.id == id }) {
                            if let enable = context.bool("enable") { config.users[user]!.totp[index].enable = enable }
                            if let text = context.string("description") { config.users[user]!.totp[index].description = text }
                        } else if let index = config.users[user]?.webauthn.firstIndex(where: { $0.id == id }) {
                            if let enable = context.bool("enable") { config.users[user]!.webauthn[index].enable = enable }
                            if let text = context.string("description") { config.users[user]!.webauthn[index].description = text }
                        } else {
                            throw APIError(404, "no such entry")
                        }
                    }
                    return .null
                }),
            Endpoint(
                .DELETE, "/access/tfa/{userid}/{id}", name: "delete_tfa",
                description: "Delete a TOTP or WebAuthn key, or the recovery codes (id 'recovery').",
                parameters: ["userid": userid, "id": Schema.string(), "password": confirmation], returns: .null,
                permission: selfOrAdmin, protected: true, allowToken: false,
                handler: .blocking { context in
                    let user = try context.require("userid"), id = try context.require("id")
                    try confirm(access, context)
                    try access.updateTFA { config in
                        guard var entry = config.users[user] else { throw APIError(404, "no such entry") }
                        if id == "recovery" {
                            guard entry.recovery != nil else { throw APIError(404, "no such entry") }
                            entry.recovery = nil
                        } else {
                            guard entry.totp.contains(where: { $0.id == id }) || entry.webauthn.contains(where: { $0.id == id }) else {
                                throw APIError(404, "no such entry")
                            }
                            entry.totp.removeAll { $0.id == id }
                            entry.webauthn.removeAll { $0.id == id }
                        }
                        config.users[user] = entry
                    }
                    return .null
                }),
        ]
    }
}

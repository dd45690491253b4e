import API
import Access
import Foundation
import Schema

/// `/access/openid`: logins through an OpenID Connect realm's provider. The console asks for the
/// provider's URL (`auth-url`), sends the browser there, and gives the code and state it comes back
/// with to `login`, which answers as `POST /access/ticket` does.
enum OpenIDEndpoints {
    static func all(access: AccessControl) -> [Endpoint] {
        [
            .directory("/access/openid", description: "OpenID Connect logins.", permission: .anyUser),
            Endpoint(
                pve: "POST /access/openid/auth-url", description: "The provider's login address for an OpenID realm.", returns: .string(),
                permission: .world,
                handler: .blocking { context in
                    let id = try context.require("realm")
                    guard let realm = access.realms.first(where: { $0.id == id }), realm.type == "openid" else {
                        throw APIError.parameters(["realm": "no OpenID realm '\(id)'"])
                    }
                    do {
                        return .string(try access.openID.authURL(realm: realm, redirect: try context.require("redirect-url"), now: access.now))
                    } catch {
                        throw APIError(500, "\(error)")
                    }
                }),
            Endpoint(
                pve: "POST /access/openid/login", description: "Finishes an OpenID login: a ticket for the user the provider names.",
                returns: .object([:], additionalProperties: true), permission: .world,
                handler: .blocking { context in
                    do {
                        let user = try access.openIDLogin(
                            state: try context.require("state"), code: try context.require("code"), redirect: try context.require("redirect-url"))
                        let (ticket, csrf) = try access.issueTicket(for: user)
                        let cap = access.capabilities(.user(user)).mapValues { JSON.object($0.mapValues { JSON($0) }) }
                        return ["username": .string(user), "ticket": .string(ticket), "CSRFPreventionToken": .string(csrf), "cap": .object(cap)]
                    } catch let error as AccessError { throw AccessEndpoints.fail(error) }
                }),
        ]
    }
}

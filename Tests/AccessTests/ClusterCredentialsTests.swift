import API
import Foundation
import Schema
import Synchronization
import Testing

@testable import Access
@testable import AccessAPI

/// The credentials that only cluster members make: one-time join tokens and the proofs a member
/// attaches to a call it forwards.
@Suite struct ClusterCredentialsTests {
    @Test func aJoinTokenServesOnceAndUntilItExpires() throws {
        let h = try AccessHarness()
        let made = try h.access.makeJoinToken(ttl: 600)
        #expect(AccessControl.isJoinToken(made.token) && made.expires == h.clock.now + 600)
        #expect(h.access.consumeJoinToken(made.token))
        #expect(!h.access.consumeJoinToken(made.token))
        // a wrong secret, a malformed token, an expired one
        let other = try h.access.makeJoinToken(ttl: 600)
        #expect(!h.access.consumeJoinToken(String(other.token.dropLast()) + (other.token.last == "0" ? "1" : "0")))
        #expect(!h.access.consumeJoinToken("cjt1.nonsense"))
        h.clock.seconds.add(601, ordering: .relaxed)
        #expect(!h.access.consumeJoinToken(other.token))
    }

    @Test func theAuthenticatorAdmitsAJoinTokenForAddingANodeOnly() throws {
        let h = try AccessHarness()
        let authenticator = AccessAuthenticator(access: h.access)
        let token = try h.access.makeJoinToken(ttl: 600).token
        let add = Endpoint(
            .POST, "/cluster/config/nodes/{node}", name: "addnode", description: "test", parameters: ["node": .node], returns: .null,
            permission: .rootOnly, protected: true, handler: .sync { _ in .null })
        let other = Endpoint(
            .POST, "/cluster/config", name: "create", description: "test", returns: .null, permission: .rootOnly, protected: true,
            handler: .sync { _ in .null })
        // elsewhere it is no credential (and is not used up there)
        let header = Credentials(authorization: "\(AccessControl.joinTokenScheme) \(token)")
        #expect(throws: APIError.self) { try authenticator.authenticate(header, endpoint: other, method: .POST) }
        #expect(try authenticator.authenticate(header, endpoint: add, method: .POST) == Caller(user: "root@pam"))
        #expect(throws: APIError.self) { try authenticator.authenticate(header, endpoint: add, method: .POST) }
    }

    @Test func aForwardedCallIsTrustedOnlyWithAFreshProofForItself() throws {
        let h = try AccessHarness()
        let authenticator = AccessAuthenticator(access: h.access)
        let endpoint = Endpoint(
            .GET, "/nodes/{node}/status", name: "status", description: "test", parameters: ["node": .node], returns: .null,
            permission: .anyUser, handler: .sync { _ in .null })
        func credentials(user: String, proof: String, line: String) -> Credentials {
            var c = Credentials()
            c.proxiedUser = user
            c.proxyProof = proof
            c.requestLine = line
            return c
        }
        let line = "GET /nodes/n3/status"
        let proof = try h.access.proxyProof(user: "alice@pve", method: "GET", path: line)
        #expect(
            try authenticator.authenticate(credentials(user: "alice@pve", proof: proof, line: line), endpoint: endpoint, method: .GET)
                == Caller(user: "alice@pve"))
        // another caller, another call, or a forged proof is refused
        #expect(throws: APIError.self) {
            try authenticator.authenticate(credentials(user: "root@pam", proof: proof, line: line), endpoint: endpoint, method: .GET)
        }
        #expect(throws: APIError.self) {
            try authenticator.authenticate(
                credentials(user: "alice@pve", proof: proof, line: "GET /nodes/n2/status"), endpoint: endpoint, method: .GET)
        }
        #expect(throws: APIError.self) {
            try authenticator.authenticate(credentials(user: "alice@pve", proof: "1:00", line: line), endpoint: endpoint, method: .GET)
        }
        // and a stale one
        h.clock.seconds.add(61, ordering: .relaxed)
        #expect(throws: APIError.self) {
            try authenticator.authenticate(credentials(user: "alice@pve", proof: proof, line: line), endpoint: endpoint, method: .GET)
        }
    }
}

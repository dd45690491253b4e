import API
import ClusterFS
import Foundation
import Schema
import Synchronization
import Tasks
import Testing

@testable import Access
@testable import AccessAPI

/// The access endpoints and the authenticate/authorize steps through a real dispatcher over a real
/// cluster filesystem (local mode), with a clock the test moves.
final class AccessHarness: @unchecked Sendable {
    let fs: ClusterFS
    let access: AccessControl
    let dispatcher: Dispatcher
    final class Clock: Sendable {
        let seconds = Atomic<Int>(1_800_000_000)
        var now: Int { seconds.load(ordering: .relaxed) }
    }
    let clock = Clock()

    init() throws {
        let dir = NSTemporaryDirectory() + "corral-access-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        fs = try ClusterFS(databasePath: dir + "/config.db", nodeName: "a1")
        let clock = clock
        access = AccessControl(fs: fs, pamService: "corral-auth", clock: { clock.now })
        try access.ensureKeys()
        let services = Services(nodeName: "a1", tasks: try TaskManager(directory: dir + "/tasks", node: "a1"), productVersion: "test", repoID: "test")
        // stands for any guest action declared with PVE's check on /vms/{vmid}
        let power = Endpoint(
            .POST, "/test/{vmid}/power", name: "power", description: "test", parameters: ["vmid": .vmid], returns: .null,
            permission: .privileges(path: "/vms/{vmid}", ["VM.PowerMgmt"]), protected: true, handler: .sync { _ in .null })
        let registry = try Registry(AccessEndpoints.all(access: access) + [power])
        dispatcher = Dispatcher(
            registry: registry, services: services, authenticator: AccessAuthenticator(access: access), authorizer: AccessAuthorizer(access: access))
        // the file mtime is the key's creation time; make it the test clock's now
        try fs.setMtime("authkey.pub", UInt32(clock.now))
    }

    func advance(_ seconds: Int) { clock.seconds.add(seconds, ordering: .relaxed) }

    struct Session {
        var ticket: String?
        var csrf: String?
        var token: String?
    }

    func call(_ method: String, _ path: String, _ params: [String: String] = [:], as session: Session? = nil, csrf: Bool = true) async -> APIOutcome {
        var credentials = Credentials(remoteAddress: "192.0.2.1")
        credentials.ticketCookie = session?.ticket
        if csrf { credentials.csrfToken = session?.csrf }
        if let token = session?.token { credentials.authorization = "PVEAPIToken=\(token)" }
        return await dispatcher.call(
            APICall(
                method: method, segments: path.split(separator: "/").map(String.init), parameters: params.mapValues { .text($0) },
                credentials: credentials))
    }

    func root() throws -> Session {
        let (ticket, csrf) = try access.issueTicket(for: "root@pam")
        return Session(ticket: ticket, csrf: csrf)
    }

    func login(_ user: String, _ password: String) async -> (APIOutcome, Session) {
        let outcome = await call("POST", "/access/ticket", ["username": user, "password": password])
        let data = try? outcome.result.get()
        return (outcome, Session(ticket: data?["ticket"]?.stringValue, csrf: data?["CSRFPreventionToken"]?.stringValue))
    }
}

func status(_ outcome: APIOutcome) -> Int {
    switch outcome.result {
    case .success: 200
    case .failure(let error): error.status
    }
}

@Suite(.serialized) struct AccessAPITests {
    let h: AccessHarness
    init() throws { h = try AccessHarness() }

    func setUpUsers() async throws -> AccessHarness.Session {
        let root = try h.root()
        #expect(status(await h.call("POST", "/access/groups", ["groupid": "ops", "comment": "operators"], as: root)) == 200)
        #expect(
            status(await h.call("POST", "/access/users", ["userid": "alice@pve", "password": "alice-secret-1", "groups": "ops"], as: root)) == 200)
        #expect(status(await h.call("POST", "/access/users", ["userid": "bob@pve", "password": "bob-secret-22"], as: root)) == 200)
        #expect(status(await h.call("PUT", "/access/acl", ["path": "/vms/100", "users": "alice@pve", "roles": "PVEVMUser"], as: root)) == 200)
        #expect(status(await h.call("PUT", "/access/acl", ["path": "/", "users": "bob@pve", "roles": "PVEAuditor"], as: root)) == 200)
        return root
    }

    @Test func loginGivesATicketACSRFTokenAndCapabilities() async throws {
        _ = try await setUpUsers()
        let (outcome, session) = await h.login("alice@pve", "alice-secret-1")
        let data = try outcome.result.get()
        #expect(data["username"] == "alice@pve")
        #expect(session.ticket?.hasPrefix("PVE:alice@pve:") == true)
        #expect(session.csrf?.count == 8 + 1 + 43)
        #expect(data["cap"]?["vms"]?["VM.PowerMgmt"] == 1)
        #expect(data["cap"]?["nodes"]?["Sys.Audit"] == nil)
        // the realm may come separately
        #expect(status(await h.call("POST", "/access/ticket", ["username": "alice", "realm": "pve", "password": "alice-secret-1"])) == 200)
        // renewal: the ticket as the password
        #expect(status(await h.call("POST", "/access/ticket", ["username": "alice@pve", "password": session.ticket!])) == 200)
        #expect(status(await h.call("POST", "/access/ticket", ["username": "bob@pve", "password": session.ticket!])) == 401)
        // realms are listed to anyone
        let realms = try await h.call("GET", "/access/domains").result.get()
        #expect(Set(realms.arrayValue?.compactMap { $0["realm"]?.stringValue } ?? []) == ["pam", "pve"])
    }

    @Test func aFailedLoginIs401AfterThreeSeconds() async throws {
        _ = try await setUpUsers()
        let start = Date()
        let (outcome, _) = await h.login("alice@pve", "wrong-password")
        #expect(status(outcome) == 401)
        if case .failure(let error) = outcome.result { #expect(error.message == "authentication failure") }
        #expect(Date().timeIntervalSince(start) >= 2.9)
        // an unknown user is answered exactly like a wrong password: same status, words and delay
        let unknownStart = Date()
        let unknown = await h.login("nobody@pve", "whatever-123").0
        #expect(status(unknown) == 401)
        if case .failure(let error) = unknown.result { #expect(error.message == "authentication failure") }
        #expect(Date().timeIntervalSince(unknownStart) >= 2.9)
    }

    @Test func repeatedFailuresLockTheUserOutForAWhile() async throws {
        _ = try await setUpUsers()
        let throttle = h.access.throttle
        for _ in 0..<5 { throttle.failed(user: "alice@pve", address: "192.0.2.9", now: h.access.now) }
        // even the right password is refused while locked out (and still costs the caller 3 s)
        #expect(status(await h.login("alice@pve", "alice-secret-1").0) == 401)
        #expect(status(await h.login("bob@pve", "bob-secret-22").0) == 200)  // others are not affected
        h.advance(301)
        #expect(status(await h.login("alice@pve", "alice-secret-1").0) == 200)
    }

    @Test func privilegesDecideWhatEachUserMayDo() async throws {
        _ = try await setUpUsers()
        let (_, alice) = await h.login("alice@pve", "alice-secret-1")
        let (_, bob) = await h.login("bob@pve", "bob-secret-22")
        // a VM user powers its VM and no other
        #expect(status(await h.call("POST", "/test/100/power", as: alice)) == 200)
        let refused = await h.call("POST", "/test/101/power", as: alice)
        #expect(status(refused) == 403)
        // the refusal names the path and the privilege missing, as PVE's does
        if case .failure(let error) = refused.result { #expect(error.message.hasPrefix("Permission check failed (/vms/101, VM.")) }
        // an auditor reads but cannot act or administer
        #expect(status(await h.call("POST", "/test/100/power", as: bob)) == 403)
        #expect(status(await h.call("GET", "/access/groups/ops", as: bob)) == 200)
        #expect(status(await h.call("POST", "/access/groups", ["groupid": "x"], as: bob)) == 403)
        #expect(status(await h.call("PUT", "/access/acl", ["path": "/", "users": "bob@pve", "roles": "Administrator"], as: bob)) == 403)
        // lists show only what the caller may see
        let users = try await h.call("GET", "/access/users", as: alice).result.get()
        #expect(users.arrayValue?.compactMap { $0["userid"]?.stringValue } == ["alice@pve"])
        let everyone = try await h.call("GET", "/access/users", as: bob).result.get()
        #expect(everyone.arrayValue?.count == 3)
        // a user may change their own password, not someone else's
        #expect(status(await h.call("PUT", "/access/password", ["userid": "alice@pve", "password": "alice-secret-2"], as: alice)) == 200)
        #expect(status(await h.call("PUT", "/access/password", ["userid": "bob@pve", "password": "hijacked-123"], as: alice)) == 403)
        #expect(status(await h.login("alice@pve", "alice-secret-2").0) == 200)
        // permissions of oneself
        let mine = try await h.call("GET", "/access/permissions", as: alice).result.get()
        #expect(mine["/vms/100"]?["VM.PowerMgmt"] == 1)
        #expect(mine["/"] == nil)
    }

    @Test func writesNeedTheCSRFTokenOfTheTicketsUser() async throws {
        _ = try await setUpUsers()
        let (_, alice) = await h.login("alice@pve", "alice-secret-1")
        let (_, bob) = await h.login("bob@pve", "bob-secret-22")
        #expect(status(await h.call("POST", "/test/100/power", as: alice, csrf: false)) == 401)
        var mixed = alice
        mixed.csrf = bob.csrf
        #expect(status(await h.call("POST", "/test/100/power", as: mixed)) == 401)
        // reads do not need it
        #expect(status(await h.call("GET", "/access/users", as: alice, csrf: false)) == 200)
        // no credentials at all
        #expect(status(await h.call("GET", "/access/users")) == 401)
        #expect(status(await h.call("GET", "/access/users", as: .init(ticket: "PVE:root@pam:6B49D200::Zm9v"))) == 401)
    }

    @Test func apiTokensWithPrivilegeSeparationNeedTheirOwnACLs() async throws {
        let root = try await setUpUsers()
        let (_, alice) = await h.login("alice@pve", "alice-secret-1")
        let created = try await h.call("POST", "/access/users/alice@pve/token/ci", ["comment": "build"], as: alice).result.get()
        #expect(created["full-tokenid"] == "alice@pve!ci")
        let secret = try #require(created["value"]?.stringValue)
        // only a hash is stored
        #expect(!(try h.fs.readString("priv/token.cfg")).contains(secret))
        let token = AccessHarness.Session(token: "alice@pve!ci=\(secret)")
        #expect(status(await h.call("POST", "/test/100/power", as: token)) == 403)  // no ACL of its own
        #expect(status(await h.call("PUT", "/access/acl", ["path": "/vms", "tokens": "alice@pve!ci", "roles": "PVEVMAdmin"], as: root)) == 200)
        // token ACLs ∩ the user's: power on 100 (both), nothing on 101 (user lacks it)
        #expect(status(await h.call("POST", "/test/100/power", as: token)) == 200)
        #expect(status(await h.call("POST", "/test/101/power", as: token)) == 403)
        #expect(status(await h.call("POST", "/test/100/power", as: .init(token: "alice@pve!ci=wrong"))) == 401)
        // tokens cannot change passwords (PVE's allowtoken 0)
        #expect(status(await h.call("PUT", "/access/password", ["userid": "alice@pve", "password": "by-token-123"], as: token)) == 403)
        // deleting the user takes its tokens along
        #expect(status(await h.call("DELETE", "/access/users/alice@pve", as: root)) == 200)
        #expect(status(await h.call("POST", "/test/100/power", as: token)) == 401)
        #expect(try h.fs.readString("priv/token.cfg").isEmpty)
    }

    @Test func ticketsExpireAndSurviveOneKeyRotation() async throws {
        _ = try await setUpUsers()
        // a ticket from late in the key's life, then the key turns a day old and rotates at the next login
        h.advance(86_000)
        let (_, early) = await h.login("alice@pve", "alice-secret-1")
        h.advance(600)
        let oldPublic = try h.fs.readString("authkey.pub")
        let (_, late) = await h.login("alice@pve", "alice-secret-1")
        #expect(try h.fs.readString("authkey.pub") != oldPublic)
        #expect(try h.fs.readString("authkey.pub.old") == oldPublic)
        #expect(status(await h.call("GET", "/access/users", as: early)) == 200)
        #expect(status(await h.call("GET", "/access/users", as: late)) == 200)
        h.advance(7200)
        #expect(status(await h.call("GET", "/access/users", as: early)) == 401)
        #expect(status(await h.call("GET", "/access/users", as: late)) == 401)
    }

    @Test func badInputIsAClearErrorAndChangesNothing() async throws {
        let root = try await setUpUsers()
        let before = try h.fs.readString("user.cfg")
        let badID = await h.call("POST", "/access/users", ["userid": "no realm"], as: root)
        #expect(status(badID) == 400)
        if case .failure(let e) = badID.result { #expect(e.errors?["userid"] != nil) }
        #expect(status(await h.call("POST", "/access/users", ["userid": "carol@nosuchrealm"], as: root)) == 400)
        #expect(status(await h.call("POST", "/access/users", ["userid": "alice@pve"], as: root)) == 400)
        #expect(status(await h.call("POST", "/access/users", ["userid": "dave@pve", "password": "short"], as: root)) == 400)
        #expect(status(await h.call("PUT", "/access/acl", ["path": "/vms/100", "users": "ghost@pve", "roles": "PVEVMUser"], as: root)) == 400)
        #expect(status(await h.call("PUT", "/access/acl", ["path": "/vms/100", "users": "bob@pve", "roles": "NoSuchRole"], as: root)) == 400)
        #expect(status(await h.call("POST", "/access/roles", ["roleid": "R", "privs": "VM.Audit,Not.A.Priv"], as: root)) == 400)
        #expect(status(await h.call("DELETE", "/access/roles/Administrator", as: root)) == 400)
        // separators and control characters in names are refused, naming the parameter
        for bad in ["a:b@pve", "a,b@pve", "a\nb@pve", "a b@pve", String(repeating: "x", count: 70) + "@pve"] {
            let outcome = await h.call("POST", "/access/users", ["userid": bad], as: root)
            #expect(status(outcome) == 400, "\(bad)")
            if case .failure(let e) = outcome.result { #expect(e.errors?["userid"] != nil, "\(bad)") }
        }
        for bad in ["g:1", "g,1", "g\n1", ""] { #expect(status(await h.call("POST", "/access/groups", ["groupid": bad], as: root)) == 400, "\(bad)") }
        for bad in ["r:1", "r,1", "r\n"] { #expect(status(await h.call("POST", "/access/roles", ["roleid": bad], as: root)) == 400, "\(bad)") }
        #expect(
            status(await h.call("POST", "/access/users", ["userid": "eve@pve", "firstname": String(repeating: "e", count: 5000)], as: root)) == 400)
        // a comment may hold anything: it is escaped in the file and reads back the same
        #expect(status(await h.call("POST", "/access/groups", ["groupid": "odd", "comment": "a:b,c\nd%e"], as: root)) == 200)
        #expect(try await h.call("GET", "/access/groups/odd", as: root).result.get()["comment"] == "a:b,c\nd%e")
        #expect((try? h.fs.stat("priv/lock/user_cfg")) == nil)  // no lock left behind
        #expect(UserConfig.parse(try h.fs.readString("user.cfg")).users == UserConfig.parse(before).users)
    }

    @Test func totpAndRecoveryCodesAreASecondStep() async throws {
        _ = try await setUpUsers()
        let (_, alice) = await h.login("alice@pve", "alice-secret-1")
        let totp = TOTP(secret: Array("12345678901234567890".utf8))
        let uri = totp.uri(label: "corral:alice@pve")
        // adding a key needs her password and a current code
        #expect(
            status(await h.call("POST", "/access/tfa/alice@pve", ["type": "totp", "totp": uri, "value": totp.code(at: h.access.now)], as: alice))
                == 400)
        #expect(
            status(
                await h.call(
                    "POST", "/access/tfa/alice@pve", ["type": "totp", "totp": uri, "value": "000000", "password": "alice-secret-1"], as: alice))
                == 400)
        #expect(
            status(
                await h.call(
                    "POST", "/access/tfa/alice@pve",
                    ["type": "totp", "totp": uri, "value": totp.code(at: h.access.now), "password": "alice-secret-1"], as: alice)) == 200)
        let recovery = try await h.call("POST", "/access/tfa/alice@pve", ["type": "recovery", "password": "alice-secret-1"], as: alice).result.get()
        let codes = recovery["recovery"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(codes.count == 10)
        #expect(!(try h.fs.readString("priv/tfa.cfg")).contains(codes[0]))  // only their HMACs are kept

        // the password alone now gives a partial ticket that opens nothing
        let (first, partial) = await h.login("alice@pve", "alice-secret-1")
        #expect(try first.result.get()["NeedTFA"] == 1)
        #expect(partial.csrf == nil)
        #expect(status(await h.call("GET", "/access/users", as: .init(ticket: partial.ticket))) == 401)
        // the second step
        let wrong = await h.call("POST", "/access/ticket", ["username": "alice@pve", "tfa-challenge": partial.ticket!, "password": "totp:000000"])
        #expect(status(wrong) == 401)
        let done = await h.call(
            "POST", "/access/ticket", ["username": "alice@pve", "tfa-challenge": partial.ticket!, "password": "totp:\(totp.code(at: h.access.now))"])
        #expect(try done.result.get()["CSRFPreventionToken"]?.stringValue != nil)
        // the challenge belongs to alice only
        #expect(
            status(
                await h.call(
                    "POST", "/access/ticket",
                    ["username": "bob@pve", "tfa-challenge": partial.ticket!, "password": "totp:\(totp.code(at: h.access.now))"])) == 401)
        // a recovery code works once
        let viaRecovery = await h.call(
            "POST", "/access/ticket", ["username": "alice@pve", "tfa-challenge": partial.ticket!, "password": "recovery:\(codes[3])"])
        #expect(status(viaRecovery) == 200)
        #expect(
            status(
                await h.call(
                    "POST", "/access/ticket", ["username": "alice@pve", "tfa-challenge": partial.ticket!, "password": "recovery:\(codes[3])"])) == 401
        )
        // or all in one request with otp
        #expect(
            status(
                await h.call("POST", "/access/ticket", ["username": "alice@pve", "password": "alice-secret-1", "otp": totp.code(at: h.access.now)]))
                == 200)
        let listed = try await h.call("GET", "/access/tfa/alice@pve", as: alice).result.get()
        #expect(listed.arrayValue?.count == 2)
    }

    @Test func totpCodesFollowRFC6238() {
        // RFC 6238 appendix B, SHA-1, 8 digits
        let totp = TOTP(secret: Array("12345678901234567890".utf8), digits: 8)
        #expect(totp.code(at: 59) == "94287082")
        #expect(totp.code(at: 1_111_111_109) == "07081804")
        #expect(totp.code(at: 2_000_000_000) == "69279037")
        #expect(TOTP(uri: totp.uri(label: "x")) == totp)
        #expect(Base32.decode(Base32.encode([1, 2, 3, 250])) == [1, 2, 3, 250])
        #expect(TOTP(uri: "otpauth://totp/x?secret=AAAA") == nil)  // too short a secret
    }

    @Test func poolsGrantTheirMembersAndNothingElse() async throws {
        let root = try await setUpUsers()
        #expect(status(await h.call("POST", "/pools", ["poolid": "blue", "comment": "team blue"], as: root)) == 200)
        #expect(status(await h.call("PUT", "/pools", ["poolid": "blue", "vms": "300,301", "storage": "local"], as: root)) == 200)
        #expect(status(await h.call("POST", "/pools", ["poolid": "red"], as: root)) == 200)
        // a VM is in one pool at a time unless moved explicitly
        #expect(status(await h.call("PUT", "/pools", ["poolid": "red", "vms": "301"], as: root)) == 400)
        #expect(status(await h.call("PUT", "/pools", ["poolid": "red", "vms": "301", "allow-move": "1"], as: root)) == 200)
        #expect(status(await h.call("PUT", "/access/acl", ["path": "/pool/blue", "users": "bob@pve", "roles": "PVEVMUser"], as: root)) == 200)
        let (_, bob) = await h.login("bob@pve", "bob-secret-22")
        #expect(status(await h.call("POST", "/test/300/power", as: bob)) == 200)
        #expect(status(await h.call("POST", "/test/301/power", as: bob)) == 403)  // moved to red
        let pool = try await h.call("GET", "/pools/blue", as: root).result.get()
        #expect(pool["members"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["qemu/300", "storage/local"])
        #expect(status(await h.call("DELETE", "/pools", ["poolid": "blue"], as: root)) == 500)  // not empty: a die in PVE
        #expect(status(await h.call("PUT", "/pools", ["poolid": "blue", "vms": "300", "storage": "local", "delete": "1"], as: root)) == 200)
        #expect(status(await h.call("DELETE", "/pools", ["poolid": "blue"], as: root)) == 200)
        #expect(status(await h.call("POST", "/test/300/power", as: bob)) == 403)
        #expect(status(await h.call("POST", "/pools", ["poolid": "x/y"], as: root)) == 400)  // no parent
    }

    @Test func rolesAndGroupsRoundTrip() async throws {
        let root = try await setUpUsers()
        #expect(status(await h.call("POST", "/access/roles", ["roleid": "Restarter", "privs": "VM.Audit,VM.PowerMgmt"], as: root)) == 200)
        #expect(status(await h.call("PUT", "/access/acl", ["path": "/vms/200", "groups": "ops", "roles": "Restarter"], as: root)) == 200)
        let (_, alice) = await h.login("alice@pve", "alice-secret-1")
        #expect(status(await h.call("POST", "/test/200/power", as: alice)) == 200)  // through her group
        let acl = try await h.call("GET", "/access/acl", as: root).result.get()
        #expect(acl.arrayValue?.contains { $0["ugid"] == "ops" && $0["type"] == "group" && $0["roleid"] == "Restarter" } == true)
        let text = try h.fs.readString("user.cfg")
        #expect(text.contains("role:Restarter:VM.Audit,VM.PowerMgmt:"))
        #expect(text.contains("acl:1:/vms/200:@ops:Restarter:"))
        #expect(status(await h.call("DELETE", "/access/roles/Restarter", as: root)) == 200)
        #expect(status(await h.call("POST", "/test/200/power", as: alice)) == 403)
    }
}

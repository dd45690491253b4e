import Foundation
import TLS
import Testing

@testable import Access

@Suite struct UserConfigTests {
    static let sample = """
        user:alice@pve:1:1767225600:Alice:M%C3%BCller:alice@ex.com:ops%3A lead:x:
        token:alice@pve!ci:0:1:build bot:
        user:root@pam:1:0:::admin@example.com:::

        group:admins:alice@pve:Site admins:

        pool:web:Web tier:100,101:local-lvm:

        role:VMRestart:VM.Audit,VM.PowerMgmt:

        acl:1:/:@admins:Administrator:
        acl:0:/vms/100:alice@pve,alice@pve!ci:PVEVMUser,VMRestart:

        """

    @Test func parsesEveryLineTypeAndWritesItBackCanonically() {
        let config = UserConfig.parse(Self.sample)
        let alice = config.users["alice@pve"]
        #expect(alice?.lastname == "Müller")
        #expect(alice?.comment == "ops: lead")
        #expect(alice?.expire == 1_767_225_600)
        #expect(config.tokens["alice@pve!ci"]?.privsep == true)
        #expect(config.tokens["alice@pve!ci"]?.comment == "build bot")
        #expect(config.groups["admins"]?.members == ["alice@pve"])
        #expect(config.pools["web"]?.vms == [100, 101])
        #expect(config.customRoles["VMRestart"] == ["VM.Audit", "VM.PowerMgmt"])
        #expect(config.acl.count == 5)
        #expect(config.acl.contains(UserConfig.ACLEntry(path: "/vms/100", ugid: "alice@pve!ci", role: "VMRestart", propagate: false)))
        #expect(config.serialized() == Self.sample)
        #expect(UserConfig.parse(config.serialized()) == config)
        // what PVE may have written with more escaping reads the same
        #expect(UserConfig.parse(Self.sample.replacingOccurrences(of: "build bot", with: "build%20bot")) == config)
    }

    @Test func forgivesWhatPVEForgivesAndDropsWhatItDrops() {
        let config = UserConfig.parse(
            """
            # a comment
            user:bad user@pve:1:0::::::
            user:bob@pve:1:notanumber::::::
            token:ghost@pve!t:0:1::
            role:Administrator:Sys.Audit:
            role:Mine:Sys.Audit,No.Such.Priv:
            acl:1:/vms/100:root@pam:PVEAdmin:
            acl:1:relative/path:bob@pve:PVEAdmin:
            something:else:
            """)
        #expect(config.users.keys.sorted() == ["root@pam"])  // root@pam is always there
        #expect(config.tokens.isEmpty)  // its user does not exist
        #expect(config.roles["Administrator"] == Privileges.allSet)  // built-ins cannot be redefined
        #expect(config.customRoles["Mine"] == ["Sys.Audit"])
        #expect(config.acl.isEmpty)  // root@pam's ACLs are never kept; paths must be absolute
    }

    @Test func privilegesAndBuiltinRolesAreThoseOfPVE9() {
        #expect(Privileges.all.count == 47)
        #expect(Privileges.builtinRoles.count == 17)
        let sizes = Privileges.builtinRoles.mapValues(\.count)
        #expect(sizes["Administrator"] == 47 && sizes["NoAccess"] == 0 && sizes["PVEAdmin"] == 40)
        #expect(sizes["PVEVMAdmin"] == 23 && sizes["PVEVMUser"] == 10 && sizes["PVEAuditor"] == 7)
        for (role, privileges) in Privileges.builtinRoles { #expect(privileges.isSubset(of: Privileges.allSet), "\(role)") }
    }
}

@Suite struct PermissionTests {
    let evaluator = PermissionEvaluator(
        UserConfig.parse(
            """
            user:root@pam:1:0::::::
            user:vmuser@pve:1:0::::::
            token:vmuser@pve!sep:0:1::
            token:vmuser@pve!full:0:0::
            user:auditor@pve:1:0::::::
            user:ops@pve:1:0::::::
            user:pooled@pve:1:0::::::
            group:operators:ops@pve:
            pool:blue::200:local:
            acl:1:/:auditor@pve:PVEAuditor:
            acl:1:/vms/100:vmuser@pve:PVEVMUser:
            acl:1:/:@operators:PVEVMAdmin:
            acl:1:/vms/666:@operators:NoAccess:
            acl:1:/vms/300:ops@pve:PVEAuditor:
            acl:1:/pool/blue:pooled@pve:PVEVMUser:
            acl:1:/vms/100:vmuser@pve!sep:PVEAuditor:
            """))

    @Test func aVMUserPowersItsVMOnlyAndSeesNoStorage() {
        let u = Identity.user("vmuser@pve")
        #expect(evaluator.has(u, ["VM.PowerMgmt"], on: "/vms/100"))
        #expect(!evaluator.has(u, ["VM.PowerMgmt"], on: "/vms/101"))
        #expect(!evaluator.has(u, ["Datastore.Audit"], on: "/storage/local"))
        #expect(!evaluator.has(u, ["VM.Allocate"], on: "/vms/100"))
    }

    @Test func anAuditorReadsButCannotWrite() {
        let a = Identity.user("auditor@pve")
        #expect(evaluator.has(a, ["Sys.Audit"], on: "/nodes/n1"))
        #expect(evaluator.has(a, ["VM.Audit"], on: "/vms/123"))
        #expect(evaluator.has(a, ["Datastore.Audit"], on: "/storage/local"))
        #expect(!evaluator.has(a, ["VM.PowerMgmt", "Sys.Modify", "Datastore.Allocate"], on: "/vms/123", any: true))
    }

    @Test func tokensWithPrivilegeSeparationGetTheIntersection() {
        // no ACL of its own on /vms/101: nothing there
        #expect(evaluator.privileges(.token(user: "vmuser@pve", id: "vmuser@pve!sep"), on: "/vms/101").isEmpty)
        // own PVEAuditor ∩ user's PVEVMUser on /vms/100 = VM.Audit and the guest agent audit
        #expect(evaluator.privileges(.token(user: "vmuser@pve", id: "vmuser@pve!sep"), on: "/vms/100") == ["VM.Audit", "VM.GuestAgent.Audit"])
        // without separation a token is its user
        #expect(evaluator.has(.token(user: "vmuser@pve", id: "vmuser@pve!full"), ["VM.PowerMgmt"], on: "/vms/100"))
        #expect(evaluator.has(.token(user: "root@pam", id: "root@pam!x"), ["Sys.Modify"], on: "/") == false)
    }

    @Test func deeperEntriesReplaceInheritedOnesAndNoAccessWins() {
        let ops = Identity.user("ops@pve")
        #expect(evaluator.has(ops, ["VM.Allocate"], on: "/vms/100"))
        #expect(evaluator.privileges(ops, on: "/vms/666").isEmpty)  // NoAccess on a subtree
        // the user's own entry at /vms/300 replaces the group's inherited admin role
        #expect(evaluator.has(ops, ["VM.Audit"], on: "/vms/300"))
        #expect(!evaluator.has(ops, ["VM.PowerMgmt"], on: "/vms/300"))
        #expect(evaluator.has(.user("root@pam"), Privileges.all, on: "/vms/666"))
    }

    @Test func poolRolesReachTheirMembersOnly() {
        let p = Identity.user("pooled@pve")
        #expect(evaluator.has(p, ["VM.PowerMgmt"], on: "/vms/200"))
        #expect(!evaluator.has(p, ["VM.PowerMgmt"], on: "/vms/201"))
        #expect(!evaluator.has(p, ["VM.PowerMgmt"], on: "/vms/200/sub"))
    }
}

@Suite struct TicketTests {
    static let key = try! RSAKey.generate()

    @Test func ticketsVerifyWithinTheirLifetimeOnly() throws {
        let keys = TicketKeys(current: Self.key, currentCreated: 1_700_000_000)
        let t = 1_700_000_100
        let ticket = try Ticket.assemble(data: "alice@pve", time: t, key: Self.key)
        #expect(ticket.hasPrefix("PVE:alice@pve:6553F164::"))
        #expect(ticket.hasSuffix("=="))  // standard base64 of a 2048-bit signature
        #expect(Ticket.verify(ticket, keys: keys, now: t + 10)?.data == "alice@pve")
        #expect(Ticket.verify(ticket, keys: keys, now: t + 7199) != nil)
        #expect(Ticket.verify(ticket, keys: keys, now: t + 7200) == nil)  // expired
        #expect(Ticket.verify(ticket, keys: keys, now: t - 300) == nil)  // from the future
        #expect(Ticket.verify(ticket.replacingOccurrences(of: "alice", with: "admin"), keys: keys, now: t) == nil)
        #expect(Ticket.verify(ticket, prefix: "PVEVNC", keys: keys, now: t) == nil)
        // extra authenticated data must match
        let partial = try Ticket.assemble(data: "!tfa!{\"totp\":true}", time: t, key: Self.key, aad: "alice@pve")
        #expect(partial.contains("%3A"))
        #expect(Ticket.verify(partial, keys: keys, now: t, aad: "alice@pve")?.data == "!tfa!{\"totp\":true}")
        #expect(Ticket.verify(partial, keys: keys, now: t, aad: "bob@pve") == nil)
    }

    @Test func aRotatedKeyStillVerifiesTicketsIssuedBeforeTheRotation() throws {
        let rotation = 1_700_086_400
        let newKey = try RSAKey.generate()
        let keys = TicketKeys(current: newKey, currentCreated: rotation, previousPublicPEM: Self.key.publicPEM, previousCreated: rotation - 86400)
        let before = try Ticket.assemble(data: "alice@pve", time: rotation - 3600, key: Self.key)
        #expect(Ticket.verify(before, keys: keys, now: rotation + 60) != nil)
        // the old key cannot mint tickets after the rotation
        let forged = try Ticket.assemble(data: "alice@pve", time: rotation + 3600, key: Self.key)
        #expect(Ticket.verify(forged, keys: keys, now: rotation + 3700) == nil)
        let after = try Ticket.assemble(data: "alice@pve", time: rotation + 3600, key: newKey)
        #expect(Ticket.verify(after, keys: keys, now: rotation + 3700) != nil)
    }

    @Test func csrfTokensMatchPVEsConstruction() {
        // vector computed with PVE's own algorithm (HMAC-SHA256, unpadded base64)
        let file = Array("secretfilecontents\n".utf8)
        let token = CSRFToken.make(keyFile: file, user: "root@pam", time: 0x65F0_0000)
        #expect(token == "65F00000:gLp90KmQ4914/8MM4QgAL7tJKagOPeYMr2nQ3bwZEgc")
        #expect(CSRFToken.verify(token, keyFile: file, user: "root@pam", now: 0x65F0_0000 + 60))
        #expect(!CSRFToken.verify(token, keyFile: file, user: "alice@pve", now: 0x65F0_0000 + 60))
        #expect(!CSRFToken.verify(token, keyFile: file, user: "root@pam", now: 0x65F0_0000 + 7200))
        #expect(!CSRFToken.verify("garbage", keyFile: file, user: "root@pam", now: 0))
    }
}

import Testing

@testable import Access

/// What a realm sync does to user.cfg, from a directory's answer (the directory itself is slapd's,
/// in the compat stage `realms`).
@Suite struct RealmSyncTests {
    static let directory = RealmSync.Directory(
        users: ["alice@corp": ["email": "alice@corral.test", "firstname": "Alice"], "new@corp": ["lastname": "New"]],
        groups: ["devs-corp": ["alice@corp", "new@corp"]])

    static func config() -> UserConfig {
        var config = UserConfig()
        var alice = UserConfig.User(id: "alice@corp")
        alice.comment = "by hand"
        alice.enable = false
        config.users["alice@corp"] = alice
        config.users["gone@corp"] = UserConfig.User(id: "gone@corp")
        config.users["gone@pve"] = UserConfig.User(id: "gone@pve")
        config.tokens["gone@corp!ci"] = UserConfig.Token(id: "gone@corp!ci")
        var old = UserConfig.Group(id: "old-corp")
        old.members = ["gone@corp"]
        config.groups["old-corp"] = old
        var devs = UserConfig.Group(id: "devs-corp")
        devs.comment = "developers"
        config.groups["devs-corp"] = devs
        config.acl = [
            .init(path: "/", ugid: "gone@corp", role: "PVEAuditor", propagate: true),
            .init(path: "/", ugid: "@old-corp", role: "PVEAuditor", propagate: true),
            .init(path: "/", ugid: "gone@pve", role: "PVEAuditor", propagate: true),
        ]
        return config
    }

    @Test func withoutRemoveVanishedOnlyAddsAndUpdates() {
        var config = Self.config()
        let log = RealmSync.apply(Self.directory, to: &config, realm: "corp", options: .init(scope: "both", enableNew: false))
        #expect(
            log == [
                "syncing users (remove-vanished opts: none)", "updating user 'alice@corp'", "adding user 'new@corp'",
                "syncing groups (remove-vanished opts: none)", "updating group 'devs-corp'",
            ])
        // updated: the directory's fields over the stored ones, the rest kept (enable too)
        #expect(config.users["alice@corp"]?.comment == "by hand" && config.users["alice@corp"]?.email == "alice@corral.test")
        #expect(config.users["alice@corp"]?.enable == false)
        #expect(config.users["new@corp"]?.enable == false && config.users["new@corp"]?.lastname == "New")
        #expect(config.users["gone@corp"] != nil && config.groups["old-corp"] != nil && config.acl.count == 3)
        #expect(config.groups["devs-corp"]?.members == ["alice@corp", "new@corp"] && config.groups["devs-corp"]?.comment == "developers")
    }

    @Test func everyRemoveVanishedOption() {
        var config = Self.config()
        let options = RealmSync.Options(scope: "both", removeVanished: ["acl", "entry", "properties"])
        let log = RealmSync.apply(Self.directory, to: &config, realm: "corp", options: options)
        #expect(log.contains("remove user 'gone@corp'") && log.contains("purge users 'gone@corp' ACL entries"))
        #expect(log.contains("remove group 'old-corp'") && log.contains("purge groups 'old-corp' ACL entries"))
        #expect(log.contains("overwriting user 'alice@corp'") && log.contains("overwriting group 'devs-corp'"))
        #expect(config.users["gone@corp"] == nil && config.tokens["gone@corp!ci"] == nil && config.groups["old-corp"] == nil)
        // another realm's user of the same name stays, with its ACL
        #expect(config.users["gone@pve"] != nil && config.acl.map(\.ugid) == ["gone@pve"])
        // overwritten: only the directory's fields and the old enable
        #expect(config.users["alice@corp"]?.comment == "" && config.users["alice@corp"]?.enable == false)
        #expect(config.groups["devs-corp"]?.comment == "")
    }

    @Test func aUsersOnlySyncLeavesGroups() {
        var config = Self.config()
        let log = RealmSync.apply(Self.directory, to: &config, realm: "corp", options: .init(scope: "users", removeVanished: ["entry"]))
        #expect(!log.contains { $0.contains("group") })
        #expect(config.groups["old-corp"] != nil && config.groups["old-corp"]?.members == [])
    }

    @Test func optionsComeFromParametersThenTheRealmsDefaults() throws {
        let realm = Realm(id: "corp", type: "ldap", options: ["sync-defaults-options": "enable-new=0,purge=1,scope=groups"])
        let fromDefaults = try RealmSync.options(realm: realm, scope: nil, removeVanished: nil, enableNew: nil, dryRun: false)
        #expect(fromDefaults == .init(scope: "groups", removeVanished: ["acl"], enableNew: false))
        let given = try RealmSync.options(realm: realm, scope: "both", removeVanished: "entry;properties", enableNew: true, dryRun: true)
        #expect(given == .init(scope: "both", removeVanished: ["entry", "properties"], enableNew: true, dryRun: true))
        #expect(throws: AccessError.self) {
            try RealmSync.options(realm: Realm(id: "x", type: "ldap"), scope: nil, removeVanished: nil, enableNew: nil, dryRun: false)
        }
        #expect(throws: AccessError.self) { try RealmSync.options(realm: realm, scope: nil, removeVanished: "all", enableNew: nil, dryRun: false) }
    }

    @Test func directoryValuesAreChecked() {
        #expect(RealmSync.invalidUserID("@corp") != nil)
        #expect(RealmSync.invalidUserID("a b@corp") != nil)
        #expect(RealmSync.invalidUserID("alice@corp") == nil)
        #expect(RealmSync.invalidField("email", "not-an-address") != nil)
        #expect(RealmSync.invalidField("email", "a@b.test") == nil)
        #expect(RealmSync.invalidField("expire", "-1") != nil)
        #expect(RealmSync.firstRDNValue("cn=Domain Users, ou=groups,dc=x") == "Domain Users")
    }
}

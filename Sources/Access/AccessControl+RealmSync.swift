import Foundation

extension AccessControl {
    /// A sync's options for realm `id` from a request's or a job's values, checked before any task
    /// starts: an unknown realm, a type that cannot sync or no scope anywhere is the caller's error,
    /// not a failed task.
    public func syncOptions(
        realm id: String, scope: String?, removeVanished: String?, enableNew: Bool?, dryRun: Bool
    ) throws(AccessError)
        -> RealmSync.Options
    {
        guard let realm = realms.first(where: { $0.id == id }) else {
            throw AccessError(400, "Parameter verification failed.", errors: ["realm": "Realm does not exist."])
        }
        guard realm.type == "ldap" || realm.type == "ad" else {
            throw AccessError(400, "Cannot sync realm type '\(realm.type)'! Only LDAP/AD realms can be synced.")
        }
        return try RealmSync.options(realm: realm, scope: scope, removeVanished: removeVanished, enableNew: enableNew, dryRun: dryRun)
    }

    /// Syncs directory realm `id` into user.cfg as `options` say, telling `log` what it does in
    /// PVE's words. The directory is read before user.cfg is locked; then the whole change is one
    /// write (or none: a dry run, or any failure). Blocking.
    public func syncRealm(_ id: String, options: RealmSync.Options, log: (String) -> Void) throws {
        guard let realm = realms.first(where: { $0.id == id }) else {
            throw AccessError(400, "Parameter verification failed.", errors: ["realm": "Realm does not exist."])
        }
        guard realm.type == "ldap" || realm.type == "ad" else {
            throw AccessError(400, "Cannot sync realm type '\(realm.type)'! Only LDAP/AD realms can be synced.")
        }
        if options.dryRun { log("(dry test run) starting sync for realm \(id)") }
        let directory = try RealmSync.read(realm: realm, bindPassword: realmPassword(id), scope: options.scope)
        for warning in directory.warnings { log(warning) }
        log("got data from server, updating \(options.what)")
        if options.dryRun {
            var config = userConfig
            for line in RealmSync.apply(directory, to: &config, realm: id, options: options) { log(line) }
            log("")
            log("NOTE: Dry test run, changes were NOT written to the configuration.")
            return
        }
        let lines: [String]
        do {
            lines = try updateUserConfig { config in RealmSync.apply(directory, to: &config, realm: id, options: options) }
        } catch {
            throw AccessError(500, "syncing \(options.what) failed: \(error)")
        }
        for line in lines { log(line) }
        log("successfully updated \(options.what) configuration")
    }
}

import ClusterFS
import Guests
import HA
import Schema
import Synchronization

extension HAService {
    /// Answers `GuestHA` for this process: whether a guest is an HA resource (from `ha/resources.cfg`,
    /// parsed again only when the file changed: every guest's status asks) and the state requests.
    func installGuestHandlers() {
        let tree = tree
        let cache = Synchronization.Mutex<(version: UInt64, states: [String: String])?>(nil)
        GuestHA.shared.install(
            GuestHA.Handlers(
                requested: { sid in
                    guard let stamp = try? tree.stamp(Self.resourcesFile) else { return nil }
                    if let cached = cache.withLock({ $0 }), cached.version == stamp.version { return cached.states[sid] }
                    let text = (try? tree.readString(Self.resourcesFile)) ?? ""
                    let states = ((try? HAConfig.resources(resources: text)) ?? [:]).mapValues(\.state)
                    cache.withLock { $0 = (stamp.version, states) }
                    return states[sid]
                },
                request: { sid, state in
                    let store = HAConfigStore(tree: tree)
                    try store.modify(Self.resourcesFile, digest: nil) { config in
                        guard let section = config.sections.first(where: { "\($0.type):\($0.id)" == sid }) else { return }
                        var changed = section
                        changed["state"] = state
                        config[section.id] = changed
                    }
                },
                migrate: { sid, target in try HAConfigStore(tree: tree).append(.move(.init(sid: sid, target: target, relocate: false))) }))
    }
}

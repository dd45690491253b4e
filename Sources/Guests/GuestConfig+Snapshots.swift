import Foundation
import Schema

extension GuestConfig {
    /// Refuses a name that is invalid, reserved or taken, and templates (they take no snapshots).
    public func checkNewSnapshot(_ name: String, isTemplate: Bool) throws {
        guard Self.isValidSnapshotName(name), name != "current", name != "PENDING" else {
            throw GuestError.parameter("snapname", "invalid snapshot name '\(name)'")
        }
        if snapshots[name] != nil { throw GuestError(500, "snapshot name '\(name)' already used") }
        if isTemplate { throw GuestError(500, "you can't take a snapshot of a template") }
    }

    /// Records the current config as snapshot `name` (its parent the current one's), and makes it the
    /// current config's parent.
    public mutating func recordSnapshot(_ name: String, description: String?, extra: [String: String?] = [:]) {
        var section = current
        section["lock"] = nil
        section["snaptime"] = "\(Int(Date().timeIntervalSince1970))"
        section.description = description
        for (key, value) in extra { section[key] = value }
        snapshots[name] = section
        current["parent"] = name
        current["lock"] = nil
    }

    /// Makes snapshot `name` the current config again (keeping the current description); pending
    /// changes are dropped.
    public mutating func restoreSnapshot(_ name: String, dropping keys: [String] = []) {
        guard var section = snapshots[name] else { return }
        section["snaptime"] = nil
        for key in keys { section[key] = nil }
        section.description = current.description
        section["parent"] = name
        current = section
        pending = Section()
        pendingDelete = []
    }

    /// Removes snapshot `name`; its children (and the current config) get its parent.
    public mutating func removeSnapshot(_ name: String) {
        let parent = snapshots[name]?["parent"]
        snapshots[name] = nil
        for (other, var section) in snapshots where section["parent"] == name {
            section["parent"] = parent
            snapshots[other] = section
        }
        if current["parent"] == name { current["parent"] = parent }
    }

    /// The snapshot tree as PVE lists it: each snapshot, then `current` ("You are here!").
    public func snapshotList(digest: String, running: Bool) -> [JSON] {
        var out: [JSON] = snapshots.keys.sorted().map { name in
            let s = snapshots[name]!
            var item: [String: JSON] = ["name": .string(name), "description": .string(s.description ?? "")]
            if let t = s["snaptime"].flatMap({ Int64($0) }) { item["snaptime"] = .int(t) }
            if s["vmstate"] != nil { item["vmstate"] = 1 }
            if let parent = s["parent"] { item["parent"] = .string(parent) }
            return .object(item)
        }
        var here: [String: JSON] = ["name": "current", "description": "You are here!", "digest": .string(digest), "running": running ? 1 : 0]
        if let parent = current["parent"] { here["parent"] = .string(parent) }
        out.append(.object(here))
        return out
    }
}

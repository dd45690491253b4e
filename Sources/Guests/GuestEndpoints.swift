import API
import Schema

/// Pieces every guest type's endpoints share.
public enum GuestEndpoints {
    /// Runs `work` as a task named `type` for the guest and returns its UPID.
    public static func task(
        _ context: RequestContext, _ type: String, _ vmid: Int, _ work: @escaping @Sendable (@escaping @Sendable (String) -> Void) async throws -> Void
    ) throws -> JSON {
        let upid = try context.services.tasks.start(type: type, id: "\(vmid)", user: context.user) { log in
            try await work { log.log($0) }
        }
        return .string(upid.description)
    }

    /// The config as the API returns it: values, description, digest (pending applied unless
    /// `current`). `stringKeys` stay strings even when they look numeric, as PVE's schema says.
    public static func configJSON(_ config: GuestConfig, digest: String, current: Bool, stringKeys: [String]) -> [String: JSON] {
        var view = config
        if !current, !view.pending.values.isEmpty || !view.pendingDelete.isEmpty {
            for (key, value) in view.pending.values { view.current[key] = value }
            for (key, _) in view.pendingDelete { view.current[key] = nil }
        }
        var out: [String: JSON] = view.current.values.mapValues { value in
            if let n = Int64(value), !value.hasPrefix("0") || value == "0" { return .int(n) }
            return .string(value)
        }
        for key in stringKeys { if let v = view.current[key] { out[key] = .string(v) } }
        if let description = view.current.description { out["description"] = .string(description) }
        if !view.current.lxc.isEmpty { out["lxc"] = .array(view.current.lxc.map { .array([.string($0.key), .string($0.value)]) }) }
        out["digest"] = .string(digest)
        return out
    }

    /// The config of one snapshot, or of the guest (GET …/config with `snapshot`).
    public static func configResponse(_ config: GuestConfig, digest: String, snapshot: String?, current: Bool, stringKeys: [String]) throws -> JSON {
        if let name = snapshot {
            guard let section = config.snapshots[name] else { throw APIError(500, "snapshot '\(name)' does not exist") }
            var view = GuestConfig()
            view.current = section
            return .object(configJSON(view, digest: digest, current: true, stringKeys: stringKeys))
        }
        return .object(configJSON(config, digest: digest, current: current, stringKeys: stringKeys))
    }

    /// `skiplock` is root@pam's.
    public static func checkSkiplock(_ context: RequestContext) throws -> Bool {
        let skiplock = context.bool("skiplock") ?? false
        if skiplock && context.user != "root@pam" { throw APIError(403, "Only root may use option 'skiplock'") }
        return skiplock
    }
}

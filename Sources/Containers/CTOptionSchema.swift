import API
import Guests
import Schema

/// The container option schema, from PVE's facts for `POST /nodes/{node}/lxc`: every option PVE
/// accepts is accepted and range-checked the same way.
public enum CTOptionSchema {
    static let schema = GuestOptionSchema(
        method: "POST /nodes/{node}/lxc",
        apiOnly: [
            "node", "vmid", "ostemplate", "password", "ssh-public-keys", "restore", "force", "unique", "pool", "start",
            "storage", "bwlimit", "ignore-unpack-errors", "ha-managed", "delete", "digest", "revert",
        ])

    public static var create: [String: Schema] { schema.create }
    public static func option(_ key: String) -> Schema? { schema.option(key) }
    public static func format(_ key: String) -> PropertyStringFormat? { schema.format(key) }
    public static func options(from parameters: [String: JSON]) -> [String: String] { schema.options(from: parameters) }

    /// Keys naming a volume: the root file system, mount points and detached volumes.
    public static func isVolume(_ key: String) -> Bool {
        key == "rootfs" || Schema.indexedFamily(key) == "mp" || Schema.indexedFamily(key) == "unused"
    }

    /// Options a running container cannot take at once; they go to `[PENDING]`.
    static func needsRestart(_ key: String) -> Bool {
        let family = Schema.indexedFamily(key) ?? key
        return !["onboot", "startup", "protection", "tags", "description", "memory", "swap", "cpulimit", "cpuunits", "lock", "cmode", "console"]
            .contains(family)
    }
}

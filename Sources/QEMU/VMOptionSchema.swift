import API
import Guests
import Schema

/// The VM option schema, from PVE's interface facts: every option PVE accepts is accepted here,
/// typed and range-checked the same way. What Corral cannot run yet is refused at start
/// (`DomainXML.unsupported`), never silently dropped.
public enum VMOptionSchema {
    static let schema = GuestOptionSchema(
        method: "POST /nodes/{node}/qemu",
        apiOnly: [
            "node", "vmid", "archive", "storage", "force", "unique", "pool", "start", "bwlimit", "live-restore",
            "import-working-storage", "ha-managed", "delete", "digest", "revert", "skiplock", "background_delay",
        ])

    /// POST /nodes/{node}/qemu.
    public static var create: [String: Schema] { schema.create }

    /// The schema of one config key (`scsi3` finds `scsi[n]`), or nil for an unknown key.
    public static func option(_ key: String) -> Schema? { schema.option(key) }

    /// The property-string format of an option (`net0`, `scsi0`, `boot`, …), if it has one.
    public static func format(_ key: String) -> PropertyStringFormat? { schema.format(key) }

    /// Disk buses and their index limits.
    public static let buses = ["ide": 4, "sata": 6, "scsi": 31, "virtio": 16]

    /// Whether a key names a drive (`scsi0`, `ide2`, `efidisk0`, `tpmstate0`, `unused3`).
    public static func isDrive(_ key: String) -> Bool {
        guard let family = Schema.indexedFamily(key) else { return false }
        return buses[family] != nil || key == "efidisk0" || key == "tpmstate0"
    }
}

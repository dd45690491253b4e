import Foundation
import Glibc
import Storage

/// Backup checkpoints of a running VM live as persistent bitmaps in its qcow2 disks, while
/// libvirt forgets the checkpoints of a transient domain when it stops. So at start, Corral's own
/// bitmaps (`corral-…`) are removed: the next backup begins a new chain with a full read, and no
/// bitmap goes on tracking writes for nothing.
enum StaleBitmaps {
    /// Whether the qcow2 header has a bitmaps extension (read from the header itself: a start
    /// pays for qemu-img only when there is something to remove).
    static func present(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let header = [UInt8]((try? handle.read(upToCount: 65536)) ?? Data())
        func be32(_ at: Int) -> UInt32 { at + 4 <= header.count ? (0..<4).reduce(0) { $0 << 8 | UInt32(header[at + $1]) } : 0 }
        guard header.count >= 104, be32(0) == 0x5146_49fb, be32(4) >= 3 else { return false }
        var at = Int(be32(100))
        while at + 8 <= header.count {
            let type = be32(at), length = Int(be32(at + 4))
            if type == 0 { return false }
            if type == 0x2385_2875 { return true }
            at += 8 + (length + 7) / 8 * 8
        }
        return false
    }

    /// Removes Corral's bitmaps from a stopped VM's qcow2 disk; failures are logged, never fatal.
    static func remove(from path: String, log: (String) -> Void) {
        guard present(path), let info = try? Command.execute(["qemu-img", "info", "-U", "--output=json", path]), info.status == 0,
            let json = try? JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any],
            let specific = (json["format-specific"] as? [String: Any])?["data"] as? [String: Any],
            let bitmaps = specific["bitmaps"] as? [[String: Any]]
        else { return }
        for name in bitmaps.compactMap({ $0["name"] as? String }) where name.hasPrefix("corral-") {
            let result = try? Command.execute(["qemu-img", "bitmap", "--remove", path, name])
            log(result?.status == 0 ? "removed the backup bitmap '\(name)' of an earlier run" : "cannot remove bitmap '\(name)' of \(path)")
        }
    }
}

import ClusterFS
import Schema
import Synchronization

/// Parsed configs and the parsed `.vmlist`, kept between calls: a node with a thousand guests
/// lists and reads them every second (the event stream's comparison) and every sampling cycle,
/// and parsing them again each time was most of that work.
enum GuestStoreCache {
    private static let configs = Mutex<[String: (version: UInt64, config: GuestConfig, digest: String)]>([:])
    private static let lastVmlist = Mutex<(bytes: [UInt8], ids: [Int: (node: String, type: String)])?>(nil)

    static func key(_ fs: any ConfigTree, _ path: String) -> String { "\((fs as? ClusterFS)?.instance ?? 0):\(path)" }

    static func config(_ fs: any ConfigTree, _ path: String, _ version: UInt64) -> (config: GuestConfig, digest: String)? {
        configs.withLock { all in all[key(fs, path)].flatMap { $0.version == version ? ($0.config, $0.digest) : nil } }
    }

    static func keep(_ fs: any ConfigTree, _ path: String, _ version: UInt64, _ loaded: (config: GuestConfig, digest: String)) {
        configs.withLock { all in
            // bounded: a node that churned through many guests starts over rather than growing
            if all.count > 20_000 { all.removeAll() }
            all[key(fs, path)] = (version, loaded.config, loaded.digest)
        }
    }

    /// `.vmlist`'s ids, parsed again only when its bytes changed.
    static func vmlist(_ data: [UInt8]) -> [Int: (node: String, type: String)]? {
        if let cached = lastVmlist.withLock({ $0 }), cached.bytes == data { return cached.ids }
        guard let ids = (try? JSONParser.parse(data))?["ids"]?.objectValue else { return nil }
        var out: [Int: (node: String, type: String)] = [:]
        for (id, entry) in ids {
            guard let vmid = Int(id), let node = entry["node"]?.stringValue, let type = entry["type"]?.stringValue else { continue }
            out[vmid] = (node, type)
        }
        lastVmlist.withLock { $0 = (data, out) }
        return out
    }
}

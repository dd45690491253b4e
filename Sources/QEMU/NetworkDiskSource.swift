import Foundation

/// A disk QEMU reaches over the network itself, no local device in between: what a storage's `path`
/// answers for such volumes, in Corral's URL forms, and the libvirt `<source>` it becomes.
///
/// - `iscsi://HOST[:PORT]/TARGET/LUN` — QEMU's libiscsi (`iscsidirect`)
/// - `rbd://[USER@]MON[:PORT][,MON…]/POOL/IMAGE` — QEMU's librbd (`rbd` without `krbd`)
struct NetworkDiskSource: Equatable {
    var protocolName: String
    /// libvirt's `name`: `TARGET/LUN` or `POOL/IMAGE`.
    var name: String
    var hosts: [(name: String, port: String?)]
    var user: String?

    static func == (a: NetworkDiskSource, b: NetworkDiskSource) -> Bool {
        a.protocolName == b.protocolName && a.name == b.name && a.user == b.user && a.hosts.map(\.name) == b.hosts.map(\.name)
            && a.hosts.map(\.port) == b.hosts.map(\.port)
    }

    init?(_ path: String) {
        let scheme: String
        if path.hasPrefix("iscsi://") { scheme = "iscsi" } else if path.hasPrefix("rbd://") { scheme = "rbd" } else { return nil }
        var rest = Substring(path.dropFirst(scheme.count + 3))
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        var authority = rest[..<slash]
        rest = rest[rest.index(after: slash)...]
        if let at = authority.lastIndex(of: "@") {
            user = String(authority[..<at])
            authority = authority[authority.index(after: at)...]
        }
        hosts = authority.split(separator: ",").map { host in
            // [v6]:port, v4:port, name
            if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
                let after = host[host.index(after: close)...]
                return (String(host[host.index(after: host.startIndex)..<close]), after.hasPrefix(":") ? String(after.dropFirst()) : nil)
            }
            let parts = host.split(separator: ":", maxSplits: 1)
            return (String(parts[0]), parts.count == 2 ? String(parts[1]) : nil)
        }
        guard !hosts.isEmpty, rest.split(separator: "/").count >= 2 else { return nil }
        protocolName = scheme
        name = String(rest)
    }
}

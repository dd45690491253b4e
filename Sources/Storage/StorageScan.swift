import Foundation

/// What `/nodes/{node}/scan/…` finds on this node: volume groups, thin pools, ZFS pools, NFS
/// exports, read from the tools' machine-readable output. A tool that is not installed is named.
public enum StorageScan {
    /// `vgs --noheadings --units b --nosuffix --separator : -o vg_name,vg_size,vg_free`
    public static func volumeGroups(_ output: String) -> [(vg: String, size: Int64, free: Int64)] {
        output.split(separator: "\n").compactMap { line in
            let f = line.trimmingCharacters(in: .whitespaces).split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 3, !f[0].isEmpty, let size = Int64(f[1]), let free = Int64(f[2]) else { return nil }
            return (f[0], size, free)
        }
    }

    /// `lvs --noheadings --units b --nosuffix --separator : -o lv_name,lv_attr,lv_size,lv_metadata_size VG`: the thin pools.
    public static func thinPools(_ output: String) -> [(lv: String, size: Int64, metadataSize: Int64)] {
        output.split(separator: "\n").compactMap { line in
            let f = line.trimmingCharacters(in: .whitespaces).split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 4, f[1].hasPrefix("t"), let size = Int64(f[2]) else { return nil }
            return (f[0], size, Int64(f[3]) ?? 0)
        }
    }

    /// `zfs list -t filesystem -Hp -o name,avail,used`
    public static func zfsPools(_ output: String) -> [(pool: String, size: Int64, free: Int64)] {
        output.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "\t").map(String.init)
            guard f.count == 3, let avail = Int64(f[1]), let used = Int64(f[2]) else { return nil }
            return (f[0], avail + used, avail)
        }
    }

    /// `showmount --no-headers --exports SERVER`: a path and who may mount it.
    public static func nfsExports(_ output: String) -> [(path: String, options: String)] {
        output.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let path = parts.first, path.hasPrefix("/") else { return nil }
            return (String(path), parts.dropFirst().joined(separator: " "))
        }
    }

    /// `Target:IQN Portal:ADDRESS:PORT,TPGT` lines of `iscsi-ls -s`.
    public static func iscsiTargets(_ output: String) -> [(target: String, portal: String)] {
        output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard let target = fields.first(where: { $0.hasPrefix("Target:") }), let portal = fields.first(where: { $0.hasPrefix("Portal:") }) else {
                return nil
            }
            return (String(target.dropFirst(7)), String(portal.dropFirst(7).split(separator: ",").first ?? ""))
        }
    }

    /// `Disk|NAME|COMMENT` lines of `smbclient -g -L`; administrative shares (`NAME$`) left out.
    public static func cifsShares(_ output: String) -> [(share: String, description: String)] {
        output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 2, fields[0] == "Disk", !fields[1].hasSuffix("$") else { return nil }
            return (fields[1], fields.count > 2 ? fields[2] : "")
        }
    }

    /// Runs a scanning tool; a missing one is named, a failing one quoted.
    public static func run(_ arguments: [String], package: String) throws(StorageError) -> String {
        let result: (status: Int32, stdout: String, stderr: String)
        do { result = try Command.execute(arguments) } catch {
            throw StorageError(500, "'\(arguments[0])' is not installed on this node (Debian package \(package))")
        }
        guard result.status == 0 else {
            let message = (result.stderr + result.stdout).trimmingCharacters(in: .whitespacesAndNewlines)
            throw StorageError(500, "\(arguments[0]) failed: \(message.isEmpty ? "exit code \(result.status)" : message)")
        }
        return result.stdout
    }
}

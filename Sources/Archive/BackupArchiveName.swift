import Foundation

/// PVE's backup file names and the compressors behind their extensions.
public enum BackupArchiveName {
    /// `vzdump-<qemu|lxc>-<vmid>-<YYYY_MM_DD-HH_MM_SS>.<vma|tar>[.zst|.gz|.lzo]`, local time.
    public static func make(type: String, vmid: Int, date: Date, compress: String?) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyy_MM_dd-HH_mm_ss"
        return "vzdump-\(type)-\(vmid)-\(f.string(from: date)).\(type == "qemu" ? "vma" : "tar")\(suffix(compress))"
    }

    public static func suffix(_ compress: String?) -> String {
        switch compress {
        case "zstd": return ".zst"
        case "gzip": return ".gz"
        case "lzo", "1": return ".lzo"
        default: return ""
        }
    }

    /// The compressor reading stdin (nil: none). zstd uses every core unless told (`zstd` option),
    /// where PVE uses one.
    public static func compressor(_ compress: String?, zstdThreads: Int?) -> [String]? {
        switch compress {
        case "zstd": return ["zstd", "-q", "--threads=\(zstdThreads ?? 0)"]
        case "gzip": return ["gzip", "--rsyncable"]
        case "lzo", "1": return ["lzop"]
        default: return nil
        }
    }

    /// The decompressor for an archive file (nil: read as it is).
    public static func decompressor(_ path: String) -> [String]? {
        if path.hasSuffix(".zst") { return ["zstd", "-q", "-d", "-c"] }
        if path.hasSuffix(".gz") { return ["gzip", "-d", "-c"] }
        if path.hasSuffix(".lzo") { return ["lzop", "-d", "-c"] }
        return nil
    }

    /// The temporary name while writing: the last extension replaced by `.dat` (PVE's scheme).
    public static func temporary(_ path: String) -> String { (path as NSString).deletingPathExtension + ".dat" }

    /// The log's name: the archive's without `.vma…`/`.tar…`.
    public static func logPath(_ path: String) -> String {
        var base = path
        for ext in [".zst", ".gz", ".lzo"] where base.hasSuffix(ext) { base = String(base.dropLast(ext.count)) }
        for ext in [".vma", ".tar"] where base.hasSuffix(ext) { base = String(base.dropLast(ext.count)) }
        return base + ".log"
    }
}

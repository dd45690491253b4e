internal import CFUSE
import Glibc

/// Facts about the libfuse3 this process links (the mount itself is `FUSEMount`).
public enum FUSELibrary {
    /// The libfuse version as an integer (major * 100 + minor, e.g. 314). Stands for `fuse_version`.
    public static var version: Int { Int(fuse_version()) }

    /// The full package version string. Stands for `fuse_pkgversion`.
    public static var packageVersion: String { String(cString: fuse_pkgversion()) }

    /// Whether the kernel offers FUSE here (the device corrald opens when it mounts).
    public static var deviceAvailable: Bool { access("/dev/fuse", R_OK | W_OK) == 0 }
}

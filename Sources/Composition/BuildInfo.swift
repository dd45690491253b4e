import Foundation
import TLS

/// What this build is: the product version and a repository id. The id is the first 16 hex digits of
/// the SHA-256 of the running executable, so every distinct build reports a distinct id with no
/// build-time step to keep in sync.
public enum BuildInfo {
    public static let version = "0.1.0"

    public static let repoID: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "/proc/self/exe"
        guard let data = FileManager.default.contents(atPath: exe) else { return "0000000000000000" }
        return String(Digest.hex(Digest.sha256(Array(data))).prefix(16))
    }()
}

internal import CCrypt
import Glibc

/// Password hashes in crypt(3) form, through libxcrypt: yescrypt (`$y$`) for new hashes; any scheme
/// libxcrypt knows (SHA-512 `$6$`, …) verifies, so shadow files from PVE keep working.
public enum PasswordHash {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// A new hash of `password` with a fresh random salt. Stands for `crypt_gensalt_ra` + `crypt_r`.
    public static func make(_ password: String, prefix: String = "$y$") throws(Failure) -> String {
        guard let salt = crypt_gensalt_ra(prefix, 0, nil, 0) else {
            throw Failure(description: "crypt_gensalt failed: \(String(cString: strerror(errno)))")
        }
        defer { free(salt) }
        guard let hash = hash(password, setting: String(cString: salt)), !hash.hasPrefix("*") else {
            throw Failure(description: "crypt failed for scheme \(prefix)")
        }
        return hash
    }

    /// Whether `password` matches `stored`, compared in constant time. Stands for `crypt_r`.
    public static func verify(_ password: String, against stored: String) -> Bool {
        guard !stored.isEmpty, !stored.hasPrefix("*"), !stored.hasPrefix("!"), let computed = hash(password, setting: stored) else {
            return false
        }
        let a = Array(computed.utf8), b = Array(stored.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    private static func hash(_ password: String, setting: String) -> String? {
        // crypt_data is tens of KiB: on the heap, not the stack
        let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
        defer {
            memset(data, 0, MemoryLayout<crypt_data>.size)
            data.deallocate()
        }
        memset(data, 0, MemoryLayout<crypt_data>.size)
        guard let result = crypt_r(password, setting, data) else { return nil }
        return String(cString: result)
    }
}

internal import CPAM
import Glibc

/// Password checks against the system through PAM (the `pam` realm). Blocking: PAM modules may
/// sleep on failure, so callers run it off their event loops.
public struct PAMAuthenticator: Sendable {
    public let service: String

    public struct Failure: Error, CustomStringConvertible {
        public let code: Int32
        public let description: String
    }

    public init(service: String) { self.service = service }

    /// Authenticates `user` with `password` and checks the account is usable. Stands for
    /// `pam_start` + `pam_authenticate` + `pam_acct_mgmt` + `pam_end`.
    public func authenticate(user: String, password: String) throws(Failure) {
        guard let secret = strdup(password) else { throw Failure(code: PAM_BUF_ERR, description: "out of memory") }
        defer {
            memset(secret, 0, strlen(secret))
            free(secret)
        }
        var conversation = pam_conv(conv: corralPAMConversation, appdata_ptr: UnsafeMutableRawPointer(secret))
        var handle: OpaquePointer?
        var rc = pam_start(service, user, &conversation, &handle)
        guard rc == PAM_SUCCESS, let handle else { throw Failure(code: rc, description: "pam_start failed: \(Self.message(nil, rc))") }
        defer { pam_end(handle, rc) }
        rc = pam_authenticate(handle, Int32(PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK))
        guard rc == PAM_SUCCESS else { throw Failure(code: rc, description: Self.message(handle, rc)) }
        rc = pam_acct_mgmt(handle, Int32(PAM_SILENT))
        guard rc == PAM_SUCCESS else { throw Failure(code: rc, description: Self.message(handle, rc)) }
    }

    static func message(_ handle: OpaquePointer?, _ rc: Int32) -> String {
        guard let text = pam_strerror(handle, rc) else { return "PAM error \(rc)" }
        return String(cString: text)
    }
}

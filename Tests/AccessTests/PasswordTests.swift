import Crypt
import Foundation
import Glibc
import PAM
import TestSupport
import Testing

@Suite(.serialized) struct PasswordTests {
    @Test func hashesVerifyTheirPasswordOnly() throws {
        for prefix in ["$y$", "$6$", "$5$"] {
            let hash = try PasswordHash.make("correct horse", prefix: prefix)
            #expect(hash.hasPrefix(prefix))
            #expect(PasswordHash.verify("correct horse", against: hash))
            #expect(!PasswordHash.verify("correct horsE", against: hash))
        }
        #expect(try PasswordHash.make("x") != PasswordHash.make("x"))  // salted
        #expect(!PasswordHash.verify("", against: ""))
        #expect(!PasswordHash.verify("x", against: "!locked"))
    }

    /// The real system path: a throwaway local user with a known password, checked through PAM.
    @Test(.enabled(if: getuid() == 0 && access("/usr/sbin/useradd", X_OK) == 0, "needs root and useradd"))
    func pamAuthenticatesASystemUser() throws {
        let user = "corralpam\(getpid() % 10000)"
        let password = "Pw-\(UUID().uuidString.prefix(12))"
        #expect(shell("/usr/sbin/useradd -M -s /usr/sbin/nologin \(user)") == 0)
        defer { _ = shell("/usr/sbin/userdel \(user)") }
        #expect(shell("echo '\(user):\(password)' | /usr/sbin/chpasswd") == 0)
        let pam = PAMAuthenticator(service: "corral-auth")
        #expect(throws: Never.self) { try pam.authenticate(user: user, password: password) }
        #expect(throws: PAMAuthenticator.Failure.self) { try pam.authenticate(user: user, password: password + "x") }
        #expect(throws: PAMAuthenticator.Failure.self) { try pam.authenticate(user: "no-such-user-\(getpid())", password: "x") }
    }
}

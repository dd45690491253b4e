import Foundation
import Storage

/// The certificates a quorum device needs, made by the node that sets it up (no SSH to the witness,
/// so no CA of the witness's own): a fresh CA, the qnetd server certificate the nodes check
/// (qdevice expects the subject `CN=Qnetd Server`), and the cluster's client certificate qnetd
/// checks (`CN=<cluster name>`). The CA's key is thrown away once both are signed.
public struct QDeviceCertificates: Sendable {
    /// The CA certificate (PEM) every node trusts the witness by.
    public var caPEM: String
    /// The cluster's certificate and key (PKCS#12, no password, friendly name `Cluster Cert`).
    public var clusterP12: [UInt8]
    /// The witness's NSS database (a gzipped tar of `cert9.db`, `key4.db`, `pkcs11.txt`): the CA
    /// and the server certificate with its key, for `/etc/corosync/qnetd/nssdb`.
    public var qnetdBundle: [UInt8]

    static let caNickname = "QNet CA"
    static let serverNickname = "QNetd Cert"
    static let clusterNickname = "Cluster Cert"

    /// Makes all three with openssl, certutil and pk12util (Debian's libnss3-tools, which
    /// corosync-qdevice depends on). Blocking.
    public static func make(clusterName: String) throws -> QDeviceCertificates {
        let directory = NSTemporaryDirectory() + "corral-qdevice-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func path(_ name: String) -> String { directory + "/" + name }
        let days = "7300"
        do {
            try Command.run([
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("ca.key"), "-out", path("ca.crt"), "-subj",
                "/CN=\(caNickname)", "-days", days, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ])
            for (name, subject) in [("server", "Qnetd Server"), ("cluster", clusterName)] {
                try Command.run([
                    "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj",
                    "/CN=\(subject)",
                ])
                try Command.run([
                    "openssl", "x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"), "-set_serial",
                    "0x" + (try randomHex(16)), "-days", days, "-out", path("\(name).crt"),
                ])
                try Command.run([
                    "openssl", "pkcs12", "-export", "-in", path("\(name).crt"), "-inkey", path("\(name).key"), "-name",
                    name == "server" ? serverNickname : clusterNickname, "-passout", "pass:", "-out", path("\(name).p12"),
                ])
            }
            let nss = path("qnetd-nssdb")
            try NSSDatabase.create(nss, caCertificate: path("ca.crt"), p12: path("server.p12"))
            try Command.run(["tar", "-czf", path("qnetd.tar.gz"), "-C", nss, "cert9.db", "key4.db", "pkcs11.txt"])
        } catch {
            throw ClusterError("cannot make the quorum device's certificates (are openssl and libnss3-tools installed?): \(error)")
        }
        guard let ca = try? String(contentsOfFile: path("ca.crt"), encoding: .utf8),
            let p12 = FileManager.default.contents(atPath: path("cluster.p12")),
            let bundle = FileManager.default.contents(atPath: path("qnetd.tar.gz"))
        else { throw ClusterError("cannot read the quorum device's certificates back") }
        return QDeviceCertificates(caPEM: ca, clusterP12: Array(p12), qnetdBundle: Array(bundle))
    }

    private static func randomHex(_ count: Int) throws -> String {
        var bytes = [UInt8](repeating: 0, count: count)
        guard getentropy(&bytes, count) == 0 else { throw ClusterError("cannot make random bytes") }
        bytes[0] &= 0x7f  // a positive serial
        return bytes.map { String(format: "%02x", $0) }.joined()
    }
}

/// An NSS certificate database (what corosync-qnetd and corosync-qdevice read), without a password.
enum NSSDatabase {
    /// A new database at `path` (replacing one there was) trusting `caCertificate` (PEM) and holding
    /// the certificate and key of `p12`.
    static func create(_ path: String, caCertificate: String, p12: String) throws {
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try Command.run(["certutil", "-N", "-d", "sql:" + path, "--empty-password"])
        try Command.run(["certutil", "-A", "-d", "sql:" + path, "-n", QDeviceCertificates.caNickname, "-t", "CT,C,C", "-i", caCertificate])
        try Command.run(["pk12util", "-i", p12, "-d", "sql:" + path, "-W", ""])
    }
}

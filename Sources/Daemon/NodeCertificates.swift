import Foundation
import TLS

/// The cluster CA and this node's certificate, laid out as PVE lays them out in the cluster
/// filesystem: `pve-root-ca.pem`, `priv/pve-root-ca.key`, `nodes/<node>/pve-ssl.pem` and `.key`.
/// Made on first start; kept afterwards.
public struct NodeCertificates: Sendable {
    public let certificatePath: String
    public let keyPath: String
    public let caPath: String

    public init(mountpoint: String, nodeName: String) {
        certificatePath = "\(mountpoint)/nodes/\(nodeName)/pve-ssl.pem"
        keyPath = "\(mountpoint)/nodes/\(nodeName)/pve-ssl.key"
        caPath = "\(mountpoint)/pve-root-ca.pem"
    }

    /// Creates whatever is missing and returns the node certificate's SHA-256 fingerprint.
    @discardableResult
    public func ensure(mountpoint: String, nodeName: String, log: (String) -> Void) throws -> String {
        let fm = FileManager.default
        let caKeyPath = "\(mountpoint)/priv/pve-root-ca.key"
        try fm.createDirectory(atPath: "\(mountpoint)/priv", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try fm.createDirectory(atPath: "\(mountpoint)/nodes/\(nodeName)", withIntermediateDirectories: true)
        let ca: PEMPair
        if fm.fileExists(atPath: caPath), fm.fileExists(atPath: caKeyPath) {
            ca = PEMPair(certificate: try String(contentsOfFile: caPath, encoding: .utf8), privateKey: try String(contentsOfFile: caKeyPath, encoding: .utf8))
        } else {
            log("generating cluster CA \(caPath)")
            ca = try CertificateAuthority.makeRoot(commonName: "Corral Cluster Manager CA")
            try write(ca.privateKey, to: caKeyPath, mode: 0o600)
            try write(ca.certificate, to: caPath, mode: 0o644)
        }
        if !fm.fileExists(atPath: certificatePath) || !fm.fileExists(atPath: keyPath) {
            log("generating node certificate \(certificatePath)")
            let node = try CertificateAuthority.makeNode(
                ca: ca, nodeName: nodeName, dnsNames: [nodeName, "localhost"], ipAddresses: ["127.0.0.1", "::1"])
            try write(node.privateKey, to: keyPath, mode: 0o640)
            // the chain: node certificate, then the CA, so clients that pin the CA can verify
            try write(node.certificate + ca.certificate, to: certificatePath, mode: 0o644)
        }
        return try CertificateAuthority.fingerprint(pemCertificate: try String(contentsOfFile: certificatePath, encoding: .utf8))
    }

    private func write(_ text: String, to path: String, mode: Int) throws {
        let tmp = path + ".tmp"
        try text.write(toFile: tmp, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: tmp)
        guard rename(tmp, path) == 0 else { throw SettingsError("cannot install \(path): \(String(cString: strerror(errno)))") }
    }
}

import Access
import ClusterFS
import Foundation
import TLS

/// The cluster CA and this node's certificate, kept in the cluster filesystem where PVE keeps them:
/// `pve-root-ca.pem`, `priv/pve-root-ca.key`, `nodes/<node>/pve-ssl.pem` and `.key`. Made on first
/// start; kept afterwards.
public struct NodeCertificates: Sendable {
    public let certificatePath: String
    public let keyPath: String
    public let caPath: String
    let nodeName: String

    /// Paths below the mount point, for readers outside the daemon (TLS context, CLIs).
    public init(mountpoint: String, nodeName: String) {
        self.nodeName = nodeName
        certificatePath = "\(mountpoint)/nodes/\(nodeName)/pve-ssl.pem"
        keyPath = "\(mountpoint)/nodes/\(nodeName)/pve-ssl.key"
        caPath = "\(mountpoint)/pve-root-ca.pem"
    }

    /// Creates whatever is missing in the tree and returns the node certificate's SHA-256 fingerprint.
    @discardableResult
    public func ensure(in fs: ClusterFS, log: (String) -> Void) throws -> String {
        let caKey = "priv/pve-root-ca.key", caCert = "pve-root-ca.pem"
        let nodeCert = "nodes/\(nodeName)/pve-ssl.pem", nodeKey = "nodes/\(nodeName)/pve-ssl.key"
        func existingCA() -> PEMPair? {
            guard let cert = try? fs.readString(caCert), let key = try? fs.readString(caKey) else { return nil }
            return PEMPair(certificate: cert, privateKey: key)
        }
        var found = existingCA()
        if found == nil {
            // nodes of a new cluster start together: one cluster lock, so exactly one CA is made
            try fs.withLock("corral-ca-setup", timeout: 30) {
                found = existingCA()
                if found != nil { return }
                log("generating cluster CA \(caPath)")
                let made = try CertificateAuthority.makeRoot(commonName: "Corral Cluster Manager CA")
                try fs.write(caKey, Array(made.privateKey.utf8))
                try fs.write(caCert, Array(made.certificate.utf8))
                found = made
            }
        }
        guard let ca = found else { throw SettingsError("the cluster CA could not be read or made") }
        if (try? fs.stat(nodeCert)) == nil || (try? fs.stat(nodeKey)) == nil {
            log("generating node certificate \(certificatePath)")
            let node = try CertificateAuthority.makeNode(
                ca: ca, nodeName: nodeName, dnsNames: [nodeName, "localhost"], ipAddresses: ["127.0.0.1", "::1"])
            try fs.write(nodeKey, Array(node.privateKey.utf8))
            // the chain: node certificate, then the CA, so clients that pin the CA can verify
            try fs.write(nodeCert, Array((node.certificate + ca.certificate).utf8))
        }
        return try CertificateAuthority.fingerprint(pemCertificate: try fs.readString(nodeCert))
    }
}

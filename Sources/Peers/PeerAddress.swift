/// Where another node's API listens and the certificate it must present.
public struct PeerAddress: Sendable, Hashable {
    public var host: String
    public var port: UInt16
    /// SHA-256 fingerprint of the node's certificate, colon-separated hex (case does not matter).
    public var fingerprint: String

    public init(host: String, port: UInt16 = 8006, fingerprint: String) {
        self.host = host
        self.port = port
        self.fingerprint = fingerprint
    }

    /// `host:port`, bracketing IPv6 addresses.
    public var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

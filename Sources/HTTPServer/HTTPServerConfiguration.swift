import TLS

/// Everything the server needs to know; nothing about the API.
public struct HTTPServerConfiguration: Sendable {
    public var listenAddresses: [String]
    public var tls: TLSContext?
    public var limits = HTTPParserLimits()
    /// An idle keep-alive connection is closed after this many seconds.
    public var keepAliveTimeout: Int = 60
    /// A request (head and body) or a TLS handshake must arrive within this many seconds, and a
    /// blocked write must make progress within it: slow clients cannot hold a connection.
    public var requestTimeout: Int = 30
    /// Event-loop threads; 0 means one per core.
    public var workers: Int = 0
    public var accessLogPath: String?
    public var serverName = "corrald"

    public init(listenAddresses: [String], tls: TLSContext? = nil) {
        self.listenAddresses = listenAddresses
        self.tls = tls
    }
}

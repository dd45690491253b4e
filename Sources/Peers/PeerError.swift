import Errors

/// A call to another node that did not get an answer. PVE reports these as 595 (no connection)
/// and 596 (timed out); a certificate that is not the pinned one is a refusal of its own.
public struct PeerError: CorralError {
    public static let unreachable = ErrorCode("peer-unreachable", status: 595)
    public static let timedOut = ErrorCode("peer-timeout", status: 596)
    /// The peer is not the node it should be: refused as bad input (a join's fingerprint) would be.
    public static let fingerprintMismatch = ErrorCode("peer-fingerprint", status: 500)

    public let code: ErrorCode
    public let message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
}

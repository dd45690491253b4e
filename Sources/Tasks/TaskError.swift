import Errors

/// Errors of the task service.
public struct TaskError: CorralError, Equatable {
    public enum Kind: Sendable, Equatable { case notFound, invalidUPID, io, notRunning }
    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// PVE answers an unknown task as bad input (`upid`), not as a missing resource.
    public var parameterErrors: [String: String]? { kind == .notFound ? ["upid": "no such task"] : nil }

    public var code: ErrorCode {
        switch kind {
        case .notFound: .badRequest
        case .invalidUPID, .notRunning: .badRequest
        case .io: .failed
        }
    }
}

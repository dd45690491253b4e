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

    public var code: ErrorCode {
        switch kind {
        case .notFound: .notFound
        case .invalidUPID, .notRunning: .badRequest
        case .io: .failed
        }
    }
}

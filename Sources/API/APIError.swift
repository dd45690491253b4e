import Schema
import Tasks

/// A failure as the API reports it: an HTTP status, a message (PVE puts it in the reason phrase and
/// the body), and per-parameter errors for validation failures.
public struct APIError: Error, Equatable, Sendable, CustomStringConvertible {
    public let status: Int
    public let message: String
    public let errors: [String: String]?

    public init(_ status: Int, _ message: String, errors: [String: String]? = nil) {
        self.status = status
        self.message = message
        self.errors = errors
    }

    public var description: String {
        guard let errors, !errors.isEmpty else { return message }
        return message + "\n" + errors.keys.sorted().map { "\($0): \(errors[$0]!)" }.joined(separator: "\n")
    }

    public static func parameters(_ errors: [String: String]) -> APIError {
        APIError(400, "Parameter verification failed.", errors: errors)
    }

    public static func notImplemented(_ method: String, _ path: String) -> APIError {
        APIError(501, "Method '\(method) \(path)' not implemented")
    }

    /// The one place errors of every module become HTTP statuses.
    public static func from(_ error: any Error) -> APIError {
        switch error {
        case let e as APIError: return e
        case let e as any HTTPStatusError: return APIError(e.httpStatus, e.message, errors: e.parameterErrors)
        case let e as ParameterErrors: return .parameters(e.errors)
        case let e as TaskError:
            switch e.code {
            case .notFound: return APIError(404, e.message)
            case .invalidUPID: return APIError(400, e.message)
            case .notRunning: return APIError(400, e.message)
            case .io: return APIError(500, e.message)
            }
        default: return APIError(500, "\(error)")
        }
    }
}

/// An error of a domain module that knows its HTTP status (and, for bad input, which parameter).
public protocol HTTPStatusError: Error {
    var httpStatus: Int { get }
    var message: String { get }
    var parameterErrors: [String: String]? { get }
}

extension HTTPStatusError {
    public var parameterErrors: [String: String]? { nil }
}

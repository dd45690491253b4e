import Errors
import Schema
import Tasks

/// A failure as the API reports it: an HTTP status, a message (PVE puts it in the reason phrase and
/// the body), and per-parameter errors for validation failures.
public struct APIError: CorralError, Equatable {
    public let status: Int
    public let message: String
    public let errors: [String: String]?
    public var code: ErrorCode { .status(status) }
    public var parameterErrors: [String: String]? { errors }

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

    /// The one place errors of every module become PVE's response shape: the code's status, the
    /// message (reason phrase and body), per-parameter errors. Errors of libraries without a code
    /// are 500, as a `die` in PVE.
    public static func from(_ error: any Error) -> APIError {
        switch error {
        case let e as APIError: return e
        case let e as ParameterErrors: return .parameters(e.errors)
        case let e as any CorralError:
            return APIError(e.code.status, e.message, errors: e.parameterErrors)
        default: return APIError(500, "\(error)")
        }
    }
}

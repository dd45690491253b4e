import Errors

/// An access-control failure with the HTTP status PVE answers it with.
public struct AccessError: CorralError {
    public let code: ErrorCode
    public let message: String
    public let errors: [String: String]?
    public let cause: (any Error)?
    public var status: Int { code.status }
    public var parameterErrors: [String: String]? { errors }

    public init(_ status: Int, _ message: String, errors: [String: String]? = nil, cause: (any Error)? = nil) {
        self.code = .status(status)
        self.message = message
        self.errors = errors
        self.cause = cause
    }

    public static let authenticationFailure = AccessError(401, "authentication failure")
}

/// What kind of failure an error is, and so the HTTP status the API edge answers it with. Codes
/// follow PVE's habits: most refusals of a request's substance are 500 (`die` in PVE), bad
/// parameters 400 with per-parameter messages, a busy or quorum-less cluster 503.
public struct ErrorCode: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public let status: Int

    public init(_ name: String, status: Int) {
        self.name = name
        self.status = status
    }

    public var description: String { name }

    public static let badRequest = ErrorCode("bad-request", status: 400)
    public static let unauthorized = ErrorCode("unauthorized", status: 401)
    public static let forbidden = ErrorCode("forbidden", status: 403)
    public static let notFound = ErrorCode("not-found", status: 404)
    public static let failed = ErrorCode("failed", status: 500)
    public static let notImplemented = ErrorCode("not-implemented", status: 501)
    public static let unavailable = ErrorCode("unavailable", status: 503)

    /// The code of a plain HTTP status (for errors that were declared with one).
    public static func status(_ status: Int) -> ErrorCode {
        switch status {
        case 400: .badRequest
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 501: .notImplemented
        case 503: .unavailable
        case 500: .failed
        default: ErrorCode("http-\(status)", status: status)
        }
    }
}

/// Every module's error: a code, a message for the operator (what failed and, where it helps, what
/// to do), an optional cause, and for bad input the parameters at fault. The API edge turns any of
/// them into PVE's response shape in one place (`APIError.from`).
public protocol CorralError: Error, CustomStringConvertible, Sendable {
    var code: ErrorCode { get }
    var message: String { get }
    var cause: (any Error)? { get }
    /// Per-parameter messages (PVE's `errors` object), for bad input.
    var parameterErrors: [String: String]? { get }
}

extension CorralError {
    public var cause: (any Error)? { nil }
    public var parameterErrors: [String: String]? { nil }
    public var description: String { message }
}

/// The code an error carries, or `.failed` for an error of a library that has none.
public func errorCode(of error: any Error) -> ErrorCode {
    (error as? any CorralError)?.code ?? .failed
}

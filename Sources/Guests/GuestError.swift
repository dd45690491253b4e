import API

/// A guest operation's failure with the HTTP status the API answers with.
public struct GuestError: Error, CustomStringConvertible, Sendable {
    public let status: Int
    public let message: String
    public let errors: [String: String]
    public var description: String { message }

    public init(_ status: Int, _ message: String, errors: [String: String] = [:]) {
        self.status = status
        self.message = message
        self.errors = errors
    }

    /// A 400 naming one parameter, as PVE's per-parameter `errors`.
    public static func parameter(_ name: String, _ message: String) -> GuestError {
        GuestError(400, "Parameter verification failed.", errors: [name: message])
    }
}

extension GuestError: HTTPStatusError {
    public var httpStatus: Int { status }
    public var parameterErrors: [String: String]? { errors.isEmpty ? nil : errors }
}

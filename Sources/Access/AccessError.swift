/// An access-control failure with the HTTP status PVE answers it with.
public struct AccessError: Error, CustomStringConvertible, Sendable {
    public let status: Int
    public let message: String
    public let errors: [String: String]?

    public init(_ status: Int, _ message: String, errors: [String: String]? = nil) {
        self.status = status
        self.message = message
        self.errors = errors
    }

    public var description: String { message }

    public static let authenticationFailure = AccessError(401, "authentication failure")
}

import Errors

/// A firewall configuration or request that cannot be used: bad input names its field (a 400 with
/// PVE's per-parameter `errors`), anything else is a plain failure.
public struct FirewallError: CorralError {
    public let code: ErrorCode
    public let message: String
    public let errors: [String: String]
    public var parameterErrors: [String: String]? { errors.isEmpty ? nil : errors }

    public init(_ status: Int, _ message: String, errors: [String: String] = [:]) {
        self.code = .status(status)
        self.message = message
        self.errors = errors
    }

    /// Bad input in one field.
    public static func field(_ name: String, _ message: String) -> FirewallError {
        FirewallError(400, "Parameter verification failed.", errors: [name: message])
    }
}

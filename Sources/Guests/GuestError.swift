import Errors

/// A guest operation's failure with the HTTP status the API answers with.
public struct GuestError: CorralError {
    public let code: ErrorCode
    public let message: String
    public let errors: [String: String]
    public let cause: (any Error)?
    public var status: Int { code.status }
    public var parameterErrors: [String: String]? { errors.isEmpty ? nil : errors }

    public init(_ status: Int, _ message: String, errors: [String: String] = [:]) {
        self.code = .status(status)
        self.message = message
        self.errors = errors
        self.cause = nil
    }

    /// A failure of a step (a storage, libvirt, liblxc), keeping its code and its parameter errors.
    public init(wrapping error: any Error, _ context: String? = nil) {
        self.code = errorCode(of: error)
        self.message = context.map { "\($0): \(error)" } ?? "\(error)"
        self.errors = (error as? any CorralError)?.parameterErrors ?? [:]
        self.cause = error
    }

    /// A 400 naming one parameter, as PVE's per-parameter `errors`.
    public static func parameter(_ name: String, _ message: String) -> GuestError {
        GuestError(400, "Parameter verification failed.", errors: [name: message])
    }
}

import Errors

/// What went wrong in a storage operation, with the HTTP status the API answers with.
public struct StorageError: CorralError {
    public let code: ErrorCode
    public let message: String
    public let cause: (any Error)?
    public var status: Int { code.status }

    public init(_ status: Int = 500, _ message: String) {
        self.code = .status(status)
        self.message = message
        self.cause = nil
    }

    /// A failure of something this storage called, keeping its code (a 503 stays a 503) and cause.
    public init(wrapping error: any Error, _ context: String? = nil) {
        self.code = errorCode(of: error)
        self.message = context.map { "\($0): \(error)" } ?? "\(error)"
        self.cause = error
    }
}

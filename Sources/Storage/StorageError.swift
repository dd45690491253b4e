/// What went wrong in a storage operation, with the HTTP status the API answers with.
public struct StorageError: Error, CustomStringConvertible, Sendable {
    public let status: Int
    public let message: String
    public var description: String { message }

    public init(_ status: Int = 500, _ message: String) {
        self.status = status
        self.message = message
    }
}

import API

extension StorageError: HTTPStatusError {
    public var httpStatus: Int { status }
}

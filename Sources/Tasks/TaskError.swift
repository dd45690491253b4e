/// Errors of the task service.
public struct TaskError: Error, CustomStringConvertible, Equatable {
    public enum Code: Sendable, Equatable { case notFound, invalidUPID, io, notRunning }
    public let code: Code
    public let message: String
    public var description: String { message }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

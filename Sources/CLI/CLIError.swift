/// The CLI's three ways to end (as swift-argument-parser has them): bad input, a failure with an exit code, or a clean exit.
public enum CLIError: Error, CustomStringConvertible {
    case usage(String)
    case failed(String, code: Int32)

    public var description: String {
        switch self {
        case .usage(let message): message
        case .failed(let message, _): message
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .usage: 2
        case .failed(_, let code): code
        }
    }
}

internal import CCPG

/// A corosync library result other than CS_OK, with the function that returned it.
public struct CorosyncError: Error, CustomStringConvertible, Equatable {
    public let code: UInt32
    public let function: String
    public var description: String { "\(function) failed: \(Self.name(code)) (cs_error \(code))" }

    /// CS_ERR_LIBRARY: corosync is not running or went away; callers finalize and reconnect with backoff.
    public var isUnreachable: Bool { code == CS_ERR_LIBRARY.rawValue }

    static func name(_ code: UInt32) -> String {
        switch code {
        case CS_ERR_LIBRARY.rawValue: "corosync not reachable"
        case CS_ERR_TRY_AGAIN.rawValue: "try again"
        case CS_ERR_ACCESS.rawValue: "access denied"
        case CS_ERR_NOT_EXIST.rawValue: "does not exist"
        default: "error"
        }
    }
}

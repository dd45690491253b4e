internal import CLibvirt

/// An error reported by libvirt, read from its thread-local last-error right after the failing call.
public struct LibvirtError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public let function: String
    public var description: String { message }

    /// libvirt's VIR_ERR_NO_DOMAIN: the domain is not (or no longer) defined.
    public var isNoDomain: Bool { code == Int32(VIR_ERR_NO_DOMAIN.rawValue) }
    /// The operation does not apply in the domain's state (already stopped, not paused, …).
    public var isInvalidState: Bool { code == Int32(VIR_ERR_OPERATION_INVALID.rawValue) }
    /// The guest agent is not connected or did not answer in time (VIR_ERR_AGENT_UNRESPONSIVE).
    public var isAgentUnresponsive: Bool { code == Int32(VIR_ERR_AGENT_UNRESPONSIVE.rawValue) }
    /// The agent itself answered with an error (libvirt reports it as an internal error).
    public var isAgentError: Bool { code == Int32(VIR_ERR_INTERNAL_ERROR.rawValue) && message.contains("agent") }
    /// The connection to libvirtd broke.
    public var isConnectionLost: Bool {
        code == Int32(VIR_ERR_SYSTEM_ERROR.rawValue) || code == Int32(VIR_ERR_RPC.rawValue)
            || code == Int32(VIR_ERR_INTERNAL_ERROR.rawValue) && message.contains("client socket is closed")
    }

    public init(code: Int32, message: String, function: String) {
        self.code = code
        self.message = message
        self.function = function
    }

    static func last(_ function: String) -> LibvirtError {
        if let error = virGetLastError() {
            return LibvirtError(
                code: error.pointee.code, message: error.pointee.message.map { String(cString: $0) } ?? "unknown error",
                function: function)
        }
        return LibvirtError(code: -1, message: "\(function) failed", function: function)
    }
}

/// A domain lifecycle event (`VIR_DOMAIN_EVENT_*`).
public struct LibvirtEvent: Sendable {
    public enum Kind: Int32, Sendable {
        case defined = 0, undefined, started, suspended, resumed, stopped, shutdown, pmsuspended, crashed
        case unknown = -1
    }
    public let domain: String
    public let kind: Kind
    public let detail: Int32
}

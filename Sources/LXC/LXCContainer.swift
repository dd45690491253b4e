import CCorralShim
import CLXC
import Glibc

/// An error from liblxc; liblxc reports most failures only as a false return, so the function is named.
public struct LXCError: Error, CustomStringConvertible {
    public let function: String
    public let message: String
    public var description: String { "\(function): \(message)" }
}

/// A container handle in an lxcpath. Lifecycle, attach and config translation arrive with the containers issue.
public final class LXCContainer: @unchecked Sendable {
    private let handle: UnsafeMutablePointer<lxc_container>
    public let name: String

    /// Stands for `lxc_container_new`.
    public init(name: String, lxcpath: String) throws {
        guard let handle = lxc_container_new(name, lxcpath) else {
            throw LXCError(function: "lxc_container_new", message: "cannot allocate container \(name) in \(lxcpath)")
        }
        self.handle = handle
        self.name = name
    }

    deinit { _ = lxc_container_put(handle) }

    /// Whether a configuration exists for the container. Stands for `lxc_container.is_defined`.
    public var isDefined: Bool { handle.pointee.is_defined(handle) }

    /// The state name liblxc reports (`STOPPED`, `RUNNING`, …). Stands for `lxc_container.state`.
    public var state: String { handle.pointee.state(handle).map { String(cString: $0) } ?? "UNKNOWN" }

    /// The liblxc version. Stands for `lxc_get_version`.
    public static var libraryVersion: String { String(cString: lxc_get_version()) }

    /// The default attach options liblxc documents; only the shim can build them.
    static func defaultAttachOptions() -> lxc_attach_options_t { corral_lxc_attach_options_default() }

    /// Names of the containers defined in `lxcpath`. Stands for `list_defined_containers`.
    public static func definedNames(lxcpath: String) -> [String] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = list_defined_containers(lxcpath, &names, nil)
        guard count > 0, let names else { return [] }
        defer { free(names) }
        return (0..<Int(count)).compactMap { index in
            guard let name = names[index] else { return nil }
            defer { free(name) }
            return String(cString: name)
        }
    }
}

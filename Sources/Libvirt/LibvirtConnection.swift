import CLibvirt
import Glibc

/// An error reported by libvirt, read from its thread-local last-error right after the failing call.
public struct LibvirtError: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public let function: String
    public var description: String { "\(function): \(message) (libvirt error \(code))" }

    static func last(_ function: String) -> LibvirtError {
        if let error = virGetLastError() {
            return LibvirtError(
                code: error.pointee.code, message: error.pointee.message.map { String(cString: $0) } ?? "unknown error",
                function: function)
        }
        return LibvirtError(code: -1, message: "unknown error", function: function)
    }
}

// libvirt prints every error to stderr unless a handler is installed; a plain C function swallows them,
// since each error is read back with virGetLastError and thrown.
private func silenceLibvirtErrors(_ userData: UnsafeMutableRawPointer?, _ error: virErrorPtr?) {}

/// A connection to a hypervisor driver (`qemu:///system`, or `test:///default` for tests).
/// Full guest management arrives with the virtual-machine issue.
public final class LibvirtConnection: @unchecked Sendable {
    private let handle: OpaquePointer

    /// Opens a connection. Stands for `virConnectOpen`.
    public init(uri: String) throws {
        virSetErrorFunc(nil, silenceLibvirtErrors)
        guard let handle = virConnectOpen(uri) else { throw LibvirtError.last("virConnectOpen") }
        self.handle = handle
    }

    deinit { virConnectClose(handle) }

    /// The hypervisor's version as major.minor.release. Stands for `virConnectGetVersion`.
    public func hypervisorVersion() throws -> String {
        var version: UInt = 0
        guard virConnectGetVersion(handle, &version) == 0 else { throw LibvirtError.last("virConnectGetVersion") }
        return Self.format(version)
    }

    /// Names of the running domains. Stands for `virConnectListAllDomains`.
    public func activeDomainNames() throws -> [String] {
        var domains: UnsafeMutablePointer<virDomainPtr?>?
        let count = virConnectListAllDomains(handle, &domains, UInt32(VIR_CONNECT_LIST_DOMAINS_ACTIVE.rawValue))
        guard count >= 0, let domains else { throw LibvirtError.last("virConnectListAllDomains") }
        defer { free(domains) }
        var names: [String] = []
        for index in 0..<Int(count) {
            guard let domain = domains[index] else { continue }
            // virDomainGetName returns memory owned by the domain object: copy, never free.
            if let name = virDomainGetName(domain) { names.append(String(cString: name)) }
            virDomainFree(domain)
        }
        return names
    }

    /// The libvirt library version. Stands for `virGetVersion`.
    public static func libraryVersion() throws -> String {
        var version: UInt = 0
        guard virGetVersion(&version, nil, nil) == 0 else { throw LibvirtError.last("virGetVersion") }
        return format(version)
    }

    private static func format(_ v: UInt) -> String { "\(v / 1_000_000).\(v / 1000 % 1000).\(v % 1000)" }
}

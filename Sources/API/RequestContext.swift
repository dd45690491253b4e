import Schema
import Synchronization
import Tasks

/// What a handler gets: validated, typed parameters (declared defaults applied on read), the caller,
/// and the node's services. Handlers may attach extra top-level result attributes (PVE's `total`).
public final class RequestContext: Sendable {
    public let endpoint: Endpoint
    public let parameters: [String: JSON]
    public let user: String
    public let services: Services
    /// The client's address ("" for the CLIs).
    public let remoteAddress: String
    private let authorizer: (any Authorizer)?
    private let attributes = Mutex<[String: JSON]>([:])

    public init(
        endpoint: Endpoint, parameters: [String: JSON], user: String, services: Services, remoteAddress: String = "",
        authorizer: (any Authorizer)? = nil
    ) {
        self.endpoint = endpoint
        self.parameters = parameters
        self.user = user
        self.services = services
        self.remoteAddress = remoteAddress
        self.authorizer = authorizer
    }

    /// Whether the caller holds `privileges` (all, or `any` one) on `path`: for handlers that
    /// show each caller only what it may see. Without an authorizer only root@pam passes.
    public func has(_ privileges: [String], on path: String, any: Bool = false) -> Bool {
        guard let authorizer else { return user == "root@pam" }
        let box = checker.withLock { checker in
            if let checker { return checker }
            let made = CheckerBox(authorizer.checker(Caller(user: user)))
            checker = made
            return made
        }
        return box.check(privileges, path, any)
    }
    /// The request's one view of the access configuration for `has` (made at its first use).
    private let checker = Mutex<CheckerBox?>(nil)

    /// A parameter's value, or its declared default.
    public func value(_ name: String) -> JSON? {
        parameters[name] ?? endpoint.parameters.properties[name]?.defaultValue
    }

    public func string(_ name: String) -> String? { value(name)?.plainText }
    public func int(_ name: String) -> Int64? { value(name)?.intValue }
    public func bool(_ name: String) -> Bool? { value(name)?.boolValue }

    /// A required parameter (validation guarantees it; a missing one is a declaration bug).
    public func require(_ name: String) throws -> String {
        guard let text = string(name) else { throw APIError(500, "handler needs parameter '\(name)' the schema does not require") }
        return text
    }

    public func setAttribute(_ name: String, _ value: JSON) { attributes.withLock { $0[name] = value } }
    public var resultAttributes: [String: JSON] { attributes.withLock { $0 } }
}

/// The node's services, shared by every handler. Domains that land later add theirs here.
public final class Services: Sendable {
    public let nodeName: String
    public let tasks: TaskManager
    public let productVersion: String
    public let repoID: String
    /// Set once after the registry is built (handlers that list endpoints read it).
    public let registryBox = Mutex<Registry?>(nil)

    public init(nodeName: String, tasks: TaskManager, productVersion: String, repoID: String) {
        self.nodeName = nodeName
        self.tasks = tasks
        self.productVersion = productVersion
        self.repoID = repoID
    }

    public var registry: Registry? { registryBox.withLock { $0 } }

    /// Set once in cluster mode: runs calls on the node that owns them.
    public let forwarderBox = Mutex<(any Forwarder)?>(nil)
    public var forwarder: (any Forwarder)? { forwarderBox.withLock { $0 } }
}

/// Sends calls to the cluster member that must run them (PVE's `proxyto`).
public protocol Forwarder: Sendable {
    /// Whether `node` is configured in the cluster (online or not).
    func isMember(_ node: String) -> Bool
    /// The call's answer from `node`, run there as `user`; a node that cannot be reached is an error
    /// at once (595), not after a long timeout.
    func forward(_ call: APICall, to node: String, user: String) async -> APIOutcome
    /// The call's WebSocket opened on `node`, relayed from here.
    func openTunnel(_ call: APICall, to node: String, user: String) throws -> any ByteTunnel
}

/// The headers a forwarded call carries (see `Forwarder`).
public enum ProxyHeaders {
    public static let user = "X-Corral-Proxy-User"
    public static let proof = "X-Corral-Proxy-Proof"
}

/// A request's permission check, held by reference (a list checks a thousand rows with it).
final class CheckerBox: Sendable {
    let check: @Sendable ([String], String, Bool) -> Bool
    init(_ check: @escaping @Sendable ([String], String, Bool) -> Bool) { self.check = check }
}

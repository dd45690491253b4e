import Schema

public enum HTTPMethodName: String, Sendable, CaseIterable {
    case GET, POST, PUT, DELETE
}

/// How an endpoint produces its result. The policy is the node's one rule for shared threads (see
/// `BlockingExecutor`): nothing that can wait runs on an HTTP loop thread or in Swift's cooperative pool.
public enum EndpointHandler: Sendable {
    /// In-memory work only (cached config, counters, /proc reads): runs inline on the server's loop
    /// thread, with no hop. Never a C library call that may wait, a child process, a config write,
    /// a lock wait or file I/O beyond a few small files: those are `.blocking`.
    case sync(@Sendable (RequestContext) throws -> JSON)
    /// Synchronous work that may block (libvirt, liblxc, commands, ClusterFS writes, lock waits):
    /// runs on the bounded blocking executor while the loop thread serves other requests.
    case blocking(@Sendable (RequestContext) throws -> JSON)
    /// Work that awaits: runs as a task that prefers the blocking executor, so a blocking call
    /// between its awaits never holds a thread of the cooperative pool.
    case async(@Sendable (RequestContext) async throws -> JSON)
    /// A long-lived event stream (server-sent events or WebSocket); HTTP only.
    case stream(@Sendable (RequestContext, any EventSink) -> Void)
    /// A WebSocket carrying bytes both ways (consoles): the closure checks the request and returns
    /// the far end; a thrown error is answered as HTTP before any upgrade.
    case tunnel(@Sendable (RequestContext) throws -> any ByteTunnel)
}

/// One API method, declared once. Validation, permission checks, routing, `pvesh`, the schema dump
/// and the OpenAPI document all read this declaration.
public struct Endpoint: Sendable {
    /// The declaration lives in one object: every call passes its endpoint along (route, dispatch,
    /// context), and a copy is then one reference instead of one per field.
    private let declaration: Declaration

    public var method: HTTPMethodName { declaration.method }
    public var path: String { declaration.path }
    /// PVE's handler name (`index`, `node_tasks`, …), kept for the schema dump and comparison.
    public var name: String { declaration.name }
    public var description: String { declaration.description }
    public var parameters: Schema { declaration.parameters }
    public var returns: Schema { declaration.returns }
    public var permission: Permission { declaration.permission }
    /// Changes state on the node: runs in the privileged context (PVE's `protected`).
    public var protected: Bool { declaration.protected }
    /// The parameter naming the node that must run the call (PVE's `proxyto`).
    public var proxyTo: String? { declaration.proxyTo }
    /// The parameter naming the node that runs the call: `proxyTo`, or `node` for a path under
    /// `/nodes/{node}` (worked out once, asked on every call).
    public var nodeParameter: String? { declaration.nodeParameter }
    public var allowToken: Bool { declaration.allowToken }
    /// For directory-like GETs: the item key that names each child (PVE's `links` href).
    public var childKey: String? { declaration.childKey }
    public var handler: EndpointHandler { declaration.handler }

    private final class Declaration: Sendable {
        let method: HTTPMethodName
        let path: String
        let name: String
        let description: String
        let parameters: Schema
        let returns: Schema
        let permission: Permission
        let protected: Bool
        let proxyTo: String?
        let nodeParameter: String?
        let allowToken: Bool
        let childKey: String?
        let handler: EndpointHandler

        init(
            method: HTTPMethodName, path: String, name: String, description: String, parameters: Schema, returns: Schema,
            permission: Permission, protected: Bool, proxyTo: String?, allowToken: Bool, childKey: String?, handler: EndpointHandler
        ) {
            self.method = method
            self.path = path
            self.name = name
            self.description = description
            self.parameters = parameters
            self.returns = returns
            self.permission = permission
            self.protected = protected
            self.proxyTo = proxyTo
            self.nodeParameter = proxyTo ?? (path.hasPrefix("/nodes/{node}") ? "node" : nil)
            self.allowToken = allowToken
            self.childKey = childKey
            self.handler = handler
        }
    }

    public init(
        _ method: HTTPMethodName, _ path: String, name: String, description: String,
        parameters: [String: Schema] = [:], returns: Schema = .null, permission: Permission,
        protected: Bool = false, proxyTo: String? = nil, allowToken: Bool = true, childKey: String? = nil,
        handler: EndpointHandler
    ) {
        declaration = Declaration(
            method: method, path: path, name: name, description: description, parameters: .object(parameters), returns: returns,
            permission: permission, protected: protected, proxyTo: proxyTo, allowToken: allowToken, childKey: childKey, handler: handler)
    }
}

/// Pushes events to a streaming client.
public protocol EventSink: Sendable {
    /// Sends one event; `id` is its resume point (SSE's `id:` line).
    func send(event: String, data: JSON, id: String?)
    /// Runs `handler` once the client has gone away.
    func onClose(_ handler: @escaping @Sendable () -> Void)
    /// The resume point the client sent in `Last-Event-ID` (an EventSource reconnecting by itself).
    var lastEventID: String? { get }
}

extension EventSink {
    public func send(event: String, data: JSON) { send(event: event, data: data, id: nil) }
}

/// The far end of a byte tunnel (a VNC server, a serial console). Called on the connection's thread:
/// hand slow work elsewhere.
public protocol ByteTunnel: Sendable {
    func opened(_ client: any TunnelClient)
    func received(_ bytes: [UInt8])
    func closed()
}

/// The browser's end of a tunnel; usable from any thread.
public protocol TunnelClient: Sendable {
    func send(_ bytes: [UInt8])
    func sendText(_ text: String)
    func close()
}

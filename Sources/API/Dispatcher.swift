import Blocking
import Schema

/// Who is calling, as the authenticate step determined.
public struct Caller: Sendable, Equatable {
    /// `user@realm`, or `user@realm!token` for an API token; empty when nobody authenticated
    /// (only `world` endpoints run then).
    public let user: String
    public init(user: String) { self.user = user }
    public static let anonymous = Caller(user: "")
}

/// What a request brought to prove who sent it.
public struct Credentials: Sendable {
    public var ticketCookie: String?
    public var authorization: String?
    public var csrfToken: String?
    public var remoteAddress: String
    /// A call another cluster member forwards: the caller it authenticated, and its proof.
    public var proxiedUser: String?
    public var proxyProof: String?
    /// `METHOD /path` of the call (set by the dispatcher; a proxy proof covers it).
    public var requestLine = ""
    public init(ticketCookie: String? = nil, authorization: String? = nil, csrfToken: String? = nil, remoteAddress: String = "") {
        self.ticketCookie = ticketCookie
        self.authorization = authorization
        self.csrfToken = csrfToken
        self.remoteAddress = remoteAddress
    }
}

/// The authenticate step. The access-control issue brings tickets, API tokens and realms.
public protocol Authenticator: Sendable {
    /// The caller, or an APIError (401) when the credentials do not prove one.
    func authenticate(_ credentials: Credentials, endpoint: Endpoint, method: HTTPMethodName) throws(APIError) -> Caller
}

/// The authorize step: whether the caller passes an endpoint's declared check.
public protocol Authorizer: Sendable {
    func authorize(_ caller: Caller, _ permission: Permission, parameters: [String: JSON]) -> Bool
    /// What failed, for the message (`/vms/100, VM.Audit`); nil when there is nothing to name.
    func denial(_ caller: Caller, _ permission: Permission, parameters: [String: JSON]) -> String?
    func checker(_ caller: Caller) -> @Sendable (_ privileges: [String], _ path: String, _ any: Bool) -> Bool
}

extension Authorizer {
    public func denial(_ caller: Caller, _ permission: Permission, parameters: [String: JSON]) -> String? { nil }

    /// A check of `privileges` on a path for one caller, made many times in one request (a list that
    /// shows each row only to whom may see it). An authorizer may answer all of them from one
    /// snapshot of the access configuration.
    public func checker(_ caller: Caller) -> @Sendable (_ privileges: [String], _ path: String, _ any: Bool) -> Bool {
        { privileges, path, any in authorize(caller, .privileges(path: path, privileges, any: any), parameters: [:]) }
    }
}

/// Until access control lands, corrald listens on loopback only and every caller acts as root@pam
/// (as `pvesh` does on a PVE node). The dispatch chain already runs both steps for every call.
public struct LocalRootAuthenticator: Authenticator {
    public init() {}
    public func authenticate(_ credentials: Credentials, endpoint: Endpoint, method: HTTPMethodName) throws(APIError) -> Caller {
        Caller(user: "root@pam")
    }
}

/// root@pam passes every check; anyone else passes only `world` and `anyUser` checks.
public struct RootOnlyAuthorizer: Authorizer {
    public init() {}
    public func authorize(_ caller: Caller, _ permission: Permission, parameters: [String: JSON]) -> Bool {
        if caller.user == "root@pam" { return true }
        switch permission {
        case .world, .anyUser: return true
        case .selfUser: return parameters["userid"]?.stringValue == caller.user
        case .and(let parts): return parts.allSatisfy { authorize(caller, $0, parameters: parameters) }
        case .or(let parts): return parts.contains { authorize(caller, $0, parameters: parameters) }
        case .privileges, .rootOnly, .useridRealm, .useridGroup, .permModify, .privilegesIfParameter: return false
        }
    }
}

/// One API call, independent of HTTP: the CLIs build it from argv, the HTTP adapter from a request.
public struct APICall: Sendable {
    public var method: String
    /// Decoded path segments below `/api2/<format>`.
    public var segments: [String]
    public var parameters: [String: RawParameter]
    public var credentials: Credentials

    public init(method: String, segments: [String], parameters: [String: RawParameter] = [:], credentials: Credentials = Credentials()) {
        self.method = method
        self.segments = segments
        self.parameters = parameters
        self.credentials = credentials
    }

    public var displayPath: String { "/" + segments.joined(separator: "/") }
}

/// The result of a call: data and extra attributes, or an error.
public struct APIOutcome: Sendable {
    public var result: Result<JSON, APIError>
    public var attributes: [String: JSON] = [:]
    public var user: String?

    public init(_ result: Result<JSON, APIError>, attributes: [String: JSON] = [:], user: String? = nil) {
        self.result = result
        self.attributes = attributes
        self.user = user
    }
}

/// How a dispatched call continues.
public enum Dispatch: Sendable {
    case done(APIOutcome)
    case pending(@Sendable () async -> APIOutcome)
    case stream(RequestContext, @Sendable (RequestContext, any EventSink) -> Void)
    case tunnel(RequestContext, @Sendable (RequestContext) throws -> any ByteTunnel)
}

/// parse → validate → authenticate → authorize → run, for every endpoint alike.
public final class Dispatcher: Sendable {
    public let registry: Registry
    public let services: Services
    let authenticator: any Authenticator
    let authorizer: any Authorizer

    public init(registry: Registry, services: Services, authenticator: any Authenticator, authorizer: any Authorizer) {
        self.registry = registry
        self.services = services
        self.authenticator = authenticator
        self.authorizer = authorizer
    }

    public func dispatch(_ call: APICall) -> Dispatch {
        guard let (endpoint, pathParameters) = registry.route(call.method, call.segments) else {
            return .done(APIOutcome(.failure(.notImplemented(call.method, call.displayPath))))
        }
        var raw = call.parameters
        for (name, value) in pathParameters {
            if let given = raw[name], given != .text(value) {
                return .done(APIOutcome(.failure(.parameters([name: "value given in the path and as a parameter differ"]))))
            }
            raw[name] = .text(value)
        }
        let caller: Caller
        do {
            if call.credentials.proxiedUser != nil {
                // only a forwarded call's proof covers it
                var credentials = call.credentials
                credentials.requestLine = "\(call.method) \(call.displayPath)"
                caller = try authenticator.authenticate(credentials, endpoint: endpoint, method: endpoint.method)
            } else {
                caller = try authenticator.authenticate(call.credentials, endpoint: endpoint, method: endpoint.method)
            }
        } catch {
            return .done(APIOutcome(.failure(error)))
        }
        let parameters: [String: JSON]
        switch Validator.validate(raw, against: endpoint.parameters) {
        case .success(let typed): parameters = typed
        case .failure(let errors): return .done(APIOutcome(.failure(.parameters(errors.errors)), user: caller.user))
        }
        // proxy-to step: a call for another node is checked here and runs there
        var remote: String?
        if let nodeParameter = endpoint.nodeParameter,
            let node = parameters[nodeParameter]?.stringValue, node != services.nodeName, node != "localhost"
        {
            guard let forwarder = services.forwarder, forwarder.isMember(node) else {
                return .done(APIOutcome(.failure(APIError(404, "no such cluster node '\(node)'")), user: caller.user))
            }
            remote = node
        }
        guard authorizer.authorize(caller, endpoint.permission, parameters: parameters) else {
            let detail = authorizer.denial(caller, endpoint.permission, parameters: parameters)
            return .done(APIOutcome(.failure(APIError(403, "Permission check failed" + (detail.map { " (\($0))" } ?? ""))), user: caller.user))
        }
        let context = RequestContext(
            endpoint: endpoint, parameters: parameters, user: caller.user, services: services, remoteAddress: call.credentials.remoteAddress,
            authorizer: authorizer)
        if let remote, let forwarder = services.forwarder {
            switch endpoint.handler {
            case .stream:
                return .done(
                    APIOutcome(
                        .failure(APIError(501, "\(call.displayPath) runs on node '\(remote)': connect to that node for this stream")),
                        user: caller.user))
            case .tunnel:
                return .tunnel(context) { _ in try forwarder.openTunnel(call, to: remote, user: caller.user) }
            default:
                return .pending {
                    var outcome = await forwarder.forward(call, to: remote, user: caller.user)
                    outcome.user = caller.user
                    return outcome
                }
            }
        }
        switch endpoint.handler {
        case .sync(let body):
            return .done(Self.run(context) { try body(context) })
        case .blocking(let body):
            return .pending {
                do {
                    let data = try await BlockingExecutor.shared.run { try body(context) }
                    return APIOutcome(.success(data), attributes: context.resultAttributes, user: caller.user)
                } catch {
                    return APIOutcome(.failure(APIError.from(error)), user: caller.user)
                }
            }
        case .async(let body):
            return .pending {
                do {
                    let data = try await withTaskExecutorPreference(BlockingExecutor.shared) { try await body(context) }
                    return APIOutcome(.success(data), attributes: context.resultAttributes, user: caller.user)
                } catch {
                    return APIOutcome(.failure(APIError.from(error)), user: caller.user)
                }
            }
        case .stream(let body):
            return .stream(context, body)
        case .tunnel(let open):
            return .tunnel(context, open)
        }
    }

    private static func run(_ context: RequestContext, _ body: () throws -> JSON) -> APIOutcome {
        do {
            let data = try body()
            return APIOutcome(.success(data), attributes: context.resultAttributes, user: context.user)
        } catch {
            return APIOutcome(.failure(APIError.from(error)), user: context.user)
        }
    }

    /// Runs a call to completion (CLIs and tests).
    public func call(_ call: APICall) async -> APIOutcome {
        switch dispatch(call) {
        case .done(let outcome): return outcome
        case .pending(let run): return await run()
        case .stream: return APIOutcome(.failure(APIError(400, "\(call.displayPath) is an event stream; read it over HTTP")))
        case .tunnel: return APIOutcome(.failure(APIError(400, "\(call.displayPath) is a WebSocket; open it over HTTP")))
        }
    }
}

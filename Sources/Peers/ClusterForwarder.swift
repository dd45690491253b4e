import API
import Blocking
import ClusterFS
import Foundation
import Glibc
import Schema
import Synchronization
import TLS

/// Runs calls on the cluster member that owns them: the member's address and online state come from
/// the membership ClusterFS publishes (`.members`), its certificate from `nodes/<node>/pve-ssl.pem`,
/// and the caller travels with a proof only members can make.
public final class ClusterForwarder: Forwarder {
    let tree: any ConfigTree
    let client: PeerClient
    let port: UInt16
    let prove: @Sendable (_ user: String, _ method: String, _ requestLine: String) throws -> String
    private let fingerprints = Mutex<[String: (pem: String, fingerprint: String)]>([:])

    public init(
        tree: any ConfigTree, client: PeerClient, port: UInt16 = 8006,
        prove: @escaping @Sendable (_ user: String, _ method: String, _ requestLine: String) throws -> String
    ) {
        self.tree = tree
        self.client = client
        self.port = port
        self.prove = prove
    }

    /// Configured nodes: address and whether corosync sees them.
    public func members() -> [String: (ip: String, online: Bool)] { Self.members(in: tree) }

    /// The cluster's configured nodes from `.members` (empty on a standalone node).
    public static func members(in tree: any ConfigTree) -> [String: (ip: String, online: Bool)] { tree.clusterMembers() }

    public func isMember(_ node: String) -> Bool { members()[node] != nil }

    /// Where `node`'s API is, pinned to its certificate.
    public func address(of node: String) throws(APIError) -> PeerAddress {
        guard let member = members()[node] else { throw APIError(404, "no such cluster node '\(node)'") }
        guard member.online else { throw APIError(595, "node '\(node)' is offline") }
        guard let pem = try? tree.readString("nodes/\(node)/pve-ssl.pem") else {
            throw APIError(500, "node '\(node)' has no certificate in the cluster filesystem")
        }
        if let cached = fingerprints.withLock({ $0[node] }), cached.pem == pem {
            return PeerAddress(host: member.ip, port: port, fingerprint: cached.fingerprint)
        }
        guard let fingerprint = try? CertificateAuthority.fingerprint(pemCertificate: pem) else {
            throw APIError(500, "node '\(node)' has an unreadable certificate in the cluster filesystem")
        }
        fingerprints.withLock { $0[node] = (pem, fingerprint) }
        return PeerAddress(host: member.ip, port: port, fingerprint: fingerprint)
    }

    public func forward(_ call: APICall, to node: String, user: String) async -> APIOutcome {
        do {
            let address = try address(of: node)
            let request = try makeRequest(call, user: user)
            let client = client
            let response = try await BlockingExecutor.shared.run { () throws(PeerError) -> PeerResponse in
                // an upload's spooled copy is this node's to remove once it went on
                defer { if let file = request.bodyFile { unlink(file) } }
                return try client.send(request, to: address, timeout: request.bodyFile == nil ? 30 : 120)
            }
            return Self.outcome(response)
        } catch {
            return APIOutcome(.failure(APIError.from(error)))
        }
    }

    /// Opens the call's WebSocket on `node` and relays it (consoles of guests on other nodes).
    public func openTunnel(_ call: APICall, to node: String, user: String) throws -> any ByteTunnel {
        let address = try address(of: node)
        var request = try makeRequest(call, user: user)
        let key = Data(try Digest.randomBytes(16)).base64EncodedString()
        request.headers += [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]
        let client = client, bytes = client.head(request, address: address)
        return PeerTunnel {
            let connection = try client.connect(address, timeout: 10)
            let response = try connection.upgrade(bytes)
            guard response.status == 101 else {
                throw APIError(response.status, "node '\(node)' refused the WebSocket: \(response.reason)")
            }
            return connection
        }
    }

    func makeRequest(_ call: APICall, user: String) throws -> PeerClient.Request {
        let path = "/api2/json/" + call.segments.map(Self.encodeSegment).joined(separator: "/")
        var headers = [
            (ProxyHeaders.user, user), (ProxyHeaders.proof, try prove(user, call.method, "\(call.method) \(call.displayPath)")),
        ]
        if case .text(let spooled)? = call.parameters["tmpfilename"] {
            // an upload: the same multipart form again, the file streamed from where it was spooled
            let boundary = "corral-" + Digest.hex(try Digest.randomBytes(12))
            var prefix = ""
            for (name, value) in call.parameters.sorted(by: { $0.key < $1.key }) where name != "tmpfilename" && name != "filename" {
                prefix += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(Self.json(value).plainText)\r\n"
            }
            let name = call.parameters["filename"].map { Self.json($0).plainText } ?? "upload"
            prefix +=
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"filename\"; filename=\"\(name.replacingOccurrences(of: "\"", with: ""))\"\r\n"
            prefix += "Content-Type: application/octet-stream\r\n\r\n"
            headers.append(("Content-Type", "multipart/form-data; boundary=\(boundary)"))
            var request = PeerClient.Request(method: call.method, path: path, headers: headers, body: Array(prefix.utf8))
            request.bodyFile = spooled
            request.trailer = Array("\r\n--\(boundary)--\r\n".utf8)
            return request
        }
        let hasJSON = call.parameters.values.contains { if case .json = $0 { true } else { false } }
        if call.method == "GET" || call.method == "DELETE" {
            let query = Self.form(call.parameters)
            return PeerClient.Request(method: call.method, path: query.isEmpty ? path : path + "?" + query, headers: headers)
        }
        if hasJSON {
            var object: [String: JSON] = [:]
            for (name, value) in call.parameters { object[name] = Self.json(value) }
            headers.append(("Content-Type", "application/json"))
            return PeerClient.Request(method: call.method, path: path, headers: headers, body: JSON.object(object).serialized())
        }
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        return PeerClient.Request(method: call.method, path: path, headers: headers, body: Array(Self.form(call.parameters).utf8))
    }

    /// PVE's envelope back into an outcome: `data` and any other top-level attributes, or the
    /// error with its status, message and per-parameter errors.
    static func outcome(_ response: PeerResponse) -> APIOutcome {
        let envelope = (try? JSONParser.parse(response.body))?.objectValue ?? [:]
        if response.status == 200 {
            var attributes = envelope
            let data = attributes.removeValue(forKey: "data") ?? .null
            return APIOutcome(.success(data), attributes: attributes)
        }
        var message = envelope["message"]?.stringValue ?? response.reason
        if message.hasSuffix("\n") { message.removeLast() }
        let errors = envelope["errors"]?.objectValue?.mapValues { $0.plainText }
        return APIOutcome(.failure(APIError(response.status, message, errors: errors?.isEmpty == false ? errors : nil)))
    }

    private static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    /// Percent-encodes all but RFC 3986's unreserved characters (path segments, form fields).
    public static func encodeSegment(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text }

    static func form(_ parameters: [String: RawParameter]) -> String {
        var pairs: [String] = []
        func add(_ name: String, _ value: RawParameter) {
            switch value {
            case .text(let text): pairs.append(encodeSegment(name) + "=" + encodeSegment(text))
            case .json(let json): pairs.append(encodeSegment(name) + "=" + encodeSegment(json.plainText))
            case .repeated(let values): for value in values { add(name, value) }
            }
        }
        for name in parameters.keys.sorted() { add(name, parameters[name]!) }
        return pairs.joined(separator: "&")
    }

    static func json(_ value: RawParameter) -> JSON {
        switch value {
        case .text(let text): .string(text)
        case .json(let json): json
        case .repeated(let values): .array(values.map(json))
        }
    }
}

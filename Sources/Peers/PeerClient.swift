import Foundation
import Synchronization
import TLS

/// HTTPS calls to other nodes, each pinned to the node's certificate fingerprint. Blocking: call
/// it from the blocking executor. Idle connections are kept per address and reused, so a proxied
/// call costs one round trip rather than a TLS handshake.
public final class PeerClient: Sendable {
    public struct Request: Sendable {
        public var method: String
        /// The path with its query, e.g. `/api2/json/nodes/n3/status`.
        public var path: String
        public var headers: [(String, String)]
        public var body: [UInt8]
        /// A file streamed after `body`, then `trailer` (an upload: never read into memory whole).
        public var bodyFile: String?
        public var trailer: [UInt8] = []

        public init(method: String, path: String, headers: [(String, String)] = [], body: [UInt8] = []) {
            self.method = method
            self.path = path
            self.headers = headers
            self.body = body
        }
    }

    private let context: TLSClientContext
    private let idle = Mutex<[PeerAddress: [PeerConnectionBox]]>([:])
    public let connectTimeout: Double
    public let maxIdlePerPeer = 8

    public init(connectTimeout: Double = 3) throws {
        context = try TLSClientContext()
        self.connectTimeout = connectTimeout
    }

    /// Sends `request` to `address` and reads the response; `timeout` bounds each wait for the peer.
    public func send(_ request: Request, to address: PeerAddress, timeout: Double = 30) throws(PeerError) -> PeerResponse {
        if let file = request.bodyFile {
            // a stream cannot be sent twice: always on a new connection
            let box = PeerConnectionBox(try PeerConnection(address, context: context, connectTimeout: connectTimeout, ioTimeout: timeout))
            let response = try box.connection.exchange(head(request, address: address), file: file, trailer: request.trailer)
            putBack(box)
            return response
        }
        let bytes = head(request, address: address)
        // a pooled connection the peer closed meanwhile fails on first use: retry once on a new one,
        // but only for requests that are safe to send twice
        if let pooled = takeIdle(address) {
            pooled.connection.setIOTimeout(timeout)
            do {
                let response = try pooled.connection.exchange(bytes)
                putBack(pooled)
                return response
            } catch  where error.code == PeerError.timedOut {
                // the peer has the request and is slow: sending it again could run a change twice
                throw error
            } catch {}
        }
        let box = PeerConnectionBox(try PeerConnection(address, context: context, connectTimeout: connectTimeout, ioTimeout: timeout))
        let response = try box.connection.exchange(bytes)
        putBack(box)
        return response
    }

    /// The request's bytes: head and body.
    func head(_ request: Request, address: PeerAddress) -> [UInt8] {
        var head = "\(request.method) \(request.path) HTTP/1.1\r\nHost: \(address.authority)\r\n"
        for (name, value) in request.headers { head += "\(name): \(value)\r\n" }
        let fileSize = request.bodyFile.flatMap { (try? FileManager.default.attributesOfItem(atPath: $0))?[.size] as? Int } ?? 0
        let length = request.body.count + fileSize + request.trailer.count
        if length > 0 || request.method == "POST" || request.method == "PUT" { head += "Content-Length: \(length)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + request.body
    }

    /// A new connection of its own (not pooled): for upgrades.
    func connect(_ address: PeerAddress, timeout: Double) throws(PeerError) -> PeerConnection {
        try PeerConnection(address, context: context, connectTimeout: connectTimeout, ioTimeout: timeout)
    }

    private func takeIdle(_ address: PeerAddress) -> PeerConnectionBox? {
        idle.withLock { $0[address]?.popLast() }
    }

    private func putBack(_ box: PeerConnectionBox) {
        guard box.connection.reusable else { return }
        idle.withLock { pool in
            if pool[box.connection.address, default: []].count < maxIdlePerPeer { pool[box.connection.address, default: []].append(box) }
        }
    }

    /// Drops idle connections to `address` (its node left or changed its certificate).
    public func forget(_ address: PeerAddress) { idle.withLock { $0[address] = nil } }

    /// The fingerprint a server at `host:port` presents, without trusting it (what a joining node
    /// shows its administrator when no fingerprint was given).
    public func fingerprint(host: String, port: UInt16 = 8006) throws(PeerError) -> String {
        let connection = try PeerConnection(
            PeerAddress(host: host, port: port, fingerprint: ""), context: context, connectTimeout: connectTimeout, ioTimeout: 5)
        return connection.peerFingerprint
    }
}

/// A connection moved between threads; only one thread uses it at a time (the pool hands it out).
final class PeerConnectionBox: @unchecked Sendable {
    let connection: PeerConnection
    init(_ connection: PeerConnection) { self.connection = connection }
}

import Foundation
import Glibc
import TLS
import WebClient

/// Sends a cycle's lines to one external server: UDP datagrams (Graphite or InfluxDB), a Graphite
/// TCP stream, or InfluxDB's HTTP(S) write API with its token. Blocking, with the server's timeout
/// on every connect and write: it runs on the metrics sender's own queue, never the sampler's.
struct MetricSender {
    let server: MetricServerConfig.Server

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// The lines a cycle gives for this server's type.
    func lines(_ cycle: MetricCycle) -> [String] {
        server.type == "graphite" ? MetricLines.graphite(cycle, path: server.path) : MetricLines.influx(cycle)
    }

    func send(_ cycle: MetricCycle) throws {
        let lines = lines(cycle)
        guard !lines.isEmpty else { return }
        switch (server.type, server.proto) {
        case (_, "udp"):
            let socket = try Self.connect(server.server, server.port, datagram: true, timeout: server.timeout)
            defer { close(socket) }
            // one datagram a batch, below the path's MTU less the IP and UDP headers (PVE's sizing)
            for batch in MetricLines.batches(lines, size: max(server.mtu - 50, 64)) { try Self.write(socket, batch) }
        case ("graphite", _):
            let socket = try Self.connect(server.server, server.port, datagram: false, timeout: server.timeout)
            defer { close(socket) }
            for batch in MetricLines.batches(lines, size: 56_000) { try Self.write(socket, batch) }
        default:
            for batch in MetricLines.batches(lines, size: server.maxBodySize) {
                let query = "org=\(server.organization)&bucket=\(server.bucket)"
                try http("POST", "\(server.apiPathPrefix)api/v2/write?\(query)", body: batch)
            }
        }
    }

    /// What PVE checks before it stores a server: a TCP Graphite answers a connect, an HTTP(S)
    /// InfluxDB its health check; UDP only needs an address that resolves.
    func test() throws {
        switch (server.type, server.proto) {
        case (_, "udp"): close(try Self.connect(server.server, server.port, datagram: true, timeout: server.timeout))
        case ("graphite", _): close(try Self.connect(server.server, server.port, datagram: false, timeout: server.timeout))
        default: try http("GET", "\(server.apiPathPrefix)health", body: [])
        }
    }

    // MARK: HTTP

    /// One request on a connection of its own; anything but 2xx is an error naming the status.
    func http(_ method: String, _ target: String, body: [UInt8]) throws {
        let host = server.server.contains(":") ? "[\(server.server)]" : server.server
        var headers = [("Content-Type", "text/plain; charset=utf-8")]
        if let token = server.token { headers.append(("Authorization", "Token \(token)")) }
        let answer = try WebClient.send(
            method, "\(server.proto)://\(host):\(server.port)\(target)", headers: headers, body: body, timeout: server.timeout,
            verify: server.verifyCertificate, limit: 1 << 20)
        guard (200..<300).contains(answer.status) else { throw Failure("\(answer.status) \(answer.text.prefix(200))") }
    }

    static func connect(_ host: String, _ port: Int, datagram: Bool, timeout: Double) throws -> Int32 {
        try WebClient.connect(host, port, datagram: datagram, timeout: timeout)
    }

    static func write(_ fd: Int32, _ bytes: [UInt8]) throws { try WebClient.write(fd, bytes) }
}

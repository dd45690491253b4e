import Foundation
import Glibc
import HTTPServer
import Peers
import TLS
import Testing

/// Calls between cluster members against our own server: the peer's certificate is pinned by its
/// fingerprint, connections are reused, bodies (and streamed files) arrive whole, and a peer that
/// is not there fails at once.
@Suite(.serialized) struct PeerClientTests {
    static func tlsServer() throws -> (HTTPServer, UInt16, String) {
        let dir = NSTemporaryDirectory() + "corral-peer-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let ca = try CertificateAuthority.makeRoot(commonName: "Test CA")
        let node = try CertificateAuthority.makeNode(ca: ca, nodeName: "n1", dnsNames: ["n1"], ipAddresses: ["127.0.0.1"])
        try (node.certificate + ca.certificate).write(toFile: dir + "/cert.pem", atomically: true, encoding: .utf8)
        try node.privateKey.write(toFile: dir + "/key.pem", atomically: true, encoding: .utf8)
        let (server, port) = try startServer(tls: try TLSContext(certificateChainFile: dir + "/cert.pem", privateKeyFile: dir + "/key.pem"))
        return (server, port, try CertificateAuthority.fingerprint(pemCertificate: node.certificate))
    }

    @Test func aPinnedPeerAnswersOverReusedConnections() async throws {
        let (server, port, fingerprint) = try Self.tlsServer()
        let client = try PeerClient()
        let peer = PeerAddress(host: "127.0.0.1", port: port, fingerprint: fingerprint.lowercased())
        #expect(try client.fingerprint(host: "127.0.0.1", port: port) == fingerprint)
        for _ in 0..<3 {
            let fast = try client.send(PeerClient.Request(method: "GET", path: "/fast"), to: peer)
            #expect(fast.status == 200 && String(decoding: fast.body, as: UTF8.self) == "fast")
        }
        let big = try client.send(PeerClient.Request(method: "GET", path: "/big"), to: peer)
        #expect(big.body.count == 140_000)
        let echo = try client.send(PeerClient.Request(method: "POST", path: "/echo", body: Array("hello peer".utf8)), to: peer)
        #expect(String(decoding: echo.body, as: UTF8.self) == "hello peer" && echo.header("X-Method") == "POST")
        // a file streamed between a head and a trailer arrives as one body
        let file = NSTemporaryDirectory() + "corral-peer-file-\(UUID().uuidString)"
        let content = (0..<300_000).map { UInt8($0 % 251) }
        try Data(content).write(to: URL(fileURLWithPath: file))
        defer { unlink(file) }
        var upload = PeerClient.Request(method: "POST", path: "/echo", body: Array("<".utf8))
        upload.bodyFile = file
        upload.trailer = Array(">".utf8)
        let streamed = try client.send(upload, to: peer)
        #expect(streamed.body == Array("<".utf8) + content + Array(">".utf8))
        await server.shutdown(grace: 1)
    }

    @Test func anotherCertificateOrNoPeerIsRefusedAtOnce() async throws {
        let (server, port, fingerprint) = try Self.tlsServer()
        let client = try PeerClient()
        let wrong = PeerAddress(host: "127.0.0.1", port: port, fingerprint: String(fingerprint.reversed()))
        do {
            _ = try client.send(PeerClient.Request(method: "GET", path: "/fast"), to: wrong)
            Issue.record("a peer with another certificate was trusted")
        } catch {
            #expect(error.code == PeerError.fingerprintMismatch && error.message.contains(fingerprint), "\(error)")
        }
        await server.shutdown(grace: 1)
        let started = Date()
        do {
            _ = try client.send(
                PeerClient.Request(method: "GET", path: "/fast"), to: PeerAddress(host: "127.0.0.1", port: port, fingerprint: fingerprint))
            Issue.record("a closed port answered")
        } catch {
            #expect(error.code == PeerError.unreachable && Date().timeIntervalSince(started) < 2, "\(error)")
        }
    }
}

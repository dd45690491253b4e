import FUSE
import Foundation
import LXC
import Libvirt
import SQLite
import TLS
import Testing

@testable import Corosync

/// The thin wrappers against their real libraries (libvirt's in-process test driver needs no daemon).
@Suite struct WrapperTests {
    @Test func sqliteRoundTripsEveryType() throws {
        let db = try SQLiteDatabase(path: NSTemporaryDirectory() + "corral-\(UUID().uuidString).db")
        try db.execute("PRAGMA journal_mode=WAL; CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)")
        try db.query("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [.integer(42), .real(1.5), .text("ünï"), .blob([0, 1, 255]), .null])
        let rows = try db.query("SELECT i, r, s, b, n FROM t")
        #expect(rows == [[.integer(42), .real(1.5), .text("ünï"), .blob([0, 1, 255]), .null]])
        #expect(throws: SQLiteError.self) { try db.query("SELECT * FROM missing") }
        #expect(SQLiteDatabase.libraryVersion.hasPrefix("3."))
    }

    @Test func libvirtTestDriverListsItsDomain() throws {
        let connection = try LibvirtConnection(uri: "test:///default")
        #expect(try connection.activeDomainNames() == ["test"])
        #expect(!(try connection.hypervisorVersion()).isEmpty)
        #expect(try LibvirtConnection.libraryVersion().split(separator: ".").count == 3)
        #expect(throws: LibvirtError.self) { try LibvirtConnection(uri: "bogus:///nothing") }
    }

    @Test func lxcSeesNoContainerInAnEmptyPath() throws {
        let path = NSTemporaryDirectory() + "corral-lxc-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let container = try LXCContainer(name: "absent", lxcpath: path)
        #expect(!container.isDefined)
        #expect(container.state == "STOPPED")
        #expect(LXCContainer.definedNames(lxcpath: path).isEmpty)
        #expect(LXCContainer.libraryVersion.first?.isNumber == true)
    }

    @Test func fuseReportsItsVersion() {
        #expect(FUSELibrary.version >= 300)
        #expect(FUSELibrary.packageVersion.hasPrefix("3."))
    }

    @Test func corosyncAbsentMeansSendsFailTypedAndNothingCrashes() throws {
        // No corosync runs during unit tests: the connection keeps retrying in the background and a
        // send says it cannot reach corosync, as a typed error.
        final class Listener: CorosyncListener, @unchecked Sendable {
            func corosyncConnected(localNodeID: UInt32, localPID: UInt32, nodes: [ClusterNode], clusterName: String) {}
            func corosyncDisconnected() {}
            func corosyncQuorumChanged(_ quorate: Bool) {}
            func corosyncDelivered(group: String, from: CPGMember, message: [UInt8]) {}
            func corosyncMembershipChanged(group: String, members: [CPGMember], left: [CPGMember], joined: [CPGMember]) {}
        }
        let listener = Listener()
        let connection = CorosyncConnection(groups: ["corral_test"], listener: listener)
        connection.start()
        usleep(200_000)
        do {
            try connection.send(group: "corral_test", [1, 2, 3])
            print("corosync is running here; the send went out")
        } catch {
            #expect(error.isUnreachable)
            #expect(error.function == "cpg_mcast_joined")
        }
        connection.stop()
    }

    @Test func largeMessagesAreFragmentedAndJoinedPerSender() {
        var fragmenter = MessageFragmenter()
        let big = (0..<(MessageFragmenter.maxFragment * 2 + 100)).map { UInt8(truncatingIfNeeded: $0) }
        let small: [UInt8] = [9, 8, 7]
        let a = CPGMember(nodeID: 1, pid: 1), b = CPGMember(nodeID: 2, pid: 2)
        let parts = MessageFragmenter.fragments(big)
        #expect(parts.count == 3)
        var delivered: [[UInt8]] = []
        // another sender's message arrives between the fragments: it must not mix in
        for (i, part) in parts.enumerated() {
            if let m = part.withUnsafeBytes({ fragmenter.receive($0, from: a) }) { delivered.append(m) }
            if i == 0, let m = MessageFragmenter.fragments(small)[0].withUnsafeBytes({ fragmenter.receive($0, from: b) }) { delivered.append(m) }
        }
        #expect(delivered == [small, big])
        // a sender that leaves mid-message leaves nothing behind
        _ = parts[0].withUnsafeBytes { fragmenter.receive($0, from: a) }
        fragmenter.forget(a)
        #expect(parts[2].withUnsafeBytes { fragmenter.receive($0, from: a) } == Array(big[(MessageFragmenter.maxFragment * 2)...]))
    }

    @Test func certificatesChainToTheirCA() throws {
        let ca = try CertificateAuthority.makeRoot(commonName: "CA")
        let node = try CertificateAuthority.makeNode(ca: ca, nodeName: "n1", dnsNames: ["n1"], ipAddresses: ["127.0.0.1"])
        let dir = NSTemporaryDirectory() + "corral-ca-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try ca.certificate.write(toFile: dir + "/ca.pem", atomically: true, encoding: .utf8)
        try node.certificate.write(toFile: dir + "/node.pem", atomically: true, encoding: .utf8)
        let verify = Process()
        verify.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        verify.arguments = ["verify", "-CAfile", dir + "/ca.pem", dir + "/node.pem"]
        verify.standardOutput = FileHandle.nullDevice
        try verify.run()
        verify.waitUntilExit()
        #expect(verify.terminationStatus == 0)
        let text = try String(decoding: Data(contentsOf: URL(fileURLWithPath: dir + "/node.pem")), as: UTF8.self)
        #expect(text.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(node.privateKey.contains("PRIVATE KEY"))
        #expect(try CertificateAuthority.fingerprint(pemCertificate: node.certificate).split(separator: ":").count == 32)
    }

    @Test func digestsMatchKnownVectors() {
        #expect(Digest.hex(Digest.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            Digest.hex(Digest.hmacSHA256(key: Array("key".utf8), data: Array("The quick brown fox jumps over the lazy dog".utf8)))
                == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
    }
}

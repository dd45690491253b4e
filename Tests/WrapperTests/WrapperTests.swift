import Corosync
import FUSE
import Foundation
import LXC
import Libvirt
import SQLite
import TLS
import Testing

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

    @Test func corosyncAbsentIsATypedUnreachableError() {
        // No corosync runs during unit tests: the wrapper must say so as a typed error, not crash.
        do {
            _ = try QuorumClient()
            print("corosync is running here; quorum client connected")
        } catch let error as CorosyncError {
            #expect(error.isUnreachable)
            #expect(error.function == "quorum_initialize")
        } catch {
            Issue.record("unexpected error \(error)")
        }
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
        #expect(Digest.hex(Digest.hmacSHA256(key: Array("key".utf8), data: Array("The quick brown fox jumps over the lazy dog".utf8)))
            == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
    }
}

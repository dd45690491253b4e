import Foundation
import Glibc
import SQLite
import TestSupport
import Testing

@testable import ClusterFS

func expectErrno(_ code: Int32, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        try body()
        Issue.record("expected errno \(code), got success", sourceLocation: sourceLocation)
    } catch let error as ClusterFSError {
        #expect(error.errno == code, "\(error.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct ClusterFSTests {
    let dir = temporaryDirectory()
    func open(_ node: String = "n1") throws -> ClusterFS { try ClusterFS(databasePath: dir + "/config.db", nodeName: node) }

    @Test func persistsInPmxcfsTableShape() throws {
        do {
            let fs = try open()
            try fs.write("storage.cfg", Array("dir: local\n\tpath /var/lib/vz\n".utf8))
            try fs.mkdir("nodes/n1/qemu-server/sub")
        }
        let db = try SQLiteDatabase(path: dir + "/config.db")
        let columns = try db.query("SELECT name FROM pragma_table_info('tree') ORDER BY cid").map { $0[0] }
        #expect(columns == ["inode", "parent", "version", "writer", "mtime", "type", "name", "data"].map { .text($0) })
        let version = try db.query("SELECT name, version FROM tree WHERE inode = 0")
        #expect(version.first?.first == .text("__version__"))
        let reopened = try open()
        #expect(try reopened.readString("storage.cfg") == "dir: local\n\tpath /var/lib/vz\n")
        #expect(try reopened.stat("nodes/n1/qemu-server/sub").kind == .directory)
        #expect(version.first?.last == .integer(Int64(reopened.version)))
    }

    @Test func everyChangeBumpsTheVersionOnce() throws {
        let fs = try open()
        let v0 = fs.version
        try fs.write("a.cfg", [1])
        try fs.write("a.cfg", [2])
        try fs.rename("a.cfg", to: "b.cfg")
        try fs.delete("b.cfg")
        #expect(fs.version == v0 + 4)
    }

    @Test func renameReplacesAtomicallyAndRefusesBadMoves() throws {
        let fs = try open()
        try fs.write("user.cfg", Array("old".utf8))
        try fs.write("user.cfg.tmp", Array("new".utf8))
        try fs.rename("user.cfg.tmp", to: "user.cfg")
        #expect(try fs.readString("user.cfg") == "new")
        expectErrno(ENOENT) { _ = try fs.stat("user.cfg.tmp") }
        try fs.mkdir("d")
        try fs.write("d/f", [1])
        expectErrno(ENOTEMPTY) { try fs.delete("d") }
        expectErrno(EINVAL) { try fs.rename("d", to: "d/inner") }
        expectErrno(ENOENT) { try fs.write("missing/f", [1]) }
        expectErrno(EISDIR) { try fs.write("d", [1]) }
        expectErrno(EEXIST) { try fs.create("d/f", [2]) }
        expectErrno(EINVAL) { _ = try fs.read("../etc/passwd") }
    }

    @Test func guestIDsAreUniqueAcrossNodes() throws {
        let fs = try open()
        try fs.mkdir("nodes/n2")
        try fs.mkdir("nodes/n2/qemu-server")
        try fs.mkdir("nodes/n2/lxc")
        try fs.create("nodes/n1/qemu-server/100.conf", Array("memory: 512\n".utf8))
        expectErrno(EEXIST) { try fs.create("nodes/n2/qemu-server/100.conf") }
        expectErrno(EEXIST) { try fs.write("nodes/n2/lxc/100.conf", []) }
        expectErrno(EEXIST) { try fs.checkCreate("nodes/n1/lxc/100.conf") }
        // migration moves the same config to another node
        try fs.rename("nodes/n1/qemu-server/100.conf", to: "nodes/n2/qemu-server/100.conf")
        let vmlist = try fs.readString(".vmlist")
        #expect(vmlist.contains(#""100": { "node": "n2", "type": "qemu""#))
        try fs.create("nodes/n1/lxc/101.conf")
        #expect(try fs.readString(".vmlist").contains(#""101": { "node": "n1", "type": "lxc""#))
    }

    @Test func limitsAreEnforced() throws {
        var limits = ClusterFS.Limits()
        limits.maxFileSize = 1000
        let fs = try ClusterFS(databasePath: dir + "/config.db", nodeName: "n1", limits: limits)
        expectErrno(EFBIG) { try fs.write("big", [UInt8](repeating: 0, count: 1001)) }
        expectErrno(ENAMETOOLONG) { try fs.write(String(repeating: "x", count: 256), []) }
        expectErrno(EACCES) { try fs.write(".vmlist", []) }
        try fs.write(String(repeating: "y", count: 255), [])
    }

    @Test func withoutQuorumWritesFailAndReadsWork() throws {
        let fs = try open()
        try fs.write("datacenter.cfg", Array("keyboard: en-us\n".utf8))
        fs.isQuorate = { false }
        expectErrno(EACCES) { try fs.write("datacenter.cfg", []) }
        expectErrno(EACCES) { try fs.mkdir("x") }
        expectErrno(EACCES) { try fs.delete("datacenter.cfg") }
        #expect(try fs.readString("datacenter.cfg") == "keyboard: en-us\n")
        #expect(try fs.readString(".members").contains(#""quorate": 0"#))
    }

    @Test func locksAreExclusiveUntilTheyExpire() throws {
        var limits = ClusterFS.Limits()
        limits.lockTimeout = 2
        let fs = try ClusterFS(databasePath: dir + "/config.db", nodeName: "n1", limits: limits)
        try fs.acquireLock("storage-local")
        expectErrno(EEXIST) { try fs.acquireLock("storage-local") }
        try fs.setMtime("priv/lock/storage-local", UInt32(time(nil)) - 10)
        try fs.acquireLock("storage-local")  // expired: taken over
        try fs.refreshLock("storage-local")
        expectErrno(EEXIST) { try fs.acquireLock("storage-local") }
        try fs.releaseLock("storage-local")
        try fs.acquireLock("storage-local")
    }

    @Test func observersSeeEachCommittedChange() throws {
        let fs = try open()
        let seen = Seen()
        let token = fs.addObserver { seen.add($0) }
        try fs.write("a", [1])
        try fs.rename("a", to: "b")
        try? fs.create("b", [2])  // refused: no event
        fs.removeObserver(token)
        try fs.delete("b")
        #expect(seen.all.map(\.path) == ["a", "b"])
        #expect(seen.all.last?.kind == .renamed(from: "a"))
    }
}

final class Seen: @unchecked Sendable {
    private var changes: [ClusterFSChange] = []
    private let lock = NSLock()
    func add(_ c: [ClusterFSChange]) { lock.withLock { changes += c } }
    var all: [ClusterFSChange] { lock.withLock { changes } }
}

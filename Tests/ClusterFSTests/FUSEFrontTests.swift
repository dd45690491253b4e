import Foundation
import Glibc
import Synchronization
import TestSupport
import Testing

@testable import ClusterFS
@testable import FUSE

/// The FUSE front on a real mount, driven through the kernel with plain POSIX calls. Files are opened
/// O_CLOEXEC: a descriptor inherited by a child another test spawns would be closed there, and every
/// close is a flush (a commit of what was written so far).
@Suite(.serialized, .enabled(if: fuseAvailable, "the FUSE tests need /dev/fuse and root")) struct FUSEFrontTests {
    let dir = temporaryDirectory()

    func mounted(_ body: (ClusterFS, String) throws -> Void) throws { try withMountedTree(in: dir, body) }

    func write(_ path: String, _ text: String) -> Int32 {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count ? 0 : errno
    }

    @Test func writesReadsRenamesAndListsThroughTheKernel() throws {
        try mounted { fs, root throws in
            #expect(write(root + "/storage.cfg.tmp", "dir: local\n") == 0)
            #expect(rename(root + "/storage.cfg.tmp", root + "/storage.cfg") == 0)
            #expect(try fs.readString("storage.cfg") == "dir: local\n")
            #expect(try String(contentsOfFile: root + "/storage.cfg", encoding: .utf8) == "dir: local\n")
            try fs.write("user.cfg", Array("user:root@pam:1:0:::::\n".utf8))
            #expect(try String(contentsOfFile: root + "/user.cfg", encoding: .utf8) == "user:root@pam:1:0:::::\n")
            let names = try FileManager.default.contentsOfDirectory(atPath: root)
            #expect(Set(names).isSuperset(of: ["nodes", "priv", "storage.cfg", "user.cfg", ".vmlist", ".members", "local", "qemu-server"]))
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/qemu-server") == "nodes/n1/qemu-server")
            #expect(write(root + "/qemu-server/100.conf", "memory: 512\n") == 0)
            #expect(try String(contentsOfFile: root + "/nodes/n1/qemu-server/100.conf", encoding: .utf8) == "memory: 512\n")
            var info = stat()
            #expect(lstat(root + "/priv", &info) == 0 && info.st_mode & 0o777 == 0o700)
            #expect(lstat(root + "/user.cfg", &info) == 0 && info.st_mode & 0o777 == 0o640)
            #expect(mkdir(root + "/priv/lock/job", 0o755) == 0)
            #expect(mkdir(root + "/priv/lock/job", 0o755) == -1 && errno == EEXIST)
            #expect(unlink(root + "/user.cfg") == 0)
            #expect(access(root + "/user.cfg", F_OK) == -1 && errno == ENOENT)
        }
    }

    @Test func aFileWrittenInSmallChunksIsOneChange() throws {
        try mounted { fs, root throws in
            let before = fs.version
            let fd = Glibc.open(root + "/chunks.cfg", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
            #expect(fd >= 0)
            let chunk = [UInt8](repeating: 0x61, count: 512)
            for _ in 0..<1024 { _ = chunk.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, 512) } }
            close(fd)
            #expect(fs.version == before + 1)
            #expect(try fs.read("chunks.cfg").count == 512 * 1024)
        }
    }

    @Test func aForkInTheMiddleOfWritingPublishesNoHalfFile() throws {
        try mounted { fs, root throws in
            let before = fs.version
            // no O_CLOEXEC: the child inherits the descriptor and closes it, which flushes
            let fd = Glibc.open(root + "/forked.cfg", O_WRONLY | O_CREAT | O_TRUNC, 0o640)
            #expect(fd >= 0)
            _ = Array("first half\n".utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/bin/true")
            try child.run()
            child.waitUntilExit()
            #expect(throws: ClusterFSError.self) { try fs.stat("forked.cfg") }
            _ = Array("second half\n".utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            close(fd)
            #expect(try fs.readString("forked.cfg") == "first half\nsecond half\n")
            #expect(fs.version == before + 1)
        }
    }

    @Test func failedWritesLeaveNothingBehind() throws {
        try mounted { fs, root throws in
            let fd = Glibc.open(root + "/big.cfg", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
            let chunk = [UInt8](repeating: 0, count: 256 * 1024)
            var failed = false
            for _ in 0...(ClusterFS.Limits().maxFileSize / chunk.count) where !failed {
                failed = chunk.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } < 0 && errno == EFBIG
            }
            close(fd)
            #expect(failed)
            #expect(throws: ClusterFSError.self) { try fs.stat("big.cfg") }
            // another node's guest ID is refused at create time
            try fs.mkdir("nodes/n2")
            try fs.mkdir("nodes/n2/lxc")
            try fs.create("nodes/n2/lxc/200.conf")
            #expect(Glibc.open(root + "/nodes/n1/qemu-server/200.conf", O_WRONLY | O_CREAT | O_EXCL, 0o640) == -1 && errno == EEXIST)
        }
    }
}

@Suite(.serialized) struct FUSECacheTests {
    let dir = temporaryDirectory()

    /// Attributes are cached by the kernel; a change made through the in-process API must still be seen
    /// at once through the mount (the observer invalidates the cache).
    @Test func apiWritesAreVisibleThroughTheMountAtOnce() throws {
        try withMountedTree(in: dir) { fs, root throws in try checkAPIWritesVisible(fs, root) }
    }

    func checkAPIWritesVisible(_ fs: ClusterFS, _ root: String) throws {
        var info = stat()
        for round in 1...50 {
            let text = String(repeating: "v", count: round * 10) + "\n"
            try fs.write("datacenter.cfg", Array(text.utf8))
            #expect(lstat(root + "/datacenter.cfg", &info) == 0 && info.st_size == text.utf8.count, "round \(round)")
            #expect(try String(contentsOfFile: root + "/datacenter.cfg", encoding: .utf8) == text)
        }
        try fs.delete("datacenter.cfg")
        #expect(access(root + "/datacenter.cfg", F_OK) == -1)
        try fs.write("a.cfg", [1, 2, 3])
        try fs.rename("a.cfg", to: "b.cfg")
        #expect(access(root + "/a.cfg", F_OK) == -1)
        #expect(lstat(root + "/b.cfg", &info) == 0 && info.st_size == 3)
    }
}

/// Names and attributes the kernel caches, against changes made elsewhere: these apply changes the way
/// replication does (applied, then observers told, without the writer's wait for the kernel), so the
/// kernel may still hold the old name or size when the next call arrives.
@Suite(.serialized, .enabled(if: fuseAvailable, "the FUSE tests need /dev/fuse and root")) struct FUSERemoteChangeTests {
    let dir = temporaryDirectory()

    func remote(_ fs: ClusterFS, _ operation: ClusterFSOperation) throws { fs.notify([try fs.apply(operation, writer: 2)]) }

    func write(_ path: String, _ text: String, flags: Int32 = O_WRONLY | O_CREAT | O_TRUNC) -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count ? 0 : errno
    }

    @Test(arguments: [true, false]) func aNameDeletedElsewhereCanBeCreatedAgainAtOnce(held: Bool) throws {
        try withMountedTree(in: dir) { fs, root, mount throws in
            mount.holdInvalidations(held)
            defer { mount.holdInvalidations(false) }
            for round in 0..<100 {
                #expect(write(root + "/vm.cfg", "round \(round)\n") == 0)
                var info = stat()
                #expect(lstat(root + "/vm.cfg", &info) == 0)
                try remote(fs, .delete(path: ["vm.cfg"]))
                // the kernel's cached name is stale now or soon: open(O_CREAT) must still create
                #expect(write(root + "/vm.cfg", "again \(round)\n") == 0, "round \(round)")
                #expect(try fs.readString("vm.cfg") == "again \(round)\n")
                try remote(fs, .delete(path: ["vm.cfg"]))
                #expect(write(root + "/vm.cfg", "exclusive \(round)\n", flags: O_WRONLY | O_CREAT | O_EXCL) == 0, "round \(round)")
            }
        }
    }

    @Test(arguments: [true, false]) func aReaderSeesAWholeFileWhileItsSizeChangesElsewhere(held: Bool) throws {
        try withMountedTree(in: dir) { fs, root, mount throws in
            mount.holdInvalidations(held)
            var previous = ""
            for round in 1...200 {
                let text = String(repeating: "\(round % 10)", count: (round * 37) % 900 + 1) + "\n"
                try remote(fs, .put(path: ["grow.cfg"], data: Array(text.utf8), exclusive: false, time: UInt32(time(nil))))
                let seen = try String(contentsOfFile: root + "/grow.cfg", encoding: .utf8)
                #expect(seen == text, "round \(round): \(seen.utf8.count) bytes")
                previous = text
            }
            // once the kernel was told, the new content is what every reader sees
            mount.holdInvalidations(false)
            fs.locked { fs.writeBarrier }?()
            #expect(try String(contentsOfFile: root + "/grow.cfg", encoding: .utf8) == previous)
        }
    }

    /// Pages the kernel keeps between opens of an unchanged file are dropped when the content changes,
    /// even to the same size and before the kernel was told.
    @Test func cachedPagesNeverOutliveAChange() throws {
        try withMountedTree(in: dir) { fs, root, mount throws in
            mount.holdInvalidations(true)
            defer { mount.holdInvalidations(false) }
            for round in 0..<50 {
                let text = String(repeating: round % 2 == 0 ? "a" : "b", count: 100) + "\(round % 10)\n"
                try remote(fs, .put(path: ["same.cfg"], data: Array(text.utf8), exclusive: false, time: UInt32(time(nil))))
                for _ in 0..<3 { #expect(try String(contentsOfFile: root + "/same.cfg", encoding: .utf8) == text, "round \(round)") }
                // a reader holding the file open keeps reading what it opened
                let fd = Glibc.open(root + "/same.cfg", O_RDONLY | O_CLOEXEC)
                try remote(fs, .put(path: ["same.cfg"], data: Array(text.uppercased().utf8), exclusive: false, time: UInt32(time(nil))))
                #expect(try String(contentsOfFile: root + "/same.cfg", encoding: .utf8) == text.uppercased(), "round \(round)")
                var buffer = [UInt8](repeating: 0, count: 4096)
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 4096) }
                close(fd)
                #expect(n == text.utf8.count && Array(buffer.prefix(max(0, n))) == Array(text.utf8), "round \(round)")
            }
        }
    }

    @Test func renamesElsewhereMoveNamesTheKernelHolds() throws {
        try withMountedTree(in: dir) { fs, root throws in
            #expect(mkdir(root + "/jobs", 0o755) == 0)
            #expect(write(root + "/jobs/a.cfg", "a\n") == 0)
            var info = stat()
            #expect(lstat(root + "/jobs/a.cfg", &info) == 0)
            try remote(fs, .rename(from: ["jobs"], to: ["moved"]))
            fs.locked { fs.writeBarrier }?()
            #expect(lstat(root + "/jobs/a.cfg", &info) == -1 && errno == ENOENT)
            #expect(try String(contentsOfFile: root + "/moved/a.cfg", encoding: .utf8) == "a\n")
            #expect(write(root + "/jobs", "now a file\n") == 0)
            #expect(try fs.readString("jobs") == "now a file\n")
        }
    }

    /// Several processes' requests are served at once (the loop is multi-threaded); each writer's files
    /// arrive whole, and listings page through a large directory without losing names.
    @Test func parallelWritersAndLargeListings() throws {
        try withMountedTree(in: dir) { fs, root throws in
            #expect(mkdir(root + "/many", 0o755) == 0)
            let failures = Atomic<Int>(0)
            DispatchQueue.concurrentPerform(iterations: 4) { worker in
                for n in 0..<150 {
                    let path = root + "/many/w\(worker)-\(n).cfg"
                    let text = String(repeating: "\(worker)", count: n + 1) + "\n"
                    if write(path + ".tmp", text) != 0 || rename(path + ".tmp", path) != 0 { failures.add(1, ordering: .relaxed) }
                    if (try? String(contentsOfFile: path, encoding: .utf8)) != text { failures.add(1, ordering: .relaxed) }
                }
            }
            #expect(failures.load(ordering: .relaxed) == 0)
            let names = try FileManager.default.contentsOfDirectory(atPath: root + "/many")
            #expect(names.count == 600)
            #expect(Set(names) == Set((0..<4).flatMap { w in (0..<150).map { "w\(w)-\($0).cfg" } }))
            #expect(try fs.list("many").count == 600)
        }
    }
}

let fuseAvailable = access("/dev/fuse", R_OK | W_OK) == 0 && getuid() == 0

/// A fresh tree in `dir`, mounted at `dir/pve` for the duration of `body` (tests that use it are
/// enabled only where `fuseAvailable`).
func withMountedTree(in dir: String, _ body: (ClusterFS, String) throws -> Void) throws {
    try withMountedTree(in: dir) { fs, root, _ in try body(fs, root) }
}

func withMountedTree(in dir: String, _ body: (ClusterFS, String, FUSEMount) throws -> Void) throws {
    let fs = try ClusterFS(databasePath: dir + "/config.db", nodeName: "n1")
    let mountpoint = dir + "/pve"
    try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
    let mount = try fs.mount(at: mountpoint, options: ["default_permissions"])
    defer { mount.unmount() }
    try body(fs, mountpoint, mount)
}

import Corosync
import Foundation
import Synchronization
import TestSupport
import Testing

@testable import ClusterFS

/// The replication protocol over a fake total-order group (see FakeGroup); the same protocol runs
/// over real corosync in IntegrationTests/ClusterTests.
@Suite(.serialized) struct ReplicationTests {
    let dir = temporaryDirectory()

    func cluster(_ n: Int, configured: Int? = nil) throws -> (FakeGroup, [FakeNode]) {
        let group = FakeGroup("main")
        let nodes = try (1...n).map { try FakeNode(id: UInt32($0), dir: dir, configuredNodes: configured ?? n) }
        group.join(nodes)
        #expect(eventually { nodes.allSatisfy { $0.replicator.mode == .normal } })
        for node in nodes { #expect(hasLayout(node, of: nodes)) }
        return (group, nodes)
    }

    /// Each node makes its own directories once it may write; the tests start after that.
    func hasLayout(_ node: FakeNode, of nodes: [FakeNode]) -> Bool {
        eventually { nodes.allSatisfy { (try? node.fs.stat("nodes/\($0.fs.nodeName)/priv")) != nil } && (try? node.fs.stat("priv/lock")) != nil }
    }

    func settled(_ nodes: [FakeNode]) -> Bool {
        eventually { nodes.allSatisfy { $0.replicator.mode == .normal } && Set(nodes.map { $0.fs.checksum() }).count == 1 }
    }

    @Test func aWriteIsAppliedOnEveryNodeBeforeTheWriterReturns() throws {
        let (group, nodes) = try cluster(3)
        #expect(settled(nodes))
        try nodes[0].fs.write("storage.cfg", Array("dir: local\n".utf8))
        // the writer's own copy is current when write returns; the others follow in the same order
        #expect(try nodes[0].fs.readString("storage.cfg") == "dir: local\n")
        group.drain()
        for node in nodes { #expect(try node.fs.readString("storage.cfg") == "dir: local\n") }
        #expect(Set(nodes.map { $0.fs.checksum() }).count == 1)
        #expect(Set(nodes.map { $0.fs.version }).count == 1)
        // the node directories were made through replication, once each
        for node in nodes { #expect(eventually { (try? node.fs.stat("nodes/n3/qemu-server")) != nil }) }
    }

    @Test func errorsAreTheSameOnEveryNode() throws {
        let (group, nodes) = try cluster(3)
        #expect(settled(nodes))
        try nodes[0].fs.create("nodes/n1/qemu-server/100.conf", Array("memory: 512\n".utf8))
        // VMID 100 exists under n1: creating it under n2 fails for the writer and changes nothing anywhere
        expectErrno(EEXIST) { try nodes[1].fs.create("nodes/n2/qemu-server/100.conf", []) }
        expectErrno(ENOENT) { try nodes[2].fs.write("no/such/dir/file", []) }
        group.drain()
        #expect(Set(nodes.map { $0.fs.checksum() }).count == 1)
        for node in nodes { #expect((try? node.fs.stat("nodes/n2/qemu-server/100.conf")) == nil) }
    }

    @Test func concurrentWritersEndIdentical() throws {
        let (group, nodes) = try cluster(3)
        #expect(settled(nodes))
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 3) { i in
            for n in 0..<200 {
                do {
                    try nodes[i].fs.write("file-\(i)-\(n % 50)", Array("\(i) \(n)\n".utf8))
                    try nodes[i].fs.write("shared", Array("\(i) \(n)\n".utf8))
                } catch { failures.withLock { $0 += 1 } }
            }
        }
        #expect(failures.withLock { $0 } == 0)
        group.drain()
        #expect(Set(nodes.map { $0.fs.checksum() }).count == 1)
        for i in 0..<3 { for node in nodes { #expect(try node.fs.readString("file-\(i)-49") == "\(i) 199\n") } }
    }

    @Test func aMinorityRefusesWritesAndCatchesUpOnRejoin() throws {
        let (main, nodes) = try cluster(3)
        #expect(settled(nodes))
        try nodes[0].fs.write("before", Array("1".utf8))
        // node 3 is cut off: alone it is 1 of 3 configured nodes
        let island = FakeGroup("island")
        island.join([nodes[2]])
        #expect(eventually { nodes[2].replicator.mode == .normal && !nodes[2].fs.isQuorate() })
        expectErrno(EACCES) { try nodes[2].fs.write("from-minority", []) }
        #expect(try nodes[2].fs.readString("before") == "1")  // reads keep working
        #expect(eventually { nodes[0].fs.isQuorate() })
        for n in 0..<20 { try nodes[n % 2].fs.write("while-away-\(n)", Array("\(n)".utf8)) }
        try nodes[1].fs.delete("before")
        // back together: node 3 receives exactly what it missed
        main.join([nodes[2]])
        #expect(settled(nodes))
        #expect(try nodes[2].fs.readString("while-away-19") == "19")
        #expect((try? nodes[2].fs.stat("before")) == nil)
        #expect((try? nodes[0].fs.stat("from-minority")) == nil)
        #expect(nodes[2].replicator.status.lastSyncTransfer > 0)
    }

    @Test func theHighestVersionWinsAndTiesGoToTheLowestMember() throws {
        // two nodes that never met, each with a history of its own
        let a = try FakeNode(id: 1, dir: dir, configuredNodes: 1)
        let b = try FakeNode(id: 2, dir: dir, configuredNodes: 1)
        FakeGroup("a").join([a])
        FakeGroup("b").join([b])
        #expect(hasLayout(a, of: [a]) && hasLayout(b, of: [b]))
        try b.fs.write("b-only", Array("b".utf8))
        try b.fs.write("b-only", Array("b2".utf8))
        let bVersion = b.fs.version
        #expect(bVersion > a.fs.version)
        let together = FakeGroup("together")
        together.join([a, b])
        #expect(settled([a, b]))
        #expect(try a.fs.readString("b-only") == "b2")
        #expect(a.fs.version >= bVersion)  // n1 then makes its own directories again, which b's tree lacked

        // equal versions, different trees: the lowest member's tree is kept
        let c = try FakeNode(id: 3, dir: dir, configuredNodes: 1)
        let d = try FakeNode(id: 4, dir: dir, configuredNodes: 1)
        FakeGroup("c").join([c])
        FakeGroup("d").join([d])
        #expect(hasLayout(c, of: [c]) && hasLayout(d, of: [d]))
        while c.fs.version < d.fs.version { try c.fs.write("pad", []) }
        while d.fs.version < c.fs.version { try d.fs.write("pad", []) }
        try c.fs.write("tie", Array("c".utf8))
        try d.fs.write("tie", Array("d".utf8))
        #expect(c.fs.version == d.fs.version)
        FakeGroup("tie").join([d, c])
        #expect(settled([c, d]))
        #expect(try d.fs.readString("tie") == "c")
    }

    @Test func aDivergedNodeIsFoundByTheChecksumRoundAndRepaired() throws {
        let (group, nodes) = try cluster(3)
        #expect(settled(nodes))
        try nodes[0].fs.write("config", Array("good".utf8))
        group.drain()
        try nodes[1].fs.writeBypassingReplication("config", Array("bad".utf8))
        #expect(nodes[1].fs.checksum() != nodes[0].fs.checksum())
        nodes[1].replicator.verifyIfLeader()  // not the lowest member: asks nothing
        group.drain()
        #expect(nodes[0].replicator.status.resyncs == 0)
        nodes[0].replicator.verifyIfLeader()
        #expect(settled(nodes))
        #expect(nodes.allSatisfy { $0.replicator.status.resyncs == 1 })
        // node 2 had the higher version (its own write), so its content won; what matters is agreement
        let value = try nodes[0].fs.readString("config")
        for node in nodes { #expect(try node.fs.readString("config") == value) }
    }

    @Test func writesDuringASyncWaitAndAreAppliedInOrder() throws {
        let (group, nodes) = try cluster(2, configured: 3)
        #expect(settled(nodes))
        let third = try FakeNode(id: 3, dir: dir, configuredNodes: 3)
        let writer = DispatchQueue(label: "writer")
        let errors = Mutex(0)
        let done = DispatchSemaphore(value: 0)
        writer.async {
            for n in 0..<100 {
                do { try nodes[n % 2].fs.write("during-\(n)", Array("\(n)".utf8)) } catch { errors.withLock { $0 += 1 } }
            }
            done.signal()
        }
        group.join([third])
        done.wait()
        #expect(errors.withLock { $0 } == 0)
        let all = nodes + [third]
        #expect(settled(all))
        for node in all { #expect(try node.fs.readString("during-99") == "99") }
    }

    @Test func messagesRoundTripAndGarbageIsRejected() throws {
        let entry = TreeEntry(inode: 7, parent: 0, version: 9, writer: 2, mtime: 1234, kind: .file, name: "storage.cfg", data: [1, 2, 3])
        let messages: [ReplicationMessage] = [
            .operation(id: 1, .put(path: ["a", "b"], data: [0, 255], exclusive: true, time: 5)),
            .operation(id: 2, .rename(from: ["x"], to: ["y", "z"])),
            .operation(id: 3, .mkdir(path: ["priv", "lock", "l"], time: 9)),
            .operation(id: 4, .delete(path: ["d"])),
            .operation(id: 5, .setMtime(path: ["m"], time: 77)),
            .state(round: [CPGMember(nodeID: 1, pid: 2)], nodeName: "n1", SyncState(version: 3, checksum: 4, index: [7: 99])),
            .update(round: [], version: 9, checksum: 1, inodes: [7], entries: [entry]),
            .verify(nonce: 42), .checksum(nonce: 42, value: 43),
        ]
        for message in messages { #expect(try ReplicationMessage(decoding: message.encoded()) == message) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            var bytes = messages.randomElement()!.encoded()
            let cut = Int.random(in: 0...bytes.count, using: &generator)
            bytes = Array(bytes.prefix(cut))
            if !bytes.isEmpty, Bool.random() { bytes[Int.random(in: 0..<bytes.count)] = UInt8.random(in: 0...255) }
            _ = try? ReplicationMessage(decoding: bytes)  // must never trap
        }
        #expect(throws: WireError.self) { try ReplicationMessage(decoding: [9]) }
        #expect(throws: WireError.self) { try ReplicationMessage(decoding: messages[0].encoded() + [0]) }
    }

    @Test func statusValuesReachOtherNodesAndLeaveWithTheirNode() throws {
        let a = StatusChannel(nodeName: "n1"), b = StatusChannel(nodeName: "n2")
        let ma = CPGMember(nodeID: 1, pid: 1), mb = CPGMember(nodeID: 2, pid: 2)
        let bus = DispatchQueue(label: "status-bus")
        let channels = [(ma, a), (mb, b)]
        for (member, channel) in channels {
            channel.transmit = { bytes in bus.async { for (_, c) in channels { c.delivered(from: member, bytes) } } }
            channel.connected(local: member)
        }
        a.set("nodestatus", Array("online".utf8))
        bus.sync {}
        #expect(b.value(node: "n1", key: "nodestatus") == Array("online".utf8))
        // a new member gets everything again when it joins
        b.membershipChanged([mb], joined: [])
        #expect(b.value(node: "n1", key: "nodestatus") == nil)
        a.membershipChanged([ma, mb], joined: [mb])
        bus.sync {}
        #expect(b.values(key: "nodestatus") == ["n1": Array("online".utf8)])
    }

    @Test func theClusterLogMergesEveryNodesEntriesNewestFirst() throws {
        let (_, nodes) = try cluster(2)
        nodes[0].fs.clusterLog("first \"quoted\"\n", tag: "test")
        nodes[1].fs.clusterLog("second", tag: "test", user: "alice@pve", priority: 4)
        // in this fake the status channel is not wired between nodes: each sees its own entries
        let json = try #require(nodes[0].fs.virtualFile(".clusterlog"))
        let parsed = try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any]
        let data = try #require(parsed?["data"] as? [[String: Any]])
        #expect(data.count == 1)
        #expect(data.first?["msg"] as? String == "first \"quoted\"\n")
        #expect(data.first?["node"] as? String == "n1")
        for i in 0..<150 { nodes[1].fs.clusterLog("entry \(i)", tag: "test") }
        let entries = nodes[1].fs.clusterLogEntries()
        #expect(entries.count == ClusterFS.clusterLogKeep)
        #expect(entries.first?.message == "entry 149")
    }
}

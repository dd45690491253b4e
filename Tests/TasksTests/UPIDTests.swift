import Testing

@testable import Tasks

@Suite struct UPIDTests {
    @Test func encodesExactlyAsPVE() {
        let upid = UPID(node: "pve1", pid: 0x1A2B, pstart: 0x3C4D5E, starttime: 0x6543_21AB, type: "qmstart", id: "100", user: "root@pam")
        #expect(upid.description == "UPID:pve1:00001A2B:003C4D5E:654321AB:qmstart:100:root@pam:")
        #expect(UPID(upid.description) == upid)
        #expect(upid.logSubdirectory == "B")
    }

    @Test func parsesRealWorldShapes() throws {
        let upid = try #require(UPID("UPID:node-2:000F4240:0A1B2C3D:5F5E1000:vzdump::root@pam!ci:"))
        #expect(upid.id == "")
        #expect(upid.user == "root@pam!ci")
        #expect(upid.pid == 1_000_000)
    }

    @Test(arguments: [
        "", "UPID:", "UPID:n:1:2:3:t:i:u:", "UPID:n:0000000G:00000001:00000001:t:i:u:",
        "XPID:n:00000001:00000001:00000001:t:i:u:", "UPID:n:00000001:00000001:00000001:t:i:u",
        "UPID:n:00000001:00000001:00000001::i:u:", "UPID:n/x:00000001:00000001:00000001:t:i:u:",
    ])
    func rejectsMalformed(_ text: String) {
        #expect(UPID(text) == nil)
    }

    @Test func exitStatusRoundTrips() {
        for exit in [TaskExit.ok, .warnings(3), .error("disk full")] {
            #expect(TaskExit(statusText: exit.statusText) == exit)
        }
        #expect(TaskExit.error("boom").logLine == "TASK ERROR: boom")
        #expect(TaskExit.warnings(2).logLine == "TASK WARNINGS: 2")
    }
}

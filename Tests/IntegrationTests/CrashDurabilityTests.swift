import Foundation
import Glibc
import Testing

/// kill -9 of corrald in the middle of configuration writes: after a restart (which also clears the
/// stale FUSE mount) every file holds one complete version, never a mix, and the tree still loads.
@Suite(.serialized) struct CrashDurabilityTests {
    @Test(.enabled(if: access("/dev/fuse", R_OK | W_OK) == 0 && getuid() == 0, "needs /dev/fuse and root"))
    func killNineDuringWritesLeavesOldOrNew() throws {
        let data = NSTemporaryDirectory() + "corral-crash-\(UUID().uuidString)"
        let rounds = Int(ProcessInfo.processInfo.environment["CORRAL_CRASH_ROUNDS"] ?? "15") ?? 15
        let pattern = try Regex("^v[0-9]+ ;(x{4000})\n$")
        var seen = 0
        for round in 0..<rounds {
            let node = try NodeProcess(name: "crash", dataDirectory: data)
            let config = data + "/pve/crash.cfg"
            // a writer rewriting the file as fast as it can, through the kernel
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: "/bin/bash")
            writer.arguments = [
                "-c",
                "pad=$(printf 'x%.0s' $(seq 4000)); i=0; while :; do printf 'v%d ;%s\\n' $i \"$pad\" > \(config).tmp && mv \(config).tmp \(config) || exit 0; i=$((i+1)); done",
            ]
            writer.standardError = FileHandle.nullDevice
            try writer.run()
            usleep(UInt32.random(in: 50_000...250_000))
            kill(node.process.processIdentifier, SIGKILL)
            node.process.waitUntilExit()
            writer.waitUntilExit()
            let reopened = try NodeProcess(name: "crash", dataDirectory: data)
            if let text = try? String(contentsOfFile: config, encoding: .utf8) {
                seen += 1
                #expect(text.wholeMatch(of: pattern) != nil, "round \(round): torn file of \(text.count) bytes")
            }
            #expect(try curl(reopened, "/api2/json/version").status == 200)
            #expect(reopened.terminate() == 0)
        }
        #expect(seen > 0, "no write ever committed")
    }
}

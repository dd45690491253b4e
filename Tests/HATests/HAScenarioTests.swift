import Testing

@testable import HA

/// The HA managers against a simulated three-node cluster on a virtual clock: placement, stop,
/// failures (power loss, network cut, crashes), fencing, recovery, commands, affinity, failback and
/// quorum loss. Every scenario also checks the safety property after every tick: no service ever
/// runs on two nodes.
@Suite struct HAScenarioTests {
    static func cluster(_ resources: [HAResource] = [HAResource(sid: "ct:100")]) -> HASimulator {
        var sim = HASimulator(nodes: ["n1", "n2", "n3"])
        for resource in resources { sim.resources[resource.sid] = resource }
        sim.run(seconds: 10)
        return sim
    }

    static func events(_ sim: HASimulator) -> String { sim.events.map(\.description).joined(separator: "\n") }

    @Test func newServiceStartsOnItsPreferredNode() {
        let sim = Self.cluster([HAResource(sid: "vm:100", nodes: ["n2": 2, "n3": 1])])
        #expect(sim.runningOn("vm:100") == ["n2"])
        #expect(sim.status.services["vm:100"]?.state == "started")
        #expect(sim.violations.isEmpty)
    }

    @Test func servicesSpreadByLoad() {
        let sim = Self.cluster([HAResource(sid: "ct:100"), HAResource(sid: "ct:101"), HAResource(sid: "ct:102")])
        #expect(Set(["ct:100", "ct:101", "ct:102"].flatMap { sim.runningOn($0) }) == ["n1", "n2", "n3"])
    }

    @Test func stoppingThroughTheConfiguration() {
        var sim = Self.cluster()
        sim.resources["ct:100"]?.state = "stopped"
        sim.run(seconds: 6)
        #expect(sim.runningOn("ct:100").isEmpty && sim.status.services["ct:100"]?.state == "stopped", "\(Self.events(sim))")
        #expect(sim.events.contains { $0.text.contains("from 'started' to 'request_stop'") })
    }

    @Test func powerLossRecoversElsewhereWithinAMinute() {
        var sim = Self.cluster()
        let node = sim.runningOn("ct:100").first!
        sim.kill(node)
        let took = sim.run(until: { !$0.runningOn("ct:100").isEmpty }, limit: 120)
        #expect(took != nil && took! < 60, "failover took \(took ?? -1) s\n\(Self.events(sim))")
        #expect(sim.events.contains { $0.text.contains("fencing: acknowledged") })
        #expect(sim.violations.isEmpty, "\(sim.violations)")
    }

    @Test func networkCutFencesByWatchdogBeforeRecovery() {
        var sim = Self.cluster()
        let node = sim.runningOn("ct:100").first!
        sim.isolate(node)
        let took = sim.run(until: { $0.runningOn("ct:100").contains { $0 != node } }, limit: 120)
        #expect(took != nil && took! < 60, "failover took \(took ?? -1) s")
        let watchdog = sim.events.firstIndex { $0.text.hasPrefix("watchdog: node '\(node)'") }
        let recovered = sim.events.firstIndex { $0.text.hasPrefix("recover service 'ct:100'") }
        #expect(watchdog != nil && recovered != nil && watchdog! < recovered!, "the cut node stopped it first\n\(Self.events(sim))")
        #expect(sim.violations.isEmpty, "\(sim.violations)")
    }

    @Test func aShortCutKeepsTheServiceWhereItIs() {
        var sim = Self.cluster()
        let node = sim.runningOn("ct:100").first!
        sim.isolate(node)
        sim.run(seconds: 6)
        sim.heal(node)
        sim.run(seconds: 20)
        #expect(sim.runningOn("ct:100") == [node], "\(Self.events(sim))")
        #expect(!sim.events.contains { $0.text.contains("recover service") })
        #expect(sim.violations.isEmpty)
    }

    @Test func theReturningNodeDoesNotStartADuplicate() {
        var sim = Self.cluster()
        let node = sim.runningOn("ct:100").first!
        sim.isolate(node)
        _ = sim.run(until: { $0.runningOn("ct:100").contains { $0 != node } }, limit: 120)
        let new = sim.runningOn("ct:100")
        sim.heal(node)
        sim.run(seconds: 90)
        #expect(sim.runningOn("ct:100") == new, "\(Self.events(sim))")
        #expect(sim.status.nodes[node] == "online")
        #expect(sim.violations.isEmpty, "\(sim.violations)")
    }

    @Test func aCrashIsRestartedInPlace() {
        var sim = Self.cluster([HAResource(sid: "ct:100", maxRestart: 1)])
        let node = sim.runningOn("ct:100").first!
        sim.crash("ct:100")
        sim.run(seconds: 10)
        #expect(sim.runningOn("ct:100") == [node], "\(Self.events(sim))")
        #expect(sim.events.contains { $0.text.contains("restart 1 of 1") })
    }

    @Test func aServiceThatWillNotStartIsRelocated() {
        var sim = Self.cluster([HAResource(sid: "ct:100", maxRestart: 1, maxRelocate: 1)])
        let node = sim.runningOn("ct:100").first!
        sim.breakService("ct:100", on: node)
        sim.crash("ct:100")
        sim.run(seconds: 20)
        #expect(sim.runningOn("ct:100").count == 1 && sim.runningOn("ct:100") != [node], "\(Self.events(sim))")
        #expect(sim.status.services["ct:100"]?.failedNodes == [node])
    }

    @Test func brokenEverywhereEndsInError() {
        var sim = Self.cluster([HAResource(sid: "ct:100", maxRestart: 1, maxRelocate: 1)])
        for node in ["n1", "n2", "n3"] { sim.breakService("ct:100", on: node) }
        sim.crash("ct:100")
        sim.run(seconds: 30)
        #expect(sim.status.services["ct:100"]?.state == "error", "\(Self.events(sim))")
        #expect(sim.runningOn("ct:100").isEmpty)
    }

    @Test func disablingClearsAnError() {
        var sim = Self.cluster([HAResource(sid: "ct:100", maxRestart: 0, maxRelocate: 0)])
        for node in ["n1", "n2", "n3"] { sim.breakService("ct:100", on: node) }
        sim.crash("ct:100")
        sim.run(seconds: 10)
        #expect(sim.status.services["ct:100"]?.state == "error")
        sim.resources["ct:100"]?.state = "disabled"
        sim.run(seconds: 6)
        #expect(sim.status.services["ct:100"]?.state == "stopped", "\(Self.events(sim))")
    }

    @Test func migrateCommandMovesIt() {
        var sim = Self.cluster()
        let target = ["n1", "n2", "n3"].first { !sim.runningOn("ct:100").contains($0) }!
        sim.pending = [HAManager.Command(sid: "ct:100", target: target, relocate: false)]
        sim.run(seconds: 12)
        #expect(sim.runningOn("ct:100") == [target], "\(Self.events(sim))")
        #expect(sim.events.contains { $0.text.contains("to 'migrate' (target: \(target))") })
        #expect(sim.violations.isEmpty)
    }

    @Test func relocateCommandMovesIt() {
        var sim = Self.cluster()
        let target = ["n1", "n2", "n3"].last { !sim.runningOn("ct:100").contains($0) }!
        sim.pending = [HAManager.Command(sid: "ct:100", target: target, relocate: true)]
        sim.run(seconds: 12)
        #expect(sim.runningOn("ct:100") == [target])
        #expect(sim.events.contains { $0.text.contains("to 'relocate'") })
    }

    @Test func aCommandToAnOfflineNodeIsIgnored() {
        var sim = Self.cluster()
        let node = sim.runningOn("ct:100").first!
        let other = ["n1", "n2", "n3"].first { $0 != node }!
        sim.kill(other)
        sim.run(seconds: 4)
        sim.pending = [HAManager.Command(sid: "ct:100", target: other, relocate: false)]
        sim.run(seconds: 10)
        #expect(sim.runningOn("ct:100") == [node])
    }

    @Test func strictAffinityWaitsForItsNode() {
        var sim = Self.cluster([HAResource(sid: "vm:100", nodes: ["n1": 1], strict: true)])
        #expect(sim.runningOn("vm:100") == ["n1"])
        sim.kill("n1")
        sim.run(seconds: 90)
        #expect(sim.runningOn("vm:100").isEmpty, "a strict rule keeps it off other nodes")
        #expect(sim.status.services["vm:100"]?.state == "recovery", "\(Self.events(sim))")
        sim.heal("n1")
        sim.run(seconds: 60)
        #expect(sim.runningOn("vm:100") == ["n1"], "\(Self.events(sim))")
        #expect(sim.violations.isEmpty)
    }

    @Test func failbackToThePreferredNode() {
        var sim = Self.cluster([HAResource(sid: "vm:100", nodes: ["n1": 2, "n2": 1])])
        sim.kill("n1")
        _ = sim.run(until: { !$0.runningOn("vm:100").isEmpty }, limit: 120)
        #expect(sim.runningOn("vm:100") == ["n2"])
        sim.heal("n1")
        sim.run(seconds: 90)
        #expect(sim.runningOn("vm:100") == ["n1"], "it goes back to the preferred node\n\(Self.events(sim))")
        #expect(sim.violations.isEmpty)
    }

    @Test func noFailbackStaysPut() {
        var sim = Self.cluster([HAResource(sid: "vm:100", nodes: ["n1": 2, "n2": 1], failback: false)])
        sim.kill("n1")
        _ = sim.run(until: { !$0.runningOn("vm:100").isEmpty }, limit: 120)
        sim.heal("n1")
        sim.run(seconds: 90)
        #expect(sim.runningOn("vm:100") == ["n2"])
    }

    @Test func losingTheMasterElectsAnother() {
        var sim = Self.cluster([HAResource(sid: "ct:100", nodes: ["n3": 1])])
        #expect(sim.status.master == "n1")
        sim.kill("n1")
        sim.run(seconds: 60)
        #expect(sim.status.master == "n2", "\(Self.events(sim))")
        sim.resources["ct:100"]?.state = "stopped"
        sim.run(seconds: 6)
        #expect(sim.runningOn("ct:100").isEmpty, "the new master manages")
    }

    @Test func noQuorumNoService() {
        var sim = Self.cluster([HAResource(sid: "ct:100"), HAResource(sid: "ct:101")])
        sim.isolate("n2", partition: 1)
        sim.isolate("n3", partition: 2)
        sim.run(seconds: 60)
        #expect(sim.quorate.isEmpty)
        #expect(sim.nodes.allSatisfy { $0.running.isEmpty }, "every watchdog stopped its guests")
        #expect(sim.violations.isEmpty)
    }

    @Test func removedResourcesAreForgotten() {
        var sim = Self.cluster([HAResource(sid: "ct:100"), HAResource(sid: "ct:101")])
        sim.resources["ct:101"] = nil
        sim.run(seconds: 4)
        #expect(sim.status.services["ct:101"] == nil && sim.status.services["ct:100"] != nil)
        #expect(sim.events.contains { $0.text == "service 'ct:101': removed from management" })
    }

    @Test func timingArgumentHolds() {
        let timing = HATiming()
        #expect(timing.isSafe && timing.margin >= 5, "watchdog \(timing.watchdog) s + tick before the \(timing.lockLease) s lease")
        #expect(!HATiming(tick: 2, lockLease: 20, watchdog: 20).isSafe)
    }

    @Test func failoverTimeIsBoundedByTheLease() {
        // worst case over where in the tick the cut falls: detection + lease + two rounds
        var worst = 0.0
        for offset in 0..<4 {
            var sim = Self.cluster()
            sim.run(seconds: Double(offset) * 2)
            let node = sim.runningOn("ct:100").first!
            sim.kill(node)
            let took = sim.run(until: { !$0.runningOn("ct:100").isEmpty }, limit: 120) ?? 999
            worst = max(worst, took)
            #expect(sim.violations.isEmpty)
        }
        let timing = HATiming()
        print("HA simulation: worst failover after a power loss \(worst) s (lease \(timing.lockLease) s, tick \(timing.tick) s)")
        #expect(worst <= timing.lockLease + 4 * timing.tick, "worst failover \(worst) s")
    }

    @Test func maintenanceEmptiesTheNodeAndTheServicesComeBack() {
        var sim = Self.cluster([HAResource(sid: "ct:100", nodes: ["n1": 1]), HAResource(sid: "ct:101", nodes: ["n1": 1])])
        #expect(sim.runningOn("ct:100") == ["n1"] && sim.runningOn("ct:101") == ["n1"])
        sim.status.maintenance.insert("n1")
        sim.run(seconds: 12)
        #expect(sim.status.nodes["n1"] == "maintenance", "\(Self.events(sim))")
        #expect(!sim.runningOn("ct:100").isEmpty && !sim.runningOn("ct:100").contains("n1"), "\(Self.events(sim))")
        #expect(!sim.runningOn("ct:101").isEmpty && !sim.runningOn("ct:101").contains("n1"))
        sim.status.maintenance.remove("n1")
        sim.run(seconds: 12)
        #expect(sim.status.nodes["n1"] == "online")
        #expect(sim.runningOn("ct:100") == ["n1"] && sim.runningOn("ct:101") == ["n1"], "they return\n\(Self.events(sim))")
        #expect(sim.violations.isEmpty)
    }

    @Test func negativeResourceAffinityKeepsServicesApart() {
        var a = HAResource(sid: "vm:100", nodes: ["n1": 1]), b = HAResource(sid: "vm:101", nodes: ["n1": 1])
        a.apart = ["vm:101"]
        b.apart = ["vm:100"]
        var sim = Self.cluster([a, b])
        #expect(Set(sim.runningOn("vm:100") + sim.runningOn("vm:101")).count == 2, "\(Self.events(sim))")
        let node = sim.runningOn("vm:101").first!
        sim.kill(node)
        _ = sim.run(until: { !$0.runningOn("vm:101").isEmpty }, limit: 120)
        #expect(sim.runningOn("vm:101") != sim.runningOn("vm:100"), "recovered away from its partner\n\(Self.events(sim))")
    }

    @Test func positiveResourceAffinityKeepsServicesTogether() {
        var a = HAResource(sid: "ct:100", nodes: ["n2": 1]), b = HAResource(sid: "ct:101")
        b.together = ["ct:100"]
        a.together = ["ct:101"]
        var sim = HASimulator(nodes: ["n1", "n2", "n3"])
        sim.resources["ct:100"] = a
        sim.run(seconds: 6)
        sim.resources["ct:101"] = b
        sim.run(seconds: 6)
        #expect(sim.runningOn("ct:101") == ["n2"], "placed with its partner\n\(Self.events(sim))")
    }

    @Test func aNewServiceStartsWhereItsConfigIs() {
        var resource = HAResource(sid: "ct:100")
        resource.home = "n3"
        let sim = Self.cluster([resource])
        #expect(sim.runningOn("ct:100") == ["n3"])
    }

    @Test func statusFilesRoundTrip() {
        var sim = Self.cluster([HAResource(sid: "ct:100"), HAResource(sid: "vm:101")])
        sim.status.maintenance = ["n2"]
        sim.run(seconds: 4)
        let decoded = HAStatusFile.decode(HAStatusFile.encode(sim.status, now: sim.now))
        #expect(decoded.status == sim.status && decoded.timestamp == sim.now)
        let report = sim.lrm["n1"]!
        let lrm = HAStatusFile.decodeLRM(HAStatusFile.encode(report, state: "active", now: 7))
        #expect(lrm?.report == report && lrm?.state == "active" && lrm?.timestamp == 7)
        #expect(HAStatusFile.decode(Array("garbage".utf8)).status == HAManagerStatus())
        let commands = HAStatusFile.commands("migrate ct:100 n2\nbogus\nenable-node-maintenance n3\nrelocate vm:1 n1 extra\n")
        #expect(commands == [.move(HAManager.Command(sid: "ct:100", target: "n2", relocate: false)), .maintenance(node: "n3", enable: true)])
        #expect(commands.map(\.line) == ["migrate ct:100 n2", "enable-node-maintenance n3"])
    }

    // MARK: corrald stopping (shutdown policies)

    @Test func aRestartedManagerFreezesItsServicesAndTheyRunOn() {
        var sim = Self.cluster([HAResource(sid: "ct:100", nodes: ["n1": 1])])
        #expect(sim.runningOn("ct:100") == ["n1"])
        sim.leave("n1", mode: "restart")
        #expect(sim.run(until: { $0.status.services["ct:100"]?.state == "freeze" }, limit: 10) != nil, "\(Self.events(sim))")
        sim.managerGone("n1")
        sim.run(seconds: 120)
        #expect(sim.status.services["ct:100"]?.state == "freeze" && sim.runningOn("ct:100") == ["n1"], "not recovered elsewhere\n\(Self.events(sim))")
        sim.managerBack("n1")
        #expect(sim.run(until: { $0.status.services["ct:100"]?.state == "started" }, limit: 10) != nil, "thawed\n\(Self.events(sim))")
        sim.run(seconds: 10)
        #expect(sim.runningOn("ct:100") == ["n1"] && !Self.events(sim).contains("recover"))
        #expect(sim.violations.isEmpty)
    }

    @Test func aShutdownHandsItsServicesOverWithoutWaitingForTheLease() {
        var sim = Self.cluster([HAResource(sid: "ct:100", nodes: ["n1": 1])])
        sim.leave("n1", mode: "shutdown")
        sim.run(seconds: 4)
        sim.managerGone("n1", stopGuests: true)
        let took = sim.run(until: { !$0.runningOn("ct:100").isEmpty }, limit: 120)
        #expect(took != nil && took! < sim.timing.lockLease, "recovered after \(took ?? -1) s\n\(Self.events(sim))")
        #expect(sim.violations.isEmpty)
    }

    @Test func theMigratePolicyEmptiesTheNodeFirst() {
        var sim = Self.cluster([HAResource(sid: "ct:100", nodes: ["n1": 1]), HAResource(sid: "vm:101", nodes: ["n1": 1])])
        sim.leave("n1", mode: "maintenance")
        let took = sim.run(
            until: { s in ["ct:100", "vm:101"].allSatisfy { !s.runningOn($0).isEmpty && !s.runningOn($0).contains("n1") } }, limit: 60)
        #expect(took != nil, "\(Self.events(sim))")
        sim.managerGone("n1")
        sim.run(seconds: 60)
        #expect(["ct:100", "vm:101"].allSatisfy { !sim.runningOn($0).isEmpty && !sim.runningOn($0).contains("n1") })
        #expect(sim.violations.isEmpty)
    }

    @Test func thePolicyPicksTheMode() {
        #expect(HAShutdownPolicy.from(datacenterConfig: "keyboard: en-us\nha: shutdown_policy=migrate\n") == .migrate)
        #expect(HAShutdownPolicy.from(datacenterConfig: "ha: shutdown_policy=bogus\n") == .conditional)
        #expect(HAShutdownPolicy.from(datacenterConfig: "") == .conditional)
        for policy in HAShutdownPolicy.allCases {
            #expect(policy.mode(hostGoingDown: false, rebooting: false) == "restart", "a stop of corrald alone freezes")
        }
        #expect(HAShutdownPolicy.conditional.mode(hostGoingDown: true, rebooting: true) == "restart")
        #expect(HAShutdownPolicy.conditional.mode(hostGoingDown: true, rebooting: false) == "shutdown")
        #expect(HAShutdownPolicy.failover.mode(hostGoingDown: true, rebooting: true) == "shutdown")
        #expect(HAShutdownPolicy.freeze.mode(hostGoingDown: true, rebooting: false) == "restart")
        #expect(HAShutdownPolicy.migrate.mode(hostGoingDown: true, rebooting: false) == "maintenance")
    }
}

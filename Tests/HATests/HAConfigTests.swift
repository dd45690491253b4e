import Testing

@testable import HA

/// PVE's HA files into the managers' resources.
@Suite struct HAConfigTests {
    static let resources = """
        ct: 100
        \tgroup prefer-n1
        \tmax_restart 2
        \tstate started

        vm: 101
        \tfailback 0
        \tstate stopped

        vm: 102
        \tgroup prefer-n1
        \tstate started

        """
    static let groups = """
        group: prefer-n1
        \tnodes n1:2,n2:1
        \trestricted 1
        \tnofailback 0

        """

    @Test func resourcesWithTheirGroups() throws {
        let config = try HAConfig.resources(resources: Self.resources, groups: Self.groups)
        #expect(config.keys.sorted() == ["ct:100", "vm:101", "vm:102"])
        #expect(
            config["ct:100"] == HAResource(sid: "ct:100", state: "started", maxRestart: 2, maxRelocate: 1, nodes: ["n1": 2, "n2": 1], strict: true))
        #expect(config["vm:101"]?.state == "stopped" && config["vm:101"]?.failback == false && config["vm:101"]?.nodes == [:])
    }

    @Test func nodeAffinityRulesWinOverGroups() throws {
        let rules = """
            node-affinity: on-n3
            \tresources vm:102
            \tnodes n3
            \tstrict 0

            node-affinity: off
            \tresources ct:100
            \tnodes n2
            \tdisable 1

            """
        let config = try HAConfig.resources(resources: Self.resources, groups: Self.groups, rules: rules)
        #expect(config["vm:102"]?.nodes == ["n3": 0] && config["vm:102"]?.strict == false)
        #expect(config["ct:100"]?.nodes == ["n1": 2, "n2": 1], "a disabled rule changes nothing")
    }

    @Test func theFilesDriveTheSimulator() throws {
        var sim = HASimulator(nodes: ["n1", "n2", "n3"])
        sim.resources = try HAConfig.resources(resources: Self.resources, groups: Self.groups)
        sim.run(seconds: 10)
        #expect(sim.runningOn("ct:100") == ["n1"] && sim.runningOn("vm:102") == ["n1"] && sim.runningOn("vm:101").isEmpty)
    }
}

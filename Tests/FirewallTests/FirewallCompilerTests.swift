import Foundation
import Testing

@testable import Firewall

/// The compiler against goldens: PVE-written files in, one nftables ruleset out, and the ruleset
/// passes `nft -c` (the kernel's own check, nothing loaded).
@Suite struct FirewallCompilerTests {
    static func fixture(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
        return try String(contentsOf: url, encoding: .utf8)
    }

    static func input() throws -> FirewallInput {
        var input = FirewallInput()
        input.cluster = try FirewallFile.parse(try fixture("cluster.fw"))
        input.host = try FirewallFile.parse(try fixture("host.fw"))
        let ct = """
            arch: amd64
            hostname: web1
            net0: name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:00:00:64,ip=10.0.0.100/24,type=veth
            net1: name=eth1,bridge=vmbr1,hwaddr=BC:24:11:00:01:64,ip=dhcp,type=veth
            [snap]
            net2: name=eth2,bridge=vmbr0,firewall=1
            """
        let vm = """
            memory: 512
            net0: virtio=BC:24:11:00:00:65,bridge=vmbr0,firewall=1
            net1: e1000=BC:24:11:00:01:65,bridge=vmbr1,firewall=1
            """
        input.guests = [
            FirewallInput.Guest(
                vmid: 100, nics: FirewallInput.nics(config: ct, vmid: 100, qemu: false), file: try FirewallFile.parse(try fixture("100.fw"))),
            FirewallInput.Guest(
                vmid: 101, nics: FirewallInput.nics(config: vm, vmid: 101, qemu: true), file: try FirewallFile.parse(try fixture("101.fw"))),
        ]
        input.managementTCP = [22, 8006]
        return input
    }

    @Test func filesRoundTrip() throws {
        for name in ["cluster.fw", "host.fw", "100.fw", "101.fw"] {
            let text = try Self.fixture(name)
            let file = try FirewallFile.parse(text)
            #expect(file.text == text, "\(name) is written back as it was read")
            #expect(try FirewallFile.parse(file.text) == file)
        }
        let cluster = try FirewallFile.parse(try Self.fixture("cluster.fw"))
        #expect(cluster.rules.count == 6 && cluster.rules[2].enable == false && cluster.rules[0].macro == "SSH")
        #expect(cluster.groups.first?.rules.count == 3 && cluster.ipsets[0].entries[2].nomatch)
    }

    @Test func nicsFromGuestConfigs() throws {
        let input = try Self.input()
        #expect(input.guests[0].nics.map(\.device) == ["veth100i0", "veth100i1"], "snapshot sections are not the current config")
        #expect(input.guests[0].nics[0].addresses == ["10.0.0.100"] && input.guests[0].nics[0].firewall)
        #expect(input.guests[1].nics.map(\.mac) == ["BC:24:11:00:00:65", "BC:24:11:00:01:65"])
    }

    @Test func compilesToTheGolden() throws {
        let ruleset = try FirewallCompiler.compile(try Self.input())
        let golden = try Self.fixture("expected.nft")
        if ruleset != golden {
            try? ruleset.write(toFile: "/tmp/corral-firewall-actual.nft", atomically: true, encoding: .utf8)
        }
        #expect(ruleset == golden, "compiled ruleset differs from the golden (actual in /tmp/corral-firewall-actual.nft)")
    }

    @Test func nftAcceptsTheRuleset() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft"), getuid() == 0 else { return }
        let ruleset = try FirewallCompiler.compile(try Self.input())
        let path = NSTemporaryDirectory() + "corral-fw-\(getpid()).nft"
        try ruleset.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nft")
        process.arguments = ["-c", "-f", path]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "nft -c refused the ruleset: \(message)")
    }

    @Test func disabledClusterRemovesTheTables() throws {
        var input = try Self.input()
        input.cluster.setOption("enable", "0")
        #expect(try FirewallCompiler.compile(input) == FirewallCompiler.removal)
        input.cluster.setOption("enable", nil)
        #expect(try FirewallCompiler.compile(input) == FirewallCompiler.removal, "the datacenter firewall is off by default")
    }

    @Test func guestsWithoutFirewallHaveNoChains() throws {
        var input = try Self.input()
        input.guests[1].file.setOption("enable", "0")
        let ruleset = try FirewallCompiler.compile(input)
        #expect(!ruleset.contains("g101-"), "a guest whose firewall is off gets no chains")
        #expect(ruleset.contains("chain g100-net0-in") && !ruleset.contains("g100-net1"), "only NICs with firewall=1 get chains")
    }

    @Test func vnetForwardRulesGetAChainOfTheirOwn() throws {
        var input = try Self.input()
        input.vnets["vn1"] = try FirewallFile.parse("[OPTIONS]\nenable: 1\npolicy_forward: DROP\n\n[RULES]\nFORWARD ACCEPT -p tcp -dport 80\n")
        input.vnets["vn2"] = try FirewallFile.parse("[RULES]\nFORWARD DROP -p tcp -dport 22\n")
        let ruleset = try FirewallCompiler.compile(input)
        #expect(ruleset.contains("\t\tiifname \"vn1\" jump vnet-vn1\n\t\toifname \"vn1\" jump vnet-vn1\n"), "both ways across the vnet")
        let chain = ruleset.components(separatedBy: "chain vnet-vn1 {\n").last?.components(separatedBy: "\t}").first ?? ""
        #expect(chain.contains("tcp dport 80 accept") && chain.hasSuffix("drop\n"), "its rules, then its policy: \(chain)")
        #expect(!ruleset.contains("vnet-vn2"), "a vnet whose firewall is off has no chain")
    }

    static func field(_ body: () throws -> Void) -> [String: String] {
        do {
            try body()
            return [:]
        } catch let error as FirewallError { return error.errors } catch { return ["other": "\(error)"] }
    }

    @Test func badInputNamesTheField() throws {
        #expect(Self.field { _ = try FirewallRule.parse("IN NOPE(ACCEPT) -p tcp") }["macro"] != nil, "unknown macro")
        #expect(Self.field { _ = try FirewallRule.parse("IN ACCEPT -p tcp -dport 99999") }["dport"] != nil, "port out of range")
        #expect(Self.field { _ = try FirewallRule.parse("IN ACCEPT -dport 22") }["dport"] != nil, "port without protocol")
        #expect(Self.field { _ = try FirewallRule.parse("IN MAYBE -p tcp") }["action"] != nil, "unknown verdict")
        #expect(Self.field { _ = try FirewallRule.parse("SIDEWAYS ACCEPT") }["type"] != nil, "unknown direction")
        #expect(Self.field { _ = try FirewallRule.parse("IN ACCEPT -p tcp -frobnicate 1") }["rule"] != nil, "unknown option")
        #expect(Self.field { _ = try FirewallRule.parse("IN ACCEPT -p icmp -icmp-type nonsense") }["icmp-type"] != nil)

        var input = try Self.input()
        input.cluster.aliases.append(.init(name: "loopa", cidr: "loopb"))
        input.cluster.aliases.append(.init(name: "loopb", cidr: "loopa"))
        let cycle = Self.field { try FirewallCompiler.validate(input) }
        #expect(cycle["cidr"]?.contains("cycle") == true, "a cycle of aliases is named: \(cycle)")

        input = try Self.input()
        input.guests[0].file.rules.append(try FirewallRule.parse("IN ACCEPT -source +nosuchset"))
        #expect(Self.field { try FirewallCompiler.validate(input) }["source"]?.contains("nosuchset") == true)

        input = try Self.input()
        input.cluster.rules.append(try FirewallRule.parse("GROUP nosuchgroup"))
        #expect(Self.field { try FirewallCompiler.validate(input) }["action"] != nil, "unknown security group")

        input = try Self.input()
        input.cluster.rules.append(try FirewallRule.parse("IN ACCEPT -source 10.0.0.1 -dest 2001:db8::1"))
        #expect(Self.field { try FirewallCompiler.validate(input) }["dest"] != nil, "mixed IP versions")
    }

    @Test func fileErrorsNameTheLine() throws {
        #expect(throws: FirewallError.self) { _ = try FirewallFile.parse("[RULES]\nIN ACCEPT -p\n") }
        do { _ = try FirewallFile.parse("[OPTIONS]\nenable: 1\n[BOGUS]\n", file: "x.fw") } catch let error as FirewallError {
            #expect(error.message.contains("x.fw, line 3"))
        }
    }
}

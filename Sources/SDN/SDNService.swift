import Blocking
import ClusterFS
import Foundation
import Glibc
import Storage
import Synchronization

/// Keeps this node's SDN networks equal to the applied configuration (`sdn/.running-config`):
/// vnet bridges, VXLAN tunnels, gateways, SNAT, and a dnsmasq per DHCP zone serving what the IPAM
/// maps. Runs on the cluster filesystem's event (a new running config, an IPAM change, one of this
/// node's guest configs), never on a poll, and records its outcome in `nodes/<node>/sdn-status.json`
/// so any node can tell whether every node has applied a version.
public final class SDNService: Sendable {
    public let tree: any ConfigTree
    public let node: String
    /// `/etc` (a test node's own directory): `network/interfaces.d/sdn` and `dnsmasq.d/<zone>/`.
    let etc: String
    /// Where the record of applied devices, dnsmasq's pid and lease files live.
    let run: String
    let nft: [String]

    struct State {
        var version: Int?
        var zones: [String: String?] = [:]
        var error: String?
        var nat: String?
    }
    private let state = Mutex(State())
    private let job = CoalescedJob()
    private let applying = Mutex(())

    public init(tree: any ConfigTree, node: String, etc: String, run: String, nft: [String] = ["nft"]) {
        self.tree = tree
        self.node = node
        self.etc = etc
        self.run = run + "/sdn"
        self.nft = nft
    }

    public static let statusFile = "sdn-status.json"
    static let ifupdown2 = ["/usr/sbin/ifreload", "/sbin/ifreload"].contains { FileManager.default.isExecutableFile(atPath: $0) }

    func dnsmasqDirectory(_ zone: String) -> String { "\(etc)/dnsmasq.d/\(zone)" }
    func leaseFile(_ zone: String) -> String { "\(run)/dnsmasq-\(zone).leases" }
    func pidFile(_ zone: String) -> String { "\(run)/dnsmasq-\(zone).pid" }
    var devicesFile: String { "\(run)/devices.json" }
    /// The interfaces text goes where ifupdown2 reads it only when ifupdown2 is installed: Debian's
    /// classic ifupdown cannot parse it and would fail the node's networking at boot.
    var interfacesFile: String { Self.ifupdown2 ? "\(etc)/network/interfaces.d/sdn" : "\(run)/interfaces" }

    /// Zone → nil when it runs, or why it does not; the version applied.
    public var status: (version: Int?, zones: [String: String?], error: String?) {
        state.withLock { ($0.version, $0.zones, $0.error) }
    }

    /// What this node would run for `config` (the dry run's answer, and the apply's plan).
    public func plan(_ config: SDNConfig) -> SDNCompiler.Plan {
        let mappings = SDNIPAM(tree: tree).entries().compactMap { entry in entry.mac.map { (zone: entry.zone, mac: $0, ip: entry.ip) } }
        return SDNCompiler.plan(
            config, node: node, localAddresses: Self.localAddresses(), mappings: mappings, dnsmasqDirectory: dnsmasqDirectory, leaseFile: leaseFile)
    }

    /// Applies the running configuration now. Errors are per zone (a zone this kernel cannot
    /// build stays in error, the others run).
    public func apply() {
        applying.withLock { _ in
            let config = SDNConfig.running(tree: tree)
            // most nodes have no SDN: a guest config's change then costs no `ip` or `nft` call
            if config.zones.isEmpty, nothingApplied() {
                state.withLock {
                    $0.version = config.version
                    $0.zones = [:]
                    $0.error = nil
                }
                publish(version: config.version, zones: [:], error: nil)
                return
            }
            SDNGuests(tree: tree, node: node).sync(config)
            let plan = plan(config)
            var zones = plan.zones
            try? FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
            let old = (try? JSONDecoder().decode([SDNDevice].self, from: Data(contentsOf: URL(fileURLWithPath: devicesFile)))) ?? []
            let commands = SDNApply.commands(old: old, new: plan.devices, exists: { FileManager.default.fileExists(atPath: "/sys/class/net/\($0)") })
            for (index, error) in Self.runBatched(commands) {
                let command = commands[index]
                let device = command.first { name in plan.devices.contains { $0.name == name } || old.contains { $0.name == name } }
                let zone = plan.devices.first { $0.name == device }?.zone ?? old.first { $0.name == device }?.zone
                if let zone, zones[zone] ?? nil == nil { zones[zone] = "\(command.joined(separator: " ")): \(error)" }
            }
            // what exists now is the record (a failed zone's devices are retried on the next apply)
            let made = plan.devices.filter { FileManager.default.fileExists(atPath: "/sys/class/net/\($0.name)") }
            if let data = try? JSONEncoder().encode(made) { try? data.write(to: URL(fileURLWithPath: devicesFile)) }
            try? FileManager.default.createDirectory(
                atPath: (interfacesFile as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try? plan.interfaces.write(toFile: interfacesFile, atomically: true, encoding: .utf8)
            // a write costs the kernel a route flush even when nothing changes: only where it is off
            for vnet in plan.routed {
                let path = "/proc/sys/net/ipv4/conf/\(vnet)/forwarding"
                if (try? String(contentsOfFile: path, encoding: .utf8))?.hasPrefix("1") != true {
                    try? "1\n".write(toFile: path, atomically: false, encoding: .utf8)
                }
            }
            // SNAT's replies come in on the uplink: only then is forwarding turned on for the whole node (never off)
            if plan.snat { try? "1\n".write(toFile: "/proc/sys/net/ipv4/ip_forward", atomically: false, encoding: .utf8) }
            var problem: String?
            do { try applyNAT(plan.nat) } catch { problem = "SNAT: \(error)" }
            for (zone, files) in plan.dhcp where zones[zone] ?? nil == nil {
                do { try runDHCP(zone, files) } catch { zones[zone] = "DHCP: \(error)" }
            }
            stopDHCP(except: Set(plan.dhcp.keys))
            state.withLock {
                $0.version = config.version
                $0.zones = zones
                $0.error = problem
            }
            publish(version: config.version, zones: zones, error: problem)
        }
    }

    /// Runs the commands through one `ip -batch` and one `bridge -batch` (two processes, not one per
    /// command: 200 vnets are 600 commands), `ip` first since fdb entries need their tunnels. `-force`
    /// goes on past a failure; the failures come back by command index with the tool's message.
    static func runBatched(_ commands: [[String]]) -> [Int: String] {
        var failures: [Int: String] = [:]
        for tool in ["ip", "bridge"] {
            let indices = commands.indices.filter { commands[$0].first == tool }
            guard !indices.isEmpty else { continue }
            let input = indices.map { commands[$0].dropFirst().joined(separator: " ") }.joined(separator: "\n") + "\n"
            guard let result = try? Command.execute([tool, "-force", "-batch", "-"], input: input) else {
                for index in indices { failures[index] = "cannot run \(tool)" }
                continue
            }
            guard result.status != 0 else { continue }
            // the tool's message, then "Command failed -:N" (N counts batch lines from 1)
            var message: [String] = []
            for line in result.stderr.split(separator: "\n").map(String.init) {
                if line.hasPrefix("Command failed -:"), let n = Int(line.dropFirst("Command failed -:".count)), n >= 1, n <= indices.count {
                    failures[indices[n - 1]] = message.joined(separator: "; ")
                    message = []
                } else {
                    message.append(line)
                }
            }
        }
        return failures
    }

    /// Nothing of an earlier apply is left here: no recorded device, no SNAT loaded by us, no dnsmasq.
    func nothingApplied() -> Bool {
        let devices =
            (try? Data(contentsOf: URL(fileURLWithPath: devicesFile))).flatMap { try? JSONDecoder().decode([SDNDevice].self, from: $0) } ?? []
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: run)) ?? []).contains { $0.hasPrefix("dnsmasq-") && $0.hasSuffix(".pid") }
        let nat = state.withLock { $0.nat }
        return devices.isEmpty && !pids && !(nat ?? "").contains("masquerade")
    }

    func applyNAT(_ ruleset: String) throws {
        let previous = state.withLock { $0.nat }
        guard ruleset != previous else { return }
        // a node that never had SNAT leaves nft alone
        if !ruleset.contains("masquerade"), previous == nil {
            let tables = (try? Command.run(nft + ["list", "tables"])) ?? ""
            if !tables.contains("ip \(SDNCompiler.natTable)") {
                state.withLock { $0.nat = ruleset }
                return
            }
        }
        try Command.run(nft + ["-f", "-"], input: ruleset)
        state.withLock { $0.nat = ruleset }
    }

    /// Writes the zone's dnsmasq files; restarts dnsmasq when its configuration changed, or tells
    /// it to read the host file again (SIGHUP) when only the mappings did.
    func runDHCP(_ zone: String, _ files: [String: String]) throws {
        let dir = dnsmasqDirectory(zone)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var configChanged = false, hostsChanged = false
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where files[name] == nil {
            try? FileManager.default.removeItem(atPath: dir + "/" + name)
            configChanged = true
        }
        for (name, text) in files where (try? String(contentsOfFile: dir + "/" + name, encoding: .utf8)) != text {
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
            if name == "ethers" { hostsChanged = true } else { configChanged = true }
        }
        let pid = Command.runningPID(file: pidFile(zone), program: "dnsmasq")
        if let pid, !configChanged {
            if hostsChanged { kill(pid, SIGHUP) }
            return
        }
        if let pid { Command.terminate(pid, program: "dnsmasq") }
        // dnsmasq's own pid file names a helper of it, not the process: ours holds the pid we started
        let ready = "\(run)/dnsmasq-\(zone).ready"
        try? FileManager.default.removeItem(atPath: ready)
        let started = try Command.detach(
            [
                "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--conf-dir=\(dir),*.conf", "--pid-file=\(ready)",
                "--user=root", "--group=root", "--log-facility=\(run)/dnsmasq-\(zone).log",
            ], log: "\(run)/dnsmasq-\(zone).out")
        // dnsmasq checks its configuration and binds before it writes its pid file
        for _ in 0..<60 {
            if FileManager.default.fileExists(atPath: ready), Command.isRunning(started, program: "dnsmasq") {
                try "\(started)\n".write(toFile: pidFile(zone), atomically: true, encoding: .utf8)
                return
            }
            if kill(started, 0) != 0 { break }
            usleep(50_000)
        }
        kill(started, SIGKILL)
        let log =
            ((try? String(contentsOfFile: "\(run)/dnsmasq-\(zone).out", encoding: .utf8)) ?? "")
            + ((try? String(contentsOfFile: "\(run)/dnsmasq-\(zone).log", encoding: .utf8)) ?? "")
        throw SDNError("dnsmasq did not start: " + (log.split(separator: "\n").last.map(String.init) ?? "no output"))
    }

    func stopDHCP(except keep: Set<String>) {
        for file in (try? FileManager.default.contentsOfDirectory(atPath: run)) ?? [] where file.hasPrefix("dnsmasq-") && file.hasSuffix(".pid") {
            let zone = String(file.dropFirst("dnsmasq-".count).dropLast(".pid".count))
            guard !keep.contains(zone) else { continue }
            if let pid = Command.runningPID(file: pidFile(zone), program: "dnsmasq") { Command.terminate(pid, program: "dnsmasq") }
            try? FileManager.default.removeItem(atPath: pidFile(zone))
            try? FileManager.default.removeItem(atPath: dnsmasqDirectory(zone))
        }
    }

    /// Stops every dnsmasq this node started (corrald's shutdown in tests; a node keeps serving DHCP otherwise).
    public func stopAll() { stopDHCP(except: []) }

    func publish(version: Int, zones: [String: String?], error: String?) {
        let path = "nodes/\(node)/\(Self.statusFile)"
        // a node that never had SDN writes nothing into the tree
        if version == 0, zones.isEmpty, !tree.exists(path) { return }
        var body: [String: Any] = ["version": version, "zones": zones.mapValues { $0 ?? "" }]
        if let error { body["error"] = error }
        guard let data = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]) else { return }
        if (try? tree.read(path)) != Array(data) { try? tree.write(path, Array(data)) }
    }

    /// A node's published outcome: the version it applied and its zones' errors ("" when running).
    public static func published(tree: any ConfigTree, node: String) -> (version: Int, zones: [String: String], error: String?)? {
        guard let data = try? tree.read("nodes/\(node)/\(statusFile)"),
            let json = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any]
        else { return nil }
        return ((json["version"] as? Int) ?? 0, (json["zones"] as? [String: String]) ?? [:], json["error"] as? String)
    }

    /// Whether `zone` runs on `node` (its `nodes` list, or every node).
    public static func runs(_ zone: SDNObject, on node: String) -> Bool { SDNCompiler.runs(zone, on: node) }

    static func localAddresses() -> Set<String> {
        guard let out = try? Command.run(["ip", "-j", "address", "show"]),
            let links = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]]
        else { return [] }
        var addresses: Set<String> = []
        for link in links {
            for info in (link["addr_info"] as? [[String: Any]]) ?? [] { if let local = info["local"] as? String { addresses.insert(local) } }
        }
        return addresses
    }

    /// Applies now and again on every relevant change; changes during an apply make one more.
    public func watch(_ fs: ClusterFS) {
        guard job.claim() else { return }
        let node = node
        let relevant: @Sendable (String) -> Bool = { path in
            path == "sdn/.running-config" || path == SDNIPAM.path || path.hasPrefix("nodes/\(node)/qemu-server/")
                || path.hasPrefix("nodes/\(node)/lxc/")
        }
        fs.observe(paths: relevant) { [weak self] in self?.schedule() }
        schedule()
    }

    func schedule() { job.schedule { [self] in apply() } }
}

struct SDNError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

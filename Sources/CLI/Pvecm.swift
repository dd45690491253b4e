import API
import Cluster
import Composition
import Foundation
import Peers
import Schema
import Storage

/// `pvecm`: forming, joining and leaving a cluster, and the cluster as the node sees it. Every
/// command drives the node's API endpoints in this process (as root@pam), so the CLI and the API
/// do the same; what changes the daemon's mode ends with the daemon restarting itself.
public struct Pvecm {
    let pvesh: Pvesh
    let settings: Settings

    public init(pvesh: Pvesh, settings: Settings) {
        self.pvesh = pvesh
        self.settings = settings
    }

    static let usageText = """
        USAGE: pvecm <command>

          create NAME [--link0 ADDRESS] [--nodeid N] [--votes N]
                     make this standalone node a cluster of one
          add HOST [--fingerprint FP] [--link0 ADDRESS] [--nodeid N] [--votes N] [--force]
                     join the cluster of the member HOST; the password (root@pam's on HOST) or a
                     join token made there (`pvesh create /cluster/config/join-token`) is read
                     from --token, CORRAL_JOIN_PASSWORD or the terminal
          delnode NODE
                     remove NODE from the cluster (it must have no guests)
          updatecerts [--force]
                     make this node's certificate again if it is missing (all of them with --force);
                     corrald restarts to serve it
          qdevice setup ADDRESS [--port N] [--tie_breaker lowest|highest|ID] [--force] [--bundle FILE]
                     name the qnetd witness at ADDRESS for every node; the witness's certificate
                     database is written to FILE (default ./qnetd-CLUSTER.tar.gz): unpack it into
                     /etc/corosync/qnetd/nssdb on the qnetd host (no SSH: you copy it)
          qdevice remove
                     take the witness out of the cluster
          expected N tell corosync to expect N votes (to regain quorum when nodes are gone for good)
          status     the cluster, its quorum and its members
          nodes      the members of corosync.conf's nodelist and which are online
          help       this text

        """

    public func run(_ arguments: [String]) async -> Int32 {
        switch arguments.first {
        case "create": return await guarded { try await create(Array(arguments.dropFirst())) }
        case "add": return await guarded { try await add(Array(arguments.dropFirst())) }
        case "delnode": return await guarded { try await delnode(Array(arguments.dropFirst())) }
        case "expected": return await guarded { try expected(Array(arguments.dropFirst())) }
        case "qdevice": return await guarded { try await qdevice(Array(arguments.dropFirst())) }
        case "updatecerts": return await guarded { try updatecerts(Array(arguments.dropFirst())) }
        case "status": return await report(nodesOnly: false)
        case "nodes": return await report(nodesOnly: true)
        case "help", "--help", "-h":
            pvesh.write(Self.usageText)
            return 0
        default:
            FileHandle.standardError.write(Data(Self.usageText.utf8))
            return 2
        }
    }

    private func guarded(_ body: () async throws -> Void) async -> Int32 {
        do {
            try await body()
            return 0
        } catch {
            return Pvesh.report(error)
        }
    }

    func create(_ arguments: [String]) async throws {
        guard let name = arguments.first, !name.hasPrefix("-") else {
            throw CLIError.usage("pvecm create NAME [--link0 ADDRESS] [--nodeid N] [--votes N]")
        }
        try await pvesh.call("POST", ["cluster", "config"], ["--clustername", name] + arguments.dropFirst())
        pvesh.write("cluster '\(name)' created; corrald restarts into cluster mode\n")
    }

    func add(_ arguments: [String]) async throws {
        guard let host = arguments.first, !host.hasPrefix("-") else {
            throw CLIError.usage("pvecm add HOST [--fingerprint FP] [--token TOKEN] [--link0 ADDRESS] [--nodeid N] [--votes N] [--force]")
        }
        var rest = Array(arguments.dropFirst())
        func take(_ option: String) -> String? {
            guard let index = rest.firstIndex(of: "--\(option)"), index + 1 < rest.count else { return nil }
            defer { rest.removeSubrange(index...(index + 1)) }
            return rest[index + 1]
        }
        var fingerprint = take("fingerprint")
        if fingerprint == nil {
            // as ssh does on a first connection: show what the member presents and ask
            let seen = try PeerClient().fingerprint(host: host)
            guard isatty(0) != 0 else { throw CLIError.usage("give --fingerprint (the member presents \(seen))") }
            pvesh.write("The member \(host) presents the certificate fingerprint\n  \(seen)\nAre you sure you want to join it (yes/no)? ")
            guard readLine()?.lowercased() == "yes" else { throw CLIError.failed("join cancelled", code: 1) }
            fingerprint = seen
        }
        var password = take("token") ?? ProcessInfo.processInfo.environment["CORRAL_JOIN_PASSWORD"]
        if password == nil {
            guard isatty(0) != 0 else { throw CLIError.usage("give --token or CORRAL_JOIN_PASSWORD (no terminal to ask for the password)") }
            password = String(cString: getpass("Password for root@pam on \(host): "))
        }
        try await pvesh.call(
            "POST", ["cluster", "config", "join"], ["--hostname", host, "--fingerprint", fingerprint!, "--password", password!] + rest)
        pvesh.write("joined; corrald restarts into cluster mode with the cluster's configuration\n")
    }

    func delnode(_ arguments: [String]) async throws {
        guard arguments.count == 1 else { throw CLIError.usage("pvecm delnode NODE") }
        try await pvesh.call("DELETE", ["cluster", "config", "nodes", arguments[0]], [])
        pvesh.write("node '\(arguments[0])' removed\n")
    }

    func qdevice(_ arguments: [String]) async throws {
        switch arguments.first {
        case "setup":
            var rest = Array(arguments.dropFirst())
            guard let address = rest.first, !address.hasPrefix("-") else {
                throw CLIError.usage("pvecm qdevice setup ADDRESS [--port N] [--tie_breaker lowest|highest|ID] [--force] [--bundle FILE]")
            }
            rest.removeFirst()
            var bundlePath: String?
            if let index = rest.firstIndex(of: "--bundle"), index + 1 < rest.count {
                bundlePath = rest[index + 1]
                rest.removeSubrange(index...(index + 1))
            }
            let segments = ["cluster", "config", "qdevice"]
            let endpoint = pvesh.dispatcher.registry.route("POST", segments)?.0
            let options = try pvesh.parseOptions(["--address", address] + rest, schema: endpoint?.parameters)
            let outcome = await pvesh.dispatcher.call(APICall(method: "POST", segments: segments, parameters: options.parameters))
            let answer: JSON
            switch outcome.result {
            case .success(let data): answer = data
            case .failure(let error): throw CLIError.failed("\(error.status) \(error.description)", code: error.status == 400 ? 2 : 1)
            }
            guard let encoded = answer["bundle"]?.stringValue, let bundle = Data(base64Encoded: encoded) else {
                throw CLIError.failed("the node answered without the witness's certificates", code: 1)
            }
            let path = bundlePath ?? "qnetd-\(answer["cluster"]?.stringValue ?? "cluster").tar.gz"
            guard FileManager.default.createFile(atPath: path, contents: bundle, attributes: [.posixPermissions: 0o600]) else {
                throw CLIError.failed("cannot write \(path)", code: 1)
            }
            pvesh.write(
                """
                The cluster now uses the witness at \(address); corosync-qdevice runs on every node.
                Copy \(path) to the qnetd host and run there (root):
                  mkdir -p /etc/corosync/qnetd/nssdb && tar -xzf \((path as NSString).lastPathComponent) -C /etc/corosync/qnetd/nssdb \\
                    && chown -R coroqnetd: /etc/corosync/qnetd/nssdb && systemctl restart corosync-qnetd
                It holds the witness's key: delete it afterwards.

                """)
        case "remove":
            guard arguments.count == 1 else { throw CLIError.usage("pvecm qdevice remove") }
            try await pvesh.call("DELETE", ["cluster", "config", "qdevice"], [])
            pvesh.write("the witness is no longer part of the cluster; corosync-qdevice stops on every node\n")
        default:
            throw CLIError.usage("pvecm qdevice setup ADDRESS [...] | pvecm qdevice remove")
        }
    }

    func expected(_ arguments: [String]) throws {
        guard arguments.count == 1, let votes = Int(arguments[0]), votes > 0 else { throw CLIError.usage("pvecm expected N") }
        let result = try Command.execute(["corosync-quorumtool", "-e", "\(votes)"])
        guard result.status == 0 else { throw CLIError.failed("corosync-quorumtool: \(result.stderr)\(result.stdout)", code: 1) }
    }

    /// The node's certificate is made at corrald's start when it is missing (signed by the cluster
    /// CA): dropping it and restarting the daemon renews it.
    func updatecerts(_ arguments: [String]) throws {
        guard arguments.isEmpty || arguments == ["--force"] else { throw CLIError.usage("pvecm updatecerts [--force]") }
        let base = settings.effectiveMountpoint + "/nodes/\(settings.nodeName)"
        let present = ["pve-ssl.pem", "pve-ssl.key"].allSatisfy { FileManager.default.fileExists(atPath: "\(base)/\($0)") }
        guard !present || arguments == ["--force"] else {
            pvesh.write("the node's certificate is in place (use --force to make a new one)\n")
            return
        }
        for file in ["pve-ssl.pem", "pve-ssl.key"] { try? FileManager.default.removeItem(atPath: "\(base)/\(file)") }
        CorosyncService(setup: settings.corosyncSetup).requestDaemonRestart()
        pvesh.write("corrald restarts and makes a new certificate for \(settings.nodeName)\n")
    }

    func get(_ path: String) async throws -> JSON {
        let outcome = await pvesh.dispatcher.call(APICall(method: "GET", segments: path.split(separator: "/").map(String.init)))
        switch outcome.result {
        case .success(let data): return data
        case .failure(let error): throw CLIError.failed("\(error.status) \(error.description)", code: 1)
        }
    }

    func report(nodesOnly: Bool) async -> Int32 {
        do {
            let status = try await get("/cluster/status").arrayValue ?? []
            guard let cluster = status.first(where: { $0["type"]?.stringValue == "cluster" }) else {
                FileHandle.standardError.write(Data("this node is not in a cluster (ClusterFS holds no corosync.conf)\n".utf8))
                return 2
            }
            let members = try await get("/cluster/config/nodes").arrayValue ?? []
            let online = Set(status.filter { $0["online"]?.plainText == "1" }.compactMap { $0["name"]?.stringValue })
            let local = status.first { $0["local"]?.plainText == "1" }?["name"]?.stringValue
            var out = ""
            if !nodesOnly {
                out += "Cluster information\n-------------------\n"
                out += "Name:             \(cluster["name"]?.plainText ?? "")\n"
                out += "Config Version:   \(cluster["version"]?.plainText ?? "")\n"
                out += "Nodes:            \(cluster["nodes"]?.plainText ?? "")\n"
                out += "Quorate:          \(cluster["quorate"]?.plainText == "1" ? "Yes" : "No")\n"
                if let witness = try? await get("/cluster/config/qdevice").objectValue, !witness.isEmpty {
                    out += "QDevice:          \(witness["QNetd host"]?.plainText ?? "?") (\(witness["State"]?.plainText ?? "unknown"))\n"
                }
                out += "\n"
            }
            out += "Membership information\n----------------------\n"
            out += "    Nodeid      Votes Name\n"
            for member in members {
                let name = member["node"]?.stringValue ?? ""
                let nodeid = member["nodeid"]?.plainText ?? "?"
                let votes = member["quorum_votes"]?.plainText ?? "1"
                let state = name == local ? " (local)" : online.contains(name) ? "" : " (offline)"
                out += String(repeating: " ", count: max(0, 10 - nodeid.count)) + nodeid
                out += String(repeating: " ", count: max(1, 11 - votes.count)) + votes + " " + name + state + "\n"
            }
            pvesh.write(out)
            return 0
        } catch {
            return Pvesh.report(error)
        }
    }
}

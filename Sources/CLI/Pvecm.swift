import API
import Foundation
import Schema

/// `pvecm`: the cluster as the node sees it. `status` and `nodes` read `/cluster/status` and the
/// nodelist of `corosync.conf` (`/cluster/config/nodes`); forming and joining clusters comes with
/// the cluster-management work (create, add, delnode, expected, updatecerts).
public struct Pvecm {
    let pvesh: Pvesh

    public init(pvesh: Pvesh) { self.pvesh = pvesh }

    static let usageText = """
        USAGE: pvecm <command>

          status     the cluster, its quorum and its members
          nodes      the members of corosync.conf's nodelist and which are online
          help       this text

        """

    public func run(_ arguments: [String]) async -> Int32 {
        switch arguments.first {
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
                out += "Quorate:          \(cluster["quorate"]?.plainText == "1" ? "Yes" : "No")\n\n"
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

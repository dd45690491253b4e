import API
import ClusterFS
import Foundation
import Schema

extension MetricsDomain {
    /// `/cluster/metrics/export`: the last cycles' figures of this node and, unless `local-only`,
    /// of every online member (asked with `local-only`, as the caller), sorted by time. A member
    /// that does not answer is left out, not an error: a scraper keeps what it can get.
    static func export(_ service: MetricsService, tree: (any ConfigTree)?) -> Endpoint {
        Endpoint(
            pve: "GET /cluster/metrics/export", description: "The figures of the last cycles, for pull-based collectors.",
            returns: .object(["data": .array(of: .object([:], additionalProperties: true))]), permission: .privileges(path: "/", ["Sys.Audit"]),
            handler: .async { context in
                let history = context.bool("history") ?? false, start = Int(context.int("start-time") ?? 0)
                let members = tree?.clusterMembers() ?? [:]
                let local = context.services.nodeName
                var wanted: [String]
                if let list = context.string("node-list") {
                    wanted = Formats.splitList(list)
                    let unknown = wanted.filter { $0 != local && members[$0] == nil }
                    if !unknown.isEmpty { throw APIError(400, "Requested node-list contains unknown nodes - \(unknown.joined(separator: ", "))") }
                } else {
                    wanted = [local] + (context.bool("local-only") == true ? [] : members.keys.sorted().filter { $0 != local })
                }
                var rows: [JSON] = wanted.contains(local) ? service.export.rows(history: history, startTime: start) : []
                if let forwarder = context.services.forwarder {
                    var parameters: [String: RawParameter] = ["local-only": .text("1"), "history": .text(history ? "1" : "0")]
                    if start > 0 { parameters["start-time"] = .text("\(start)") }
                    for node in wanted where node != local && members[node]?.online == true {
                        let call = APICall(method: "GET", segments: ["cluster", "metrics", "export"], parameters: parameters)
                        if case .success(let answer) = await forwarder.forward(call, to: node, user: context.user).result {
                            rows += answer["data"]?.arrayValue ?? []
                        }
                    }
                }
                rows.sort { ($0["timestamp"]?.intValue ?? 0) < ($1["timestamp"]?.intValue ?? 0) }
                return .object(["data": .array(rows)])
            })
    }
}

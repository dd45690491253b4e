import Foundation

extension ConfigTree {
    /// The cluster's configured nodes as `.members` lists them: address and whether corosync sees
    /// them online. Empty on a standalone node (its `.members` names the cluster "local").
    public func clusterMembers() -> [String: (ip: String, online: Bool)] {
        guard let data = try? read(".members"), let root = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any],
            (root["cluster"] as? [String: Any])?["name"] as? String != "local", let list = root["nodelist"] as? [String: Any]
        else { return [:] }
        var out: [String: (ip: String, online: Bool)] = [:]
        for (name, value) in list {
            let node = value as? [String: Any] ?? [:]
            out[name] = (node["ip"] as? String ?? "", (node["online"] as? Int) == 1)
        }
        return out
    }
}

import Schema

extension GuestBackend {
    /// A guest's row of `/cluster/resources`: its status with the id and type PVE lists, `maxcpu`
    /// for `cpus`, and the type's status-only fields left out.
    public func resourceRow(_ vmid: Int) -> [String: JSON]? {
        (try? status(vmid, config: nil)).map { resourceRow(vmid, status: $0) }
    }

    /// The rows of many guests, their status asked at once (see `statuses`), in VMID order.
    public func resourceRows(_ vmids: [Int]) -> [[String: JSON]] {
        let all = statuses(vmids)
        return vmids.compactMap { vmid in all[vmid].map { resourceRow(vmid, status: $0) } }
    }

    /// One status at a time: the default for types without a cheaper way.
    public func statuses(_ vmids: [Int]) -> [Int: [String: JSON]] {
        var out: [Int: [String: JSON]] = [:]
        for vmid in vmids { out[vmid] = try? status(vmid, config: nil) }
        return out
    }

    func resourceRow(_ vmid: Int, status: [String: JSON]) -> [String: JSON] {
        var row = status
        row["id"] = .string("\(type)/\(vmid)")
        row["type"] = .string(type)
        row["node"] = .string(store.node)
        row["vmid"] = JSON(vmid)
        row["maxcpu"] = row["cpus"]
        row["template"] = row["template"] ?? 0
        for key in ["cpus"] + resourceOmittedKeys { row[key] = nil }
        return row
    }
}

import Schema

extension GuestBackend {
    /// A guest's row of `/cluster/resources`: its status with the id and type PVE lists, `maxcpu`
    /// for `cpus`, and the type's status-only fields left out.
    public func resourceRow(_ vmid: Int) -> [String: JSON]? {
        guard var row = try? status(vmid, config: nil) else { return nil }
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

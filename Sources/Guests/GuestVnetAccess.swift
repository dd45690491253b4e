import API
import ClusterFS
import Schema

/// PVE's rule for NICs on SDN vnets: whoever attaches a guest to a vnet needs `SDN.Use` on
/// `/sdn/zones/<zone>/<vnet>` (VM.Config.Network on the guest is not enough). Bridges that are not
/// vnets are the node's own, checked as before.
public enum GuestVnetAccess {
    /// The bridge a `netN` value names (`bridge=…`), if any.
    static func bridge(_ value: String) -> String? {
        value.split(separator: ",").lazy.compactMap { item -> String? in
            let kv = item.split(separator: "=", maxSplits: 1)
            return kv.count == 2 && kv[0] == "bridge" ? String(kv[1]) : nil
        }.first
    }

    /// Throws 403 when `options` put a NIC on a vnet the caller may not use.
    public static func check(_ context: RequestContext, options: [String: String], tree: any ConfigTree) throws {
        let nics = options.filter { Schema.indexedFamily($0.key) == "net" }.compactMap { bridge($0.value) }
        guard !nics.isEmpty, let text = try? tree.readString("sdn/vnets.cfg"), let vnets = try? SectionConfig.parse(text, file: "sdn/vnets.cfg")
        else { return }
        for name in nics {
            guard let vnet = vnets[name] else { continue }
            let path = "/sdn/zones/\(vnet["zone"] ?? "")/\(name)"
            guard context.has(["SDN.Use"], on: path) else { throw APIError(403, "Permission check failed (\(path), SDN.Use)") }
        }
    }
}

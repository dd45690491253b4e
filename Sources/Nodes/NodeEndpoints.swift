import API
import Glibc
import Schema

/// `/nodes`, `/nodes/{node}` and the node's status, time and version.
public enum NodeEndpoints {
    public static func all(
        sampler: CPUSampler, fingerprint: String?, clusterNodes: (@Sendable () -> [[String: JSON]])? = nil,
        timezone: @escaping @Sendable () -> String = NodeStatus.timezone
    ) -> [Endpoint] {
        [
            Endpoint(
                .GET, "/nodes", name: "index", description: "Cluster node index.",
                returns: .array(
                    of: .object(["node": .node, "status": .string(enum: ["unknown", "online", "offline"])], additionalProperties: true)),
                permission: .anyUser, childKey: "node",
                handler: .sync { context in
                    let memory = NodeStatus.memory()
                    let disk = NodeStatus.filesystem("/")
                    var entry: [String: JSON] = [
                        "node": .string(context.services.nodeName), "status": "online", "type": "node",
                        "id": .string("node/\(context.services.nodeName)"), "level": "",
                        "cpu": .number(sampler.fractions().cpu), "maxcpu": JSON(NodeStatus.cpuCount),
                        "mem": JSON(memory.used), "maxmem": JSON(memory.total), "uptime": JSON(NodeStatus.uptime()),
                        "disk": JSON(disk.used), "maxdisk": JSON(disk.total),
                    ]
                    if let fingerprint { entry["ssl_fingerprint"] = .string(fingerprint) }
                    // the other members as they last published themselves; offline ones as offline
                    let others = (clusterNodes?() ?? []).filter { $0["node"]?.stringValue != context.services.nodeName }
                    return .array([.object(entry)] + others.map(JSON.object))
                }),
            .directory("/nodes/{node}", description: "Node index.", parameters: ["node": .node]),
            Endpoint(
                .GET, "/nodes/{node}/status", name: "status", description: "Read node status.",
                parameters: ["node": .node], returns: .object([:], additionalProperties: true),
                permission: .privileges(path: "/nodes/{node}", ["Sys.Audit"]), proxyTo: "node",
                handler: .sync { context in status(context, sampler: sampler) }),
            Endpoint(
                .GET, "/nodes/{node}/time", name: "time", description: "Read server time and time zone settings.",
                parameters: ["node": .node],
                returns: .object(["time": .integer(), "localtime": .integer(), "timezone": .string()]),
                permission: .privileges(path: "/nodes/{node}", ["Sys.Audit"]), proxyTo: "node",
                handler: .sync { _ in
                    let now = Int64(time(nil))
                    return ["time": JSON(now), "localtime": JSON(now + NodeStatus.utcOffset(now)), "timezone": .string(timezone())]
                }),
            Endpoint(
                pve: "GET /nodes/{node}/subscription",
                description: "Subscription status: Corral needs no key, so there is none to find (PVE's 'notfound').",
                returns: .object(["status": .string()], additionalProperties: true), permission: .anyUser,
                handler: .sync { context in
                    [
                        "status": "notfound", "message": "no subscription key: Corral needs none",
                        "serverid": .string(context.services.repoID.uppercased()),
                    ]
                }),
            Endpoint(
                pve: "GET /nodes/{node}/replication", description: "Storage replication jobs of this node (none: replication needs ZFS).",
                returns: .array(of: .object(["id": .string()], additionalProperties: true)), permission: .anyUser,
                handler: .sync { _ in .array([]) }),
            Endpoint(
                .GET, "/nodes/{node}/version", name: "version", description: "API version details.",
                parameters: ["node": .node],
                returns: .object(["version": .string(), "release": .string(), "repoid": .string()]),
                permission: .anyUser, proxyTo: "node",
                handler: .sync { context in versionInfo(context.services) }),
        ]
    }

    /// The API level Corral implements, reported where PVE reports its own, so clients that gate
    /// features on the version (Terraform providers, Ansible) take the modern code paths.
    public static let apiRelease = "9.0"
    /// The full PVE version of that API level, in PVE's `major.minor.patch` shape.
    public static let apiVersion = "9.0.0"

    public static func versionInfo(_ services: Services) -> JSON {
        [
            "version": .string(apiVersion), "release": .string(apiRelease), "repoid": .string(services.repoID),
            "corral": .string(services.productVersion),
        ]
    }

    static func status(_ context: RequestContext, sampler: CPUSampler) -> JSON {
        let memory = NodeStatus.memory(), swap = NodeStatus.swap(), root = NodeStatus.filesystem("/")
        let kernel = NodeStatus.kernel()
        let (cpu, wait) = sampler.fractions()
        return [
            "cpu": .number(cpu), "wait": .number(wait), "idle": 0,
            "loadavg": .array(NodeStatus.loadavg().map { .string($0) }),
            "memory": ["total": JSON(memory.total), "used": JSON(memory.used), "free": JSON(memory.free), "available": JSON(memory.available)],
            "swap": ["total": JSON(swap.total), "used": JSON(swap.used), "free": JSON(swap.free)],
            "rootfs": ["total": JSON(root.total), "used": JSON(root.used), "free": JSON(root.free), "avail": JSON(root.avail)],
            "uptime": JSON(NodeStatus.uptime()),
            "cpuinfo": NodeStatus.cpuInfo(),
            "current-kernel": [
                "sysname": .string(kernel.sysname), "release": .string(kernel.release), "version": .string(kernel.version),
                "machine": .string(kernel.machine),
            ],
            "kversion": .string("\(kernel.sysname) \(kernel.release) \(kernel.version)"),
            // tools split this as pve-manager/<version>/<build>: it names the API level implemented;
            // what is really running is in a field of its own
            "pveversion": .string("pve-manager/\(apiVersion)/\(context.services.repoID.prefix(16))"),
            "corral-version": .string("corral/\(context.services.productVersion)/\(context.services.repoID.prefix(8))"),
            "boot-info": ["mode": .string(NodeStatus.bootMode)],
            "ksm": ["shared": 0],
        ]
    }
}

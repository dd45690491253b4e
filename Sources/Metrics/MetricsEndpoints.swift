import API
import Blocking
import Foundation
import Guests
import Schema
import Storage

/// `rrddata` of the node, its guests and its storages (PVE's methods): the rows of one time frame
/// and consolidation from this node's RRD files. Asked of another node, the call is forwarded there.
public struct MetricsDomain: Domain {
    public let service: MetricsService

    public init(service: MetricsService) { self.service = service }

    public var name: String { "metrics" }
    public func start() throws { service.start() }
    public func stop() async {
        let service = service
        // the last samples go into their files: blocking work
        await BlockingExecutor.shared.run { service.stop() }
    }

    public var endpoints: [Endpoint] {
        let service = service
        @Sendable func answer(_ context: RequestContext, _ path: String) throws -> JSON {
            let rows = try service.rows(path, timeframe: context.string("timeframe") ?? "hour", cf: context.string("cf") ?? "AVERAGE")
            return .array(rows.map { row in .object(row.mapValues { .number($0) }) })
        }
        @Sendable func graph(_ context: RequestContext, _ path: String, _ kinds: [(String, String)]) throws -> JSON {
            let file = try service.graph(
                path, kinds: kinds, ds: try context.require("ds"), timeframe: context.string("timeframe") ?? "hour",
                cf: context.string("cf") ?? "AVERAGE")
            return ["filename": .string(file)]
        }
        let drawn = Schema.object(["filename": .string()])
        // a node without VMs, containers or storage does not list their paths
        var endpoints = [
            Endpoint(
                pve: "GET /nodes/{node}/rrddata", description: "The node's figures over a time frame (RRD, 10 s samples).",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .privileges(path: "/nodes/{node}", ["Sys.Audit"]),
                handler: .blocking { context in try answer(context, service.nodeFile(try context.require("node"))) }),
            Endpoint(
                pve: "GET /nodes/{node}/rrd", description: "A PNG graph of some of the node's figures; /api2/png/ sends the image.",
                returns: drawn, permission: .privileges(path: "/nodes/{node}", ["Sys.Audit"]),
                handler: .blocking { context in try graph(context, service.nodeFile(try context.require("node")), MetricsService.nodeSources) }),
        ]
        for type in ["qemu", "lxc"] where service.guests[type] != nil {
            endpoints.append(
                Endpoint(
                    pve: "GET /nodes/{node}/\(type)/{vmid}/rrddata", description: "The guest's figures over a time frame.",
                    returns: .array(of: .object([:], additionalProperties: true)), permission: .privileges(path: "/vms/{vmid}", ["VM.Audit"]),
                    handler: .blocking { context in try answer(context, service.guestFile(Int(context.int("vmid") ?? 0))) }))
            endpoints.append(
                Endpoint(
                    pve: "GET /nodes/{node}/\(type)/{vmid}/rrd", description: "A PNG graph of some of the guest's figures.",
                    returns: drawn, permission: .privileges(path: "/vms/{vmid}", ["VM.Audit"]),
                    handler: .blocking { context in
                        try graph(context, service.guestFile(Int(context.int("vmid") ?? 0)), MetricsService.guestSources)
                    }))
        }
        if service.storage != nil {
            endpoints.append(
                Endpoint(
                    pve: "GET /nodes/{node}/storage/{storage}/rrddata", description: "The storage's usage over a time frame.",
                    returns: .array(of: .object([:], additionalProperties: true)),
                    permission: .privileges(path: "/storage/{storage}", ["Datastore.Audit", "Datastore.AllocateSpace"], any: true),
                    handler: .blocking { context in try answer(context, service.storageFile(try context.require("storage"))) }))
            endpoints.append(
                Endpoint(
                    pve: "GET /nodes/{node}/storage/{storage}/rrd", description: "A PNG graph of the storage's usage.",
                    returns: drawn, permission: .privileges(path: "/storage/{storage}", ["Datastore.Audit", "Datastore.AllocateSpace"], any: true),
                    handler: .blocking { context in
                        try graph(context, service.storageFile(try context.require("storage")), MetricsService.storageSources)
                    }))
        }
        endpoints.append(.directory("/cluster/metrics", key: "name", description: "The metric servers and the export of figures."))
        endpoints.append(Self.export(service, tree: service.storage?.fs))
        if let external = service.external { endpoints += MetricServerEndpoints.all(external.config) }
        return endpoints
    }
}

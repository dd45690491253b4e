import Access
import ClusterFS
import Composition
import Foundation
import Nodes
import Tasks
import TestSupport
import Testing

@testable import API
@testable import Schema

/// Every endpoint we declare that PVE also has must match PVE's interface facts: parameter names and
/// types, protected, proxyto and the permission check. Our additions beyond PVE are listed explicitly.
@Suite struct DeclarationsMatchPVETests {
    static let beyondPVE: Set<String> = [
        "GET /", "GET /events", "GET /cluster/metrics/prometheus", "POST /cluster/config/join-token", "POST /cluster/config/qdevice",
        "POST /cluster/ha/status/maintenance",
        "POST /nodes/{node}/storage/{storage}/import-volume",
        "GET /nodes/{node}/qemu/{vmid}/migrate-target", "GET /nodes/{node}/qemu/{vmid}/migrate-tunnel",
        "DELETE /cluster/config/qdevice",
        "POST /nodes/{node}/storage/{storage}/gc", "POST /nodes/{node}/storage/{storage}/verify",
        "POST /nodes/{node}/storage/{storage}/export-backup", "GET /nodes/{node}/network/changes", "POST /nodes/{node}/network/trial",
        "POST /nodes/{node}/network/confirm",
    ]

    /// Parameters that accept PVE's values and Corral's own (service names of this node's units).
    static let widerEnums: Set<String> = Set(
        ["GET /nodes/{node}/services/{service}", "GET /nodes/{node}/services/{service}/state"].map { "\($0) service" }
            + ["start", "stop", "restart", "reload"].map { "POST /nodes/{node}/services/{service}/\($0) service" }
            + PVEFacts.widened.flatMap { method, names in names.keys.map { "\(method) \($0)" } })

    static func methods() throws -> [String: JSON]? {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        guard let data = FileManager.default.contents(atPath: url.path + "/shared/pve-api/methods.json") else { return nil }
        var out: [String: JSON] = [:]
        for m in try JSONParser.parse(Array(data)).arrayValue ?? [] {
            out["\(m["method"]!.plainText) \(m["path"]!.plainText)"] = m
        }
        return out
    }

    static var factsPath: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path + "/shared/pve-api/methods.json"
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: factsPath), "../shared/pve-api/methods.json is not beside the repository"))
    func declarationsAgreeWithPVE() throws {
        let pve = try #require(try Self.methods())
        let registry = try Self.fullRegistry()
        var compared = 0
        for endpoint in registry.endpoints {
            let key = "\(endpoint.method.rawValue) \(endpoint.path)"
            guard let theirs = pve[key] else {
                #expect(Self.beyondPVE.contains(key), "\(key) is not a PVE method and not listed as beyond PVE")
                continue
            }
            compared += 1
            let theirParams = theirs["parameters"]?["properties"]?.objectValue ?? [:]
            var ours = endpoint.parameters.properties
            if PVEFacts.withDescription.contains(key), theirParams["description"] == nil { ours["description"] = nil }
            #expect(Set(ours.keys) == Set(theirParams.keys), "\(key) parameters: ours \(ours.keys.sorted()) PVE \(theirParams.keys.sorted())")
            for (name, schema) in ours {
                guard let t = theirParams[name] else { continue }
                #expect(schema.type?.rawValue == t["type"]?.stringValue, "\(key) \(name) type")
                // PVE's dump writes some flags as strings ("1")
                let optional: Int64? = t["optional"]?.intValue ?? (t["optional"]?.stringValue).flatMap { Int64($0) }
                #expect(schema.optional == (optional == 1), "\(key) \(name) optional")
                if let f = t["format"]?.stringValue {
                    #expect(schema.formatName == (PVEFacts.widerFormats[key]?[name] ?? f), "\(key) \(name) format")
                }
                if let e = t["enum"]?.arrayValue {
                    let theirs = e.compactMap(\.stringValue)
                    if Self.widerEnums.contains("\(key) \(name)") {
                        #expect(Set(schema.enumValues ?? []).isSuperset(of: theirs), "\(key) \(name) enum accepts all of PVE's")
                    } else {
                        #expect(schema.enumValues == theirs, "\(key) \(name) enum")
                    }
                }
            }
            #expect(endpoint.protected == (theirs["protected"]?.intValue == 1), "\(key) protected")
            #expect(endpoint.proxyTo == theirs["proxyto"]?.stringValue, "\(key) proxyto")
            // PVE declares a Sys.Audit check beside `user: all` here, and `user: all` admits any user first
            let theirPermissions = key == "GET /cluster/options" ? ["user": "all"] : theirs["permissions"]
            #expect(
                endpoint.permission.pveShape == theirPermissions,
                "\(key) permissions: \(endpoint.permission.pveShape.jsonString) vs \(theirs["permissions"]?.jsonString ?? "-")")
            #expect(endpoint.name == theirs["name"]?.stringValue, "\(key) handler name")
        }
        #expect(compared >= 40)
        print("endpoints implemented: \(compared) of \(pve.count) PVE methods")
    }

    /// Every endpoint the daemon serves, the access endpoints included (they need a tree).
    static func fullRegistry() throws -> Registry {
        let dir = NSTemporaryDirectory() + "corral-decl-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fs = try ClusterFS(databasePath: dir + "/config.db", nodeName: "t1")
        var settings = Settings()
        settings.nodeName = "t1"
        settings.dataDirectory = dir
        let vms = NodeComposition.makeVMManager(settings: settings, tree: fs, events: false)
        let cts = NodeComposition.makeContainerManager(settings: settings, tree: fs, vms: vms)
        let tasks = try TaskManager(directory: dir + "/tasks", node: "t1")
        let services = NodeServices(settings: settings, tasks: tasks, access: AccessControl(fs: fs), vms: vms, cts: cts, fingerprint: nil)
        return try Registry(NodeComposition.endpoints(services))
    }

    @Test func everyDeclaredFormatIsRegistered() throws {
        for endpoint in try Self.fullRegistry().endpoints {
            for (name, schema) in endpoint.parameters.properties {
                if let f = schema.formatName { #expect(Formats.lookup(f) != nil, "\(endpoint.path) \(name): format \(f)") }
            }
        }
    }

    @Test func openAPIDocumentIsValid() throws {
        let registry = try Self.fullRegistry()
        let document = OpenAPIDocument.generate(registry, version: "test")
        #expect(document["openapi"] == "3.1.0")
        #expect(document["paths"]?["/api2/json/nodes/{node}/tasks"]?["get"]?["parameters"]?.arrayValue?.count == 11)
    }

    /// The document through an independent validator (`make test` installs openapi-spec-validator).
    @Test(.enabled(if: hasValidator, "python3 module openapi_spec_validator is not installed (make test installs it)"))
    func openAPIDocumentPassesAnIndependentValidator() throws {
        let document = OpenAPIDocument.generate(try Self.fullRegistry(), version: "test")
        let path = NSTemporaryDirectory() + "corral-openapi-\(UUID().uuidString).json"
        try Data(document.serialized()).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (status, output) = try Self.runPython(
            "import json,sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))", [path])
        #expect(status == 0, "openapi-spec-validator: \(output)")
    }

    static let hasValidator = (try? runPython("import openapi_spec_validator").status) == 0

    static func runPython(_ script: String, _ arguments: [String] = []) throws -> (status: Int32, output: String) {
        let r = try runCommand("/usr/bin/env", ["python3", "-c", script] + arguments)
        return (r.status, r.stdout + r.stderr)
    }

}

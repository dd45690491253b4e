import Foundation
import Schema

/// An OpenAPI 3.1 document generated from the registry: every endpoint, its parameters (query for
/// GET/DELETE, a form or JSON body for POST/PUT), its result inside PVE's `{"data": …}` envelope,
/// and its permission check as an `x-pve-permissions` extension.
public enum OpenAPIDocument {
    public static func generate(_ registry: Registry, version: String) -> JSON {
        var paths: [String: [String: JSON]] = [:]
        for endpoint in registry.endpoints {
            if case .stream = endpoint.handler, endpoint.method != .GET { continue }
            var operation: [String: JSON] = [
                "operationId": .string(operationID(endpoint)),
                "summary": .string(endpoint.description),
                "tags": [.string(tag(endpoint.path))],
                "x-pve-permissions": endpoint.permission.pveShape,
                "x-pve-protected": .bool(endpoint.protected),
                "responses": responses(endpoint),
            ]
            let pathParams = Set(Registry.segments(endpoint.path).filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) })
            var parameters: [JSON] = []
            for name in pathParams.sorted() {
                let schema = endpoint.parameters.properties[name] ?? .string()
                parameters.append(["name": .string(name), "in": "path", "required": true, "schema": jsonSchema(schema)])
            }
            let rest = endpoint.parameters.properties.filter { !pathParams.contains($0.key) }
            if endpoint.method == .GET || endpoint.method == .DELETE {
                for (name, schema) in rest.sorted(by: { $0.key < $1.key }) {
                    var p: [String: JSON] = ["name": .string(name), "in": "query", "required": .bool(!schema.optional), "schema": jsonSchema(schema)]
                    if let d = schema.description { p["description"] = .string(d) }
                    parameters.append(.object(p))
                }
            } else if !rest.isEmpty {
                let body = jsonSchema(.object(rest))
                operation["requestBody"] = [
                    "required": .bool(rest.values.contains { !$0.optional }),
                    "content": ["application/json": ["schema": body], "application/x-www-form-urlencoded": ["schema": body]],
                ]
            }
            if !parameters.isEmpty { operation["parameters"] = .array(parameters) }
            let openPath = "/api2/json" + endpoint.path
            paths[openPath, default: [:]][endpoint.method.rawValue.lowercased()] = .object(operation)
        }
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "Corral API", "version": .string(version),
                "description": "Proxmox VE compatible REST API served by corrald.",
                "license": ["name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"],
            ],
            "servers": [["url": "/"]],
            "paths": .object(paths.mapValues { .object($0) }),
            "components": [
                "schemas": [
                    "Error": [
                        "type": "object",
                        "properties": [
                            "data": ["type": "null"], "message": ["type": "string"],
                            "errors": ["type": "object", "additionalProperties": ["type": "string"]],
                        ],
                    ]
                ],
                "securitySchemes": [
                    "ticket": ["type": "apiKey", "in": "cookie", "name": "PVEAuthCookie"],
                    "token": ["type": "apiKey", "in": "header", "name": "Authorization"],
                ],
            ],
        ]
    }

    private static func responses(_ endpoint: Endpoint) -> JSON {
        let error: JSON = ["description": "failure", "content": ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]]]
        if case .stream = endpoint.handler {
            return ["200": ["description": "event stream", "content": ["text/event-stream": ["schema": ["type": "string"]]]], "default": error]
        }
        if case .tunnel = endpoint.handler {
            return ["101": ["description": "WebSocket carrying the console's bytes"], "default": error]
        }
        return [
            "200": [
                "description": "success",
                "content": ["application/json": ["schema": ["type": "object", "properties": ["data": jsonSchema(endpoint.returns)]]]],
            ],
            "default": error,
        ]
    }

    private static func operationID(_ endpoint: Endpoint) -> String {
        let words = Registry.segments(endpoint.path).map { $0.hasPrefix("{") ? "by_" + $0.dropFirst().dropLast() : $0 }
        return ([endpoint.method.rawValue.lowercased()] + words).joined(separator: "_").replacingOccurrences(of: "-", with: "_")
    }

    private static func tag(_ path: String) -> String { Registry.segments(path).first ?? "root" }

    /// JSON Schema 2020-12 for one schema; PVE's named formats stay in `format` (unknown formats are
    /// annotations in JSON Schema) and the property-string layout goes into `x-pve-property-string`.
    static func jsonSchema(_ schema: Schema) -> JSON {
        var out: [String: JSON] = [:]
        if let type = schema.type {
            out["type"] = .string(type.rawValue)
            if type == .integer || type == .boolean || type == .number {
                // form bodies carry numbers and booleans as text; PVE accepts both
                out["type"] = [.string(type.rawValue), "string"]
            }
        }
        if let d = schema.description { out["description"] = .string(d) }
        if let d = schema.defaultValue { out["default"] = d }
        switch schema.format {
        case .named(let name): out["format"] = .string(name)
        case .propertyString(let f):
            out["x-pve-property-string"] = .object(f.properties.mapValues { jsonSchema($0) })
            if let key = f.defaultKey { out["x-pve-default-key"] = .string(key) }
        case nil: break
        }
        if let e = schema.enumValues { out["enum"] = .array(e.map { .string($0) }) }
        if let v = schema.minimum { out["minimum"] = .number(v) }
        if let v = schema.maximum { out["maximum"] = .number(v) }
        if let v = schema.minLength { out["minLength"] = .int(Int64(v)) }
        if let v = schema.maxLength { out["maxLength"] = .int(Int64(v)) }
        if let p = schema.pattern { out["pattern"] = .string("^(?:\(p))$") }
        if let items = schema.items { out["items"] = jsonSchema(items) }
        if schema.type == .object {
            if !schema.properties.isEmpty {
                out["properties"] = .object(schema.properties.mapValues { jsonSchema($0) })
                let required = schema.properties.filter { !$0.value.optional }.keys.sorted()
                if !required.isEmpty { out["required"] = .array(required.map { .string($0) }) }
            }
            if !schema.additionalProperties && !schema.properties.isEmpty { out["additionalProperties"] = false }
        }
        return .object(out)
    }
}

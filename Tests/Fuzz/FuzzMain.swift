// libFuzzer entry for Corral's input parsers, built by Tests/Fuzz/run.sh together with the parser
// sources (not part of the package). FUZZ_TARGET picks the parser: http, property or json.
import Foundation

enum FuzzTarget: String {
    case http, property, json
}

nonisolated(unsafe) let fuzzTarget = FuzzTarget(rawValue: ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? "http") ?? .http

let fuzzFormat = PropertyStringFormat(
    [
        "model": .string(enum: ["virtio", "e1000"]),
        "macaddr": Schema.string(format: "mac-addr").optional(),
        "bridge": Schema.string(format: "pve-bridge-id").optional(),
        "tag": Schema.integer(minimum: 1, maximum: 4094).optional(),
        "rate": Schema.number(minimum: 0).optional(),
        "firewall": Schema.boolean().optional(),
        "size": Schema.string(format: "disk-size").optional(),
        "ip": Schema.string(format: "ip").optional(),
        "name": Schema.string(pattern: "[a-z][a-z0-9-]*", maxLength: 20).optional(),
    ], defaultKey: "model")

/// Feeds the parser in pieces whose sizes come from the input itself; checks it never reads past the
/// buffer, never loops, and stops after an error as the server does.
func fuzzHTTP(_ bytes: [UInt8]) {
    guard let first = bytes.first else { return }
    let step = Int(first % 64) + 1
    var parser = HTTPRequestParser(limits: HTTPParserLimits(maxHeaderBytes: 4096, maxBodyBytes: 8192))
    var buffer: [UInt8] = []
    var start = 0
    var offset = 1
    while offset < bytes.count {
        let end = min(bytes.count, offset + step)
        buffer.append(contentsOf: bytes[offset..<end])
        offset = end
        var rounds = 0
        while true {
            rounds += 1
            precondition(rounds < 100_000, "parser does not make progress")
            let before = start
            let result = parser.parse(buffer, start: &start)
            precondition(start >= before && start <= buffer.count, "start out of range")
            switch result {
            case .needMore: break
            case .error: return
            case .request(let r):
                precondition(r.body.count <= 8192)
                continue
            case .expectContinue: continue
            }
            break
        }
    }
}

func fuzzProperty(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    guard let values = try? PropertyString.parse(text, format: fuzzFormat) else { return }
    let printed = PropertyString.print(values, format: fuzzFormat)
    guard let again = try? PropertyString.parse(printed, format: fuzzFormat) else {
        preconditionFailure("printed form does not parse: \(printed.debugDescription) from \(text.debugDescription)")
    }
    precondition(again == values, "round trip changed values: \(text.debugDescription)")
}

func fuzzJSON(_ bytes: [UInt8]) {
    guard let value = try? JSONParser.parse(bytes) else { return }
    // integral numbers print without a fraction and read back as integers: compare by value
    let again = try? JSONParser.parse(value.serialized())
    precondition(again.map { sameValue($0, value) } == true, "JSON round trip changed the value")
}

func sameValue(_ a: JSON, _ b: JSON) -> Bool {
    switch (a, b) {
    case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy(sameValue)
    case (.object(let x), .object(let y)): return x.count == y.count && x.allSatisfy { k, v in y[k].map { sameValue(v, $0) } ?? false }
    default:
        if let x = a.doubleValue, let y = b.doubleValue { return x == y }
        return a == b
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch fuzzTarget {
    case .http: fuzzHTTP(bytes)
    case .property: fuzzProperty(bytes)
    case .json: fuzzJSON(bytes)
    }
    return 0
}

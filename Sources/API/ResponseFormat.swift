import Schema

/// PVE's response formats: `json` keeps HTTP statuses; `extjs` always answers 200 and reports
/// failure in a `success` field, because ExtJS forms want it so.
public enum ResponseFormat: String, Sendable {
    case json, extjs

    /// Status, reason phrase and body for an outcome.
    public func render(_ outcome: APIOutcome) -> (status: Int, reason: String?, body: [UInt8]) {
        if self == .json, outcome.attributes.isEmpty, case .success(let data) = outcome.result {
            // most answers: `{"data":…}` written straight, without an envelope to build and sort
            var body: [UInt8] = []
            body.reserveCapacity(256)
            body.append(contentsOf: #"{"data":"#.utf8)
            data.write(into: &body)
            body.append(UInt8(ascii: "}"))
            return (200, nil, body)
        }
        var envelope: [String: JSON] = [:]
        for (key, value) in outcome.attributes { envelope[key] = value }
        switch outcome.result {
        case .success(let data):
            envelope["data"] = data
            if self == .extjs { envelope["success"] = 1 }
            return (200, nil, JSON.object(envelope).serialized())
        case .failure(let error):
            envelope["data"] = .null
            // PVE's server (since libpve-http-server-perl 5.2) sends the message with per-parameter errors too
            envelope["message"] = .string(error.message + "\n")
            if let errors = error.errors, !errors.isEmpty {
                envelope["errors"] = .object(errors.mapValues { .string($0) })
            }
            if self == .extjs {
                envelope["success"] = 0
                envelope["message"] = .string(error.message)
                envelope["status"] = .int(Int64(error.status))
                return (200, nil, JSON.object(envelope).serialized())
            }
            return (error.status, error.message, JSON.object(envelope).serialized())
        }
    }
}

internal import CRRD
import Foundation
import Synchronization

/// An error librrd reported (its message).
public struct RRDError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Round-robin database files through librrd: created with their data sources and archives,
/// updated with one sample, read back as a series. librrd keeps its error text per thread and is
/// not safe for two writers of one file, so every call takes one lock (the calls take microseconds).
public enum RRDFile {
    private static let lock = Mutex<Void>(())

    /// Creates `path` (and its directory) unless it exists. `sources` are `DS:name:TYPE:heartbeat:min:max`,
    /// `archives` `RRA:CF:xff:steps:rows`.
    public static func create(_ path: String, step: Int, sources: [String], archives: [String]) throws(RRDError) {
        guard !FileManager.default.fileExists(atPath: path) else { return }
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try call("create \(path)", arguments: sources + archives) { arguments, count in
            rrd_create_r(path, UInt(step), time(nil) - 10, count, arguments)
        }
    }

    /// Adds one sample at `time`; nil values are unknown (`U`).
    public static func update(_ path: String, time: Int, values: [Double?]) throws(RRDError) {
        try update(path, samples: [(time, values)])
    }

    /// Adds samples in time order with one open and write of the file (librrd takes many at once).
    public static func update(_ path: String, samples: [(time: Int, values: [Double?])]) throws(RRDError) {
        // whole numbers as integers: DERIVE and COUNTER sources take nothing else
        func text(_ value: Double?) -> String {
            guard let value, value.isFinite else { return "U" }
            return value.rounded() == value && abs(value) < 9e18 ? String(Int64(value)) : String(value)
        }
        guard !samples.isEmpty else { return }
        let arguments = samples.map { "\($0.time):" + $0.values.map(text).joined(separator: ":") }
        try call("update \(path)", arguments: arguments) { arguments, count in rrd_update_r(path, nil, count, arguments) }
    }

    /// A consolidated series: `rows[i]` holds one value per name (NaN where unknown) for `start + i * step`.
    public struct Series: Sendable {
        public let start: Int
        public let step: Int
        public let names: [String]
        public let rows: [[Double]]
    }

    /// The values of `cf` (AVERAGE, MAX) between `start` and `end` at the archive closest to `resolution`.
    public static func fetch(_ path: String, cf: String, start: Int, end: Int, resolution: Int) throws(RRDError) -> Series {
        try lock.withLock { _ throws(RRDError) -> Series in
            rrd_clear_error()
            var from = time_t(start), to = time_t(end)
            var step = UInt(resolution), count: UInt = 0
            var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
            var data: UnsafeMutablePointer<rrd_value_t>?
            guard rrd_fetch_r(path, cf, &from, &to, &step, &count, &names, &data) == 0 else { throw lastError("fetch \(path)") }
            defer {
                for i in 0..<Int(count) { rrd_freemem(names?[i]) }
                rrd_freemem(names)
                rrd_freemem(data)
            }
            let columns = (0..<Int(count)).map { names?[$0].map { String(cString: $0) } ?? "" }
            let rowCount = step > 0 ? Int((to - from) / time_t(step)) : 0
            var rows: [[Double]] = []
            rows.reserveCapacity(rowCount)
            for r in 0..<rowCount { rows.append((0..<columns.count).map { c in data?[r * columns.count + c] ?? .nan }) }
            return Series(start: Int(from), step: Int(step), names: columns, rows: rows)
        }
    }

    /// Draws a PNG graph into `output` with `rrdtool graph`'s arguments (`DEF:…`, `LINE2:…`, options).
    public static func graph(_ output: String, arguments: [String]) throws(RRDError) {
        try call("graph \(output)", arguments: ["graph", output] + arguments) { arguments, count in
            // rrd_graph_v wants the writable argv of a command line; it does not keep it
            guard
                let info = rrd_graph_v(
                    count, UnsafeMutablePointer(mutating: UnsafeRawPointer(arguments).assumingMemoryBound(to: UnsafeMutablePointer<CChar>?.self)))
            else { return -1 }
            rrd_info_free(info)
            return 0
        }
    }

    private static func call(
        _ what: String, arguments: [String], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>, Int32) -> Int32
    ) throws(RRDError) {
        try lock.withLock { _ throws(RRDError) in
            rrd_clear_error()
            var copies = arguments.map { UnsafePointer(strdup($0)) }
            defer { for pointer in copies { free(UnsafeMutablePointer(mutating: pointer)) } }
            let rc = copies.withUnsafeMutableBufferPointer { body($0.baseAddress!, Int32($0.count)) }
            guard rc == 0 else { throw lastError(what) }
        }
    }

    private static func lastError(_ what: String) -> RRDError {
        RRDError(description: "\(what): " + (rrd_get_error().map { String(cString: $0) } ?? "failed"))
    }
}

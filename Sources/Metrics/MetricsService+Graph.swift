import API
import Foundation
import RRD

/// `rrd` (PVE's older graph methods): a PNG of some data sources over a time frame, drawn by librrd
/// into a file whose name is the answer. `/api2/png/…` sends the file itself and removes it.
extension MetricsService {
    /// Colours of the lines in the order `ds` names them (the first is drawn as an area).
    static let graphColours = ["00BFFF", "FF6A00", "2E8B57", "9932CC", "B22222", "DAA520"]

    /// Draws `ds` (each a data source of `kinds`) from `path` and returns the PNG's path.
    public func graph(_ path: String, kinds: [(String, String)], ds: String, timeframe: String, cf: String) throws -> String {
        let names = ds.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let known = Set(kinds.map(\.0))
        guard !names.isEmpty, names.count <= Self.graphColours.count else {
            throw APIError.parameters(["ds": "name between 1 and \(Self.graphColours.count) data sources"])
        }
        if let unknown = names.first(where: { !known.contains($0) }) {
            throw APIError.parameters(["ds": "unknown data source '\(unknown)' (known: \(kinds.map(\.0).joined(separator: ", ")))"])
        }
        flush(path)
        guard FileManager.default.fileExists(atPath: path) else { throw APIError(500, "no history recorded yet") }
        let frame = Self.timeframes[timeframe] ?? Self.timeframes["hour"]!
        let folder = directory + "/png"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        sweepGraphs(folder)
        let output = folder + "/\(UUID().uuidString.lowercased()).png"
        // a colon ends a field in rrdtool's arguments: the file's path is escaped
        let file = path.replacingOccurrences(of: ":", with: "\\:")
        var arguments = [
            "--imgformat", "PNG", "--width", "800", "--height", "200", "--start", "-\(frame.span)", "--end", "now", "--lower-limit", "0",
            "--border", "0", "--slope-mode", "--title", "\(names.joined(separator: ", ")) (\(timeframe), \(cf.lowercased()))",
        ]
        for (i, name) in names.enumerated() {
            arguments.append("DEF:\(name)=\(file):\(name):\(cf)")
            arguments.append("\(i == 0 ? "AREA" : "LINE2"):\(name)#\(Self.graphColours[i]):\(name)")
        }
        do {
            try RRDFile.graph(output, arguments: arguments)
        } catch {
            unlink(output)
            throw APIError(500, "cannot draw the graph: \(error)")
        }
        return output
    }

    /// Graphs nobody fetched go after five minutes.
    private func sweepGraphs(_ folder: String) {
        let old = Date().addingTimeInterval(-300)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasSuffix(".png") {
            let path = folder + "/" + name
            if let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date, modified < old {
                unlink(path)
            }
        }
    }
}

import Glibc

/// Serves files below one directory: content types by extension, ETag/Last-Modified validation
/// (304 on a match), and no way out of the directory.
public struct StaticFiles: Sendable {
    public let root: String
    public init(root: String) { self.root = root }

    /// The response for a decoded URL path below `root`, or nil when there is no such file.
    public func response(for urlPath: String, request: HTTPRequest) -> HTTPResponse? {
        let segments = urlPath.split(separator: "/").map(String.init)
        guard !segments.contains(where: { $0 == ".." || $0 == "." || $0.hasPrefix(".") || $0.contains("\0") }) else { return nil }
        var path = root + "/" + segments.joined(separator: "/")
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        if info.st_mode & S_IFMT == S_IFDIR {
            path += "/index.html"
            guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        }
        guard info.st_mode & S_IFMT == S_IFREG else { return nil }
        let etag = "\"\(String(info.st_size, radix: 16))-\(String(info.st_mtim.tv_sec, radix: 16))\""
        var headers = HTTPHeaders([("ETag", etag), ("Last-Modified", HTTPDate.format(Int64(info.st_mtim.tv_sec)))])
        // assets change only with an upgrade; clients revalidate cheaply with the ETag
        headers.add("Cache-Control", "max-age=0, must-revalidate")
        if request.headers["If-None-Match"] == etag {
            return HTTPResponse(status: 304, headers: headers, compressible: false)
        }
        guard let body = Self.read(path) else { return nil }
        let type = Self.contentType(path)
        headers.add("Content-Type", type)
        headers.add("X-Content-Type-Options", "nosniff")
        let compressible = type.hasPrefix("text/") || type.contains("javascript") || type.contains("json") || type.contains("svg")
        return HTTPResponse(status: 200, headers: headers, body: body, compressible: compressible)
    }

    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { return nil }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    static func contentType(_ path: String) -> String {
        switch path.split(separator: ".").last.map({ $0.lowercased() }) ?? "" {
        case "html", "htm": "text/html;charset=UTF-8"
        case "js", "mjs": "text/javascript;charset=UTF-8"
        case "css": "text/css;charset=UTF-8"
        case "json", "map": "application/json;charset=UTF-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "ico": "image/x-icon"
        case "woff2": "font/woff2"
        case "woff": "font/woff"
        case "txt": "text/plain;charset=UTF-8"
        default: "application/octet-stream"
        }
    }
}

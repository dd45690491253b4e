/// One parsed request. The body is complete (chunked bodies are already decoded).
public struct HTTPRequest: Sendable {
    public var method: String
    /// The request target as sent (`/api2/json/nodes?x=1`).
    public var target: String { didSet { questionMark = Self.questionMark(in: target) } }
    /// Where the query starts in `target` (UTF-8 offset of '?'), found once: path and query are
    /// asked for several times per request.
    private var questionMark: Int?
    public var version: (major: Int, minor: Int)
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Where a spooled body went (see `HTTPParserLimits.spoolPaths`); the responder removes the file.
    public var bodyFile: String? = nil
    public var remoteAddress: String = ""

    public init(method: String, target: String, version: (Int, Int) = (1, 1), headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.questionMark = Self.questionMark(in: target)
        self.version = (version.0, version.1)
        self.headers = headers
        self.body = body
    }

    /// The path part of the target, still percent-encoded.
    public var path: String {
        guard let questionMark else { return target }
        return String(Substring(target.utf8.prefix(questionMark)))
    }

    /// The query part without '?', still encoded; empty when absent.
    public var query: String {
        guard let questionMark else { return "" }
        return String(Substring(target.utf8.dropFirst(questionMark + 1)))
    }

    private static func questionMark(in target: String) -> Int? {
        var target = target
        return target.withUTF8 { bytes in bytes.firstIndex(of: UInt8(ascii: "?")) }
    }

    /// HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes unless told to keep it.
    public var keepAlive: Bool {
        if headers.hasToken("Connection", "close") { return false }
        if version.minor == 0 { return headers.hasToken("Connection", "keep-alive") }
        return true
    }

    public var acceptsGzip: Bool { headers.hasToken("Accept-Encoding", "gzip") }
}

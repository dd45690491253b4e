/// A response to send. `reason` defaults to the standard phrase; PVE puts its error messages there.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var reason: String?
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Whether the body may be gzip-compressed when the client accepts it.
    public var compressible: Bool
    /// Who made the request, for the access log (the API fills it in after authentication).
    public var logUser: String?

    public init(status: Int, reason: String? = nil, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], compressible: Bool = true) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.compressible = compressible
    }

    public static func text(_ status: Int, _ text: String, reason: String? = nil) -> HTTPResponse {
        HTTPResponse(
            status: status, reason: reason, headers: HTTPHeaders([("Content-Type", "text/plain;charset=UTF-8")]),
            body: Array(text.utf8))
    }

    /// The status line's phrase: header-safe (no CR/LF, printable) and bounded.
    var reasonPhrase: String {
        let raw = reason ?? HTTPResponse.standardReason(status)
        if raw.utf8.count <= 512 && raw.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) { return raw }
        let cleaned = raw.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : String($0) }.joined()
        return cleaned.count > 512 ? String(cleaned.prefix(512)) : cleaned
    }

    public static func standardReason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 426: "Upgrade Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }
}

import Glibc

/// Why a request could not be parsed; the connection answers `status` and closes, since its framing
/// can no longer be trusted.
public struct HTTPParseError: Error, Equatable, Sendable {
    public let status: Int
    public let message: String
}

public struct HTTPParserLimits: Sendable {
    /// Request line plus headers (PVE's clients never come near it).
    public var maxHeaderBytes: Int = 64 * 1024
    public var maxBodyBytes: Int = 16 * 1024 * 1024
    /// Paths whose bodies (with a Content-Length) go to a file in `spoolDirectory` instead of memory
    /// (uploads of ISO images and templates, a migration's volumes), up to `maxSpoolBytes`.
    public var spoolPaths: [String] = []
    public var spoolDirectory = "/var/tmp"
    public var maxSpoolBytes: Int = 1 << 42
    public init(maxHeaderBytes: Int = 64 * 1024, maxBodyBytes: Int = 16 * 1024 * 1024) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }

    func spools(_ path: String) -> Bool {
        spoolPaths.contains { path.hasPrefix($0) && (path.hasSuffix("/upload") || path.hasSuffix("/import-volume")) }
    }
}

public enum HTTPParseResult: Sendable {
    case needMore
    /// The head asked for `Expect: 100-continue` and the body has not arrived: answer 100 first.
    case expectContinue
    case request(HTTPRequest)
    case error(HTTPParseError)
}

/// An incremental HTTP/1.x request parser over a byte buffer. It consumes bytes from `buffer[start...]`,
/// advancing `start`, and keeps its state between calls so a request may arrive in any number of pieces.
/// Pure Swift with no I/O, so the fuzz target runs it alone.
public struct HTTPRequestParser: Sendable {
    private enum State: Sendable {
        case head(scanFrom: Int)
        case body(HTTPRequest, remaining: Int)
        case spool(HTTPRequest, remaining: Int, fd: Int32)
        case chunkSize(HTTPRequest)
        case chunkData(HTTPRequest, remaining: Int)
        case chunkDataEnd(HTTPRequest)
        case trailers(HTTPRequest)
    }

    public let limits: HTTPParserLimits
    private var state: State = .head(scanFrom: 0)
    private var announcedContinue = false

    public init(limits: HTTPParserLimits = HTTPParserLimits()) { self.limits = limits }

    /// Whether part of a request has been consumed or is pending (for timeouts and shutdown).
    public var isMidRequest: Bool {
        if case .head(let scan) = state { return scan > 0 }
        return true
    }

    public mutating func parse(_ buffer: [UInt8], start: inout Int) -> HTTPParseResult {
        while true {
            switch state {
            case .head(let scanFrom):
                let available = buffer.count - start
                // tolerate empty lines before a request line (RFC 9112 §2.2)
                if scanFrom == 0 {
                    while start + 1 < buffer.count, buffer[start] == 13, buffer[start + 1] == 10 { start += 2 }
                }
                guard let end = findHeadEnd(buffer, from: start, scanFrom: scanFrom) else {
                    if available > limits.maxHeaderBytes {
                        return .error(HTTPParseError(status: 431, message: "request line and headers exceed \(limits.maxHeaderBytes) bytes"))
                    }
                    state = .head(scanFrom: max(0, available - 3))
                    return .needMore
                }
                if end - start > limits.maxHeaderBytes {
                    return .error(HTTPParseError(status: 431, message: "request line and headers exceed \(limits.maxHeaderBytes) bytes"))
                }
                let headRange = start..<end
                start = end + 4
                announcedContinue = false
                switch parseHead(buffer, headRange) {
                case .failure(let error): return .error(error)
                case .success(let (request, framing)):
                    switch framing {
                    case .none:
                        state = .head(scanFrom: 0)
                        return .request(request)
                    case .length(let n) where limits.spools(request.path):
                        var request = request
                        var template = Array((limits.spoolDirectory + "/corral-upload-XXXXXX").utf8CString)
                        let fd = mkstemp(&template)
                        guard fd >= 0 else {
                            return .error(HTTPParseError(status: 507, message: "cannot store the upload in \(limits.spoolDirectory)"))
                        }
                        request.bodyFile = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                        state = .spool(request, remaining: n, fd: fd)
                    case .length(let n):
                        state = .body(request, remaining: n)
                    case .chunked:
                        state = .chunkSize(request)
                    }
                }
            case .body(var request, let remaining):
                let take = min(remaining, buffer.count - start)
                if take > 0 {
                    request.body.append(contentsOf: buffer[start..<start + take])
                    start += take
                }
                if remaining - take == 0 {
                    state = .head(scanFrom: 0)
                    return .request(request)
                }
                state = .body(request, remaining: remaining - take)
                return continueOrMore(request)
            case .spool(let request, let remaining, let fd):
                let take = min(remaining, buffer.count - start)
                if take > 0 {
                    let written = buffer[start..<start + take].withUnsafeBytes { raw -> Int in
                        var offset = 0
                        while offset < raw.count {
                            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                            if n < 0 && errno == EINTR { continue }
                            if n <= 0 { return -1 }
                            offset += n
                        }
                        return offset
                    }
                    if written < 0 {
                        close(fd)
                        if let path = request.bodyFile { unlink(path) }
                        state = .head(scanFrom: 0)
                        return .error(HTTPParseError(status: 507, message: "cannot store the upload: \(String(cString: strerror(errno)))"))
                    }
                    start += take
                }
                if remaining - take == 0 {
                    close(fd)
                    state = .head(scanFrom: 0)
                    return .request(request)
                }
                state = .spool(request, remaining: remaining - take, fd: fd)
                return continueOrMore(request)
            case .chunkSize(let request):
                guard let lineEnd = findCRLF(buffer, from: start) else {
                    if buffer.count - start > 1024 { return .error(HTTPParseError(status: 400, message: "chunk size line too long")) }
                    return continueOrMore(request)
                }
                guard let size = parseChunkSize(buffer[start..<lineEnd]) else {
                    return .error(HTTPParseError(status: 400, message: "invalid chunk size"))
                }
                start = lineEnd + 2
                if size == 0 {
                    state = .trailers(request)
                } else {
                    guard request.body.count + size <= limits.maxBodyBytes else {
                        return .error(HTTPParseError(status: 413, message: "request body exceeds \(limits.maxBodyBytes) bytes"))
                    }
                    state = .chunkData(request, remaining: size)
                }
            case .chunkData(var request, let remaining):
                let take = min(remaining, buffer.count - start)
                if take > 0 {
                    request.body.append(contentsOf: buffer[start..<start + take])
                    start += take
                }
                if remaining - take == 0 {
                    state = .chunkDataEnd(request)
                } else {
                    state = .chunkData(request, remaining: remaining - take)
                    return .needMore
                }
            case .chunkDataEnd(let request):
                guard buffer.count - start >= 2 else { return .needMore }
                guard buffer[start] == 13, buffer[start + 1] == 10 else {
                    return .error(HTTPParseError(status: 400, message: "chunk data not followed by CRLF"))
                }
                start += 2
                state = .chunkSize(request)
            case .trailers(let request):
                guard let lineEnd = findCRLF(buffer, from: start) else {
                    if buffer.count - start > limits.maxHeaderBytes {
                        return .error(HTTPParseError(status: 431, message: "trailers too large"))
                    }
                    return .needMore
                }
                let empty = lineEnd == start
                start = lineEnd + 2  // trailer fields are read and dropped
                if empty {
                    state = .head(scanFrom: 0)
                    return .request(request)
                }
            }
        }
    }

    /// Drops a half-received spooled body (the client went away): its file is closed and removed.
    public mutating func abandon() {
        if case .spool(let request, _, let fd) = state {
            close(fd)
            if let path = request.bodyFile { unlink(path) }
        }
        state = .head(scanFrom: 0)
    }

    private mutating func continueOrMore(_ request: HTTPRequest) -> HTTPParseResult {
        if !announcedContinue, request.body.isEmpty, request.headers["Expect"]?.caseInsensitiveEquals("100-continue") == true {
            announcedContinue = true
            return .expectContinue
        }
        return .needMore
    }

    private enum Framing { case none, length(Int), chunked }

    /// Bytes allowed in a method or header name (RFC 9110 §5.6.2 tchar).
    private static let tokenBytes: [Bool] = (0..<256).map { b in
        switch UInt8(b) {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(UInt8(b))
        }
    }

    /// One pass over the head in place: lines are found, checked and turned into strings without
    /// copying slices of the buffer (each slice would hold a reference to it).
    private func parseHead(_ buffer: [UInt8], _ range: Range<Int>) -> Result<(HTTPRequest, Framing), HTTPParseError> {
        buffer.withUnsafeBufferPointer { all in
            parseHead(UnsafeBufferPointer(rebasing: all[range]))
        }
    }

    private func parseHead(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<(HTTPRequest, Framing), HTTPParseError> {
        let token = Self.tokenBytes
        func text(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: bytes[r]), as: UTF8.self) }
        // the request line
        var i = 0
        let n = bytes.count
        while i < n && bytes[i] != 13 {
            if bytes[i] == 10 { return .failure(bad("bare LF in request head")) }
            if bytes[i] == 0 { return .failure(bad("NUL byte in request head")) }
            i += 1
        }
        if i < n && (i + 1 >= n || bytes[i + 1] != 10) { return .failure(bad("bare CR in request head")) }
        let lineEnd = i
        guard lineEnd > 0 else { return .failure(bad("malformed request line")) }
        var spaces = (-1, -1), spaceCount = 0
        for j in 0..<lineEnd where bytes[j] == 0x20 {
            spaceCount += 1
            if spaceCount == 1 { spaces.0 = j } else if spaceCount == 2 { spaces.1 = j } else { break }
        }
        guard spaceCount == 2 else { return .failure(bad("malformed request line")) }
        let methodRange = 0..<spaces.0, targetRange = spaces.0 + 1..<spaces.1, versionRange = spaces.1 + 1..<lineEnd
        guard !methodRange.isEmpty, methodRange.allSatisfy({ token[Int(bytes[$0])] }) else { return .failure(bad("invalid method")) }
        guard !targetRange.isEmpty, targetRange.allSatisfy({ bytes[$0] > 0x20 && bytes[$0] < 0x7F }) else {
            return .failure(bad("invalid request target"))
        }
        let first = bytes[targetRange.lowerBound]
        let isHTTP =
            targetRange.count >= 4 && bytes[targetRange.lowerBound] == UInt8(ascii: "h") && bytes[targetRange.lowerBound + 1] == UInt8(ascii: "t")
            && bytes[targetRange.lowerBound + 2] == UInt8(ascii: "t") && bytes[targetRange.lowerBound + 3] == UInt8(ascii: "p")
        guard first == UInt8(ascii: "/") || (targetRange.count == 1 && first == UInt8(ascii: "*")) || isHTTP else {
            return .failure(bad("invalid request target"))
        }
        let versionText = text(versionRange)
        let minor: Int
        switch versionText {
        case "HTTP/1.1": minor = 1
        case "HTTP/1.0": minor = 0
        default:
            if versionText.hasPrefix("HTTP/") { return .failure(HTTPParseError(status: 505, message: "HTTP version not supported")) }
            return .failure(bad("malformed HTTP version"))
        }

        var headers = HTTPHeaders(capacity: 8)
        i = lineEnd + 2
        while i < n {
            let start = i
            // the line ends at the next CR (memchr is vectorised; a cookie makes lines long)
            if let base = bytes.baseAddress, let cr = memchr(base + i, 13, n - i) {
                i = base.distance(to: cr.assumingMemoryBound(to: UInt8.self))
            } else {
                i = n
            }
            // control bytes (tab, LF, NUL, DEL, …) are rare: a branch-free pass finds whether the line
            // has any, and only such a line is checked byte by byte
            var flagged: UInt8 = 0
            for j in start..<i {
                let b = bytes[j]
                flagged |= (b < 0x20 ? 1 : 0) | (b == 0x7F ? 1 : 0)
            }
            var control = false
            if flagged != 0 {
                for j in start..<i {
                    let b = bytes[j]
                    if b == 10 { return .failure(bad("bare LF in request head")) }
                    if b == 0 { return .failure(bad("NUL byte in request head")) }
                    if (b < 0x20 && b != 0x09) || b == 0x7F { control = true }
                }
            }
            var colon = -1
            if i > start, let base = bytes.baseAddress, let found = memchr(base + start, Int32(UInt8(ascii: ":")), i - start) {
                colon = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            }
            if i < n && (i + 1 >= n || bytes[i + 1] != 10) { return .failure(bad("bare CR in request head")) }
            let end = i
            i += 2
            if end == start { continue }
            if bytes[start] == 0x20 || bytes[start] == 0x09 { return .failure(bad("obsolete header line folding")) }
            guard colon >= 0 else { return .failure(bad("header line without ':'")) }
            guard colon > start, (start..<colon).allSatisfy({ token[Int(bytes[$0])] }) else { return .failure(bad("invalid header name")) }
            var valueStart = colon + 1, valueEnd = end
            while valueStart < valueEnd && (bytes[valueStart] == 0x20 || bytes[valueStart] == 0x09) { valueStart += 1 }
            while valueEnd > valueStart && (bytes[valueEnd - 1] == 0x20 || bytes[valueEnd - 1] == 0x09) { valueEnd -= 1 }
            if control {
                for j in valueStart..<valueEnd {
                    let b = bytes[j]
                    guard b == 0x09 || (b >= 0x20 && b != 0x7F) else { return .failure(bad("invalid character in header value")) }
                }
            }
            headers.add(text(start..<colon), text(valueStart..<valueEnd))
        }
        let method = text(methodRange), target = text(targetRange)

        let request = HTTPRequest(method: method, target: target, version: (1, minor), headers: headers)

        let transferEncodings = headers.all("Transfer-Encoding")
        let lengths = headers.all("Content-Length")
        if !transferEncodings.isEmpty {
            guard lengths.isEmpty else { return .failure(bad("both Content-Length and Transfer-Encoding")) }
            let codings = transferEncodings.flatMap { $0.split(separator: ",").map { $0.trimmingSpaces().lowercased() } }
            guard codings == ["chunked"] else {
                return .failure(HTTPParseError(status: 501, message: "unsupported transfer coding"))
            }
            return .success((request, .chunked))
        }
        if !lengths.isEmpty {
            let values = Set(lengths.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces() } })
            guard values.count == 1, let text = values.first, !text.isEmpty, text.count <= 18,
                text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let length = Int(text)
            else { return .failure(bad("invalid Content-Length")) }
            let limit = limits.spools(request.path) ? limits.maxSpoolBytes : limits.maxBodyBytes
            guard length <= limit else {
                return .failure(HTTPParseError(status: 413, message: "request body exceeds \(limit) bytes"))
            }
            return .success((request, length == 0 ? .none : .length(length)))
        }
        return .success((request, .none))
    }

    private func bad(_ message: String) -> HTTPParseError { HTTPParseError(status: 400, message: message) }

    private func findHeadEnd(_ buffer: [UInt8], from start: Int, scanFrom: Int) -> Int? {
        buffer.withUnsafeBufferPointer { b in
            var i = start + scanFrom
            let n = b.count
            while i + 3 < n {
                // jump to the next CR (memchr is vectorised); most bytes of a head are not one
                guard let base = b.baseAddress, let cr = memchr(base + i, 13, n - 3 - i) else { return nil }
                i = base.distance(to: cr.assumingMemoryBound(to: UInt8.self))
                if b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
                i += 1
            }
            return nil
        }
    }

    private func findCRLF(_ buffer: [UInt8], from start: Int) -> Int? {
        var i = start
        while i + 1 < buffer.count {
            if buffer[i] == 13 && buffer[i + 1] == 10 { return i }
            i += 1
        }
        return nil
    }

    /// Hex digits, optional `;extensions`; at most 15 digits so the size cannot overflow.
    private func parseChunkSize(_ line: ArraySlice<UInt8>) -> Int? {
        var digits = line
        if let semi = line.firstIndex(of: UInt8(ascii: ";")) { digits = line[line.startIndex..<semi] }
        while let l = digits.last, l == 0x20 || l == 0x09 { digits = digits.dropLast() }
        guard !digits.isEmpty, digits.count <= 15 else { return nil }
        var value = 0
        for b in digits {
            let d: Int
            switch b {
            case 0x30...0x39: d = Int(b - 0x30)
            case 0x41...0x46: d = Int(b - 0x41 + 10)
            case 0x61...0x66: d = Int(b - 0x61 + 10)
            default: return nil
            }
            value = value * 16 + d
        }
        return value
    }
}

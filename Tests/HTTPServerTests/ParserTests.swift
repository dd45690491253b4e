import Testing

@testable import HTTPServer

@Suite struct ParserTests {
    func parseAll(_ text: String, limits: HTTPParserLimits = HTTPParserLimits(), chunk: Int = .max) -> [HTTPParseResult] {
        var parser = HTTPRequestParser(limits: limits)
        var buffer: [UInt8] = []
        var start = 0
        var results: [HTTPParseResult] = []
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + chunk)
            buffer.append(contentsOf: bytes[offset..<end])
            offset = end
            loop: while true {
                let r = parser.parse(buffer, start: &start)
                switch r {
                case .needMore: break loop
                case .error:
                    results.append(r)
                    return results
                default: results.append(r)
                }
            }
        }
        return results
    }

    func requests(_ results: [HTTPParseResult]) -> [HTTPRequest] {
        results.compactMap { if case .request(let r) = $0 { return r } else { return nil } }
    }

    func error(_ results: [HTTPParseResult]) -> HTTPParseError? {
        for r in results { if case .error(let e) = r { return e } }
        return nil
    }

    @Test func pipelinedRequestsInAnyChunking() {
        let text =
            "GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloPUT /c HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n"
        for chunk in [1, 2, 7, 64, .max] {
            let got = requests(parseAll(text, chunk: chunk))
            #expect(got.map(\.method) == ["GET", "POST", "PUT"], "chunk \(chunk)")
            #expect(got.map(\.path) == ["/a", "/b", "/c"])
            #expect(got[0].query == "x=1")
            #expect(got[1].body == Array("hello".utf8))
            #expect(got[2].body == Array("abcde".utf8))
            #expect(got[2].keepAlive == false)
            #expect(got[0].keepAlive)
        }
    }

    @Test func expectContinueIsAnnouncedOnce() {
        let results = parseAll("PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n") + []
        #expect(results.contains { if case .expectContinue = $0 { true } else { false } })
    }

    @Test(arguments: [
        ("GET /x HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400),
        ("GET /x HTTP/1.1\r\nBad Name: v\r\n\r\n", 400),
        ("GET /x HTTP/1.1\r\n folded\r\n\r\n", 400),
        ("GET  /x HTTP/1.1\r\n\r\n", 400),
        ("GET /x HTTP/2.0\r\n\r\n", 505),
        ("G@T /x HTTP/1.1\r\n\r\n", 400),
        ("GET x HTTP/1.1\r\n\r\n", 400),
        ("GET /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        ("GET /x HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        ("GET /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        ("POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        ("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", 400),
        ("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", 400),
        ("GET /x HTTP/1.1\r\nX: a\u{0}b\r\n\r\n", 400),
        ("GET /x HTTP/1.1\r\nX: a\u{1}b\r\n\r\n", 400),
        ("GET /x HTTP/1.1\r\nX: a\u{7F}b\r\n\r\n", 400),
        ("GET /x HTTP/1.1\r\nX: a\nY: b\r\n\r\n", 400),
        ("GET /x HTTP/1.1\r\nX\u{1}: a\r\n\r\n", 400),
        ("GET /x HTTP/1.1\r\nNoColon\r\n\r\n", 400),
    ])
    func rejectsBadFraming(_ text: String, _ status: Int) {
        #expect(error(parseAll(text))?.status == status, "\(text.debugDescription)")
    }

    @Test func headLimitIs431AndBodyLimitIs413() {
        let huge = "GET /x HTTP/1.1\r\nX: " + String(repeating: "a", count: 70_000) + "\r\n\r\n"
        #expect(error(parseAll(huge))?.status == 431)
        let noEnd = "GET /" + String(repeating: "a", count: 70_000)
        #expect(error(parseAll(noEnd, chunk: 4096))?.status == 431)
        let limits = HTTPParserLimits(maxHeaderBytes: 65536, maxBodyBytes: 10)
        #expect(error(parseAll("POST /x HTTP/1.1\r\nContent-Length: 11\r\n\r\n", limits: limits))?.status == 413)
        #expect(error(parseAll("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\n", limits: limits))?.status == 413)
    }

    /// Values are found by their line's CR and checked for control bytes in bulk: what a browser or
    /// a client sends (tabs, UTF-8, a long cookie, colons in the value) comes through unchanged.
    @Test func headerValuesKeepTabsUTF8AndColons() {
        let cookie = "PVEAuthCookie=" + String(repeating: "A%3A", count: 100) + "; other=1"
        let r = requests(parseAll("GET / HTTP/1.1\r\nX-Tab: \ta\tb\t\r\nX-UTF8: grüße\r\nCookie: \(cookie)\r\nX-Time: 12:30:01\r\n\r\n"))[0]
        #expect(r.headers["X-Tab"] == "a\tb")
        #expect(r.headers["X-UTF8"] == "grüße")
        #expect(r.headers["Cookie"] == cookie)
        #expect(r.headers["X-Time"] == "12:30:01")
    }

    @Test func headersAreCaseInsensitiveAndTokenized() {
        let r = requests(parseAll("GET / HTTP/1.1\r\nACCEPT-encoding: br, GZIP;q=1\r\nconnection: Close\r\n\r\n"))[0]
        #expect(r.acceptsGzip)
        #expect(!r.keepAlive)
        #expect(r.headers["accept-ENCODING"] == "br, GZIP;q=1")
    }
}

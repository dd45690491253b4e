import API
import Foundation
import HTTPServer
import Schema

/// The HTTP edge of the API: maps requests under `/api2/json` and `/api2/extjs` to dispatcher calls
/// and outcomes back to responses; serves the OpenAPI document and the web console's files.
struct APIResponder: HTTPResponder {
    let dispatcher: Dispatcher
    let staticFiles: StaticFiles?
    let openAPI: OnDemandDocument
    /// PVE's API-viewer data (`/pve-docs/api-viewer/apidoc.js`), from the same declarations.
    var apiDoc = OnDemandDocument { [] }
    /// Debian's packaged browser libraries the console uses, by URL prefix (`/novnc/` → /usr/share/novnc).
    var libraries: [(prefix: String, files: StaticFiles)] = []
    /// Where spooled uploads and their extracted files live.
    var spoolDirectory = "/var/tmp"

    private static let formats: [(String, ResponseFormat)] = [("/api2/json", .json), ("/api2/extjs", .extjs)]

    func respond(to request: HTTPRequest, writer: ResponseWriter) {
        let path = request.path
        if path == "/api2/openapi.json" {
            send(openAPI, type: "application/json;charset=UTF-8", writer)
            return
        }
        if path == "/pve-docs/api-viewer/apidoc.js" {
            send(apiDoc, type: "application/javascript;charset=UTF-8", writer)
            return
        }
        if path == "/api2/prometheus/metrics" {
            prometheus(request, writer)
            return
        }
        if path.hasPrefix("/api2/png/") {
            png(request, Substring(path.dropFirst("/api2/png".count)), writer)
            return
        }
        for (prefix, format) in Self.formats {
            if path.hasPrefix(prefix) && (path.utf8.count == prefix.utf8.count || path.utf8.dropFirst(prefix.utf8.count).first == UInt8(ascii: "/")) {
                api(request, Substring(path.utf8.dropFirst(prefix.utf8.count)), format, writer)
                return
            }
        }
        if request.method == "GET" || request.method == "HEAD",
            let library = libraries.first(where: { path.hasPrefix($0.prefix) }),
            let decoded = RequestDecoding.percentDecode(Substring(path.dropFirst(library.prefix.count - 1)), plusIsSpace: false),
            let response = library.files.response(for: decoded, request: request)
        {
            writer.send(response)
            return
        }
        if request.method == "GET" || request.method == "HEAD", let files = staticFiles,
            let decoded = RequestDecoding.percentDecode(Substring(path), plusIsSpace: false),
            let response = files.response(for: decoded == "/" ? "/index.html" : decoded, request: request)
        {
            writer.send(response)
            return
        }
        let outcome = APIOutcome(.failure(APIError(404, "Not Found: \(path.prefix(200))")))
        writer.send(render(outcome, .json))
    }

    private func send(_ document: OnDemandDocument, type: String, _ writer: ResponseWriter) {
        let answer = { (body: [UInt8]) in HTTPResponse(status: 200, headers: HTTPHeaders([("Content-Type", type)]), body: body) }
        if let ready = document.ready {
            writer.send(answer(ready))
            return
        }
        Task { writer.send(answer(await document.bytes)) }
    }

    private func api(_ request: HTTPRequest, _ subpath: Substring, _ format: ResponseFormat, _ writer: ResponseWriter) {
        let call: APICall
        do {
            call = try makeCall(request, subpath)
        } catch {
            if let spooled = request.bodyFile { unlink(spooled) }
            writer.send(render(APIOutcome(.failure(error)), format))
            return
        }
        // an upload's spooled body and extracted file go once the call is done (the handler moved what it keeps)
        let upload = call.parameters.isEmpty ? nil : call.parameters["tmpfilename"].flatMap { if case .text(let t) = $0 { t } else { nil } }
        let spooled = request.bodyFile
        switch dispatcher.dispatch(call) {
        case .done(let outcome):
            Self.remove(spooled, upload)
            writer.send(render(outcome, format))
        case .pending(let run):
            Task {
                let outcome = await run()
                Self.remove(spooled, upload)
                writer.send(render(outcome, format))
            }
        case .tunnel(let context, let open):
            guard writer.isWebSocketRequest else {
                writer.send(render(APIOutcome(.failure(APIError(400, "this endpoint needs a WebSocket upgrade")), user: context.user), format))
                return
            }
            do {
                writer.upgradeToWebSocket(TunnelBridge(far: try open(context)))
            } catch {
                writer.send(render(APIOutcome(.failure(APIError.from(error)), user: context.user), format))
            }
        case .stream(let context, let body):
            if writer.isWebSocketRequest {
                let sink = WebSocketEventSink()
                writer.upgradeToWebSocket(sink)
                body(context, sink)
            } else {
                let sink = ServerSentEventSink(lastEventID: writer.requestHeader("Last-Event-ID"))
                var head = HTTPResponse(status: 200, headers: HTTPHeaders([("Content-Type", "text/event-stream;charset=UTF-8")]))
                head.logUser = context.user
                sink.attach(writer.startStream(head) { sink.closeSignal.fire() })
                body(context, sink)
            }
        }
    }

    private static func remove(_ spooled: String?, _ upload: String?) {
        if let spooled { unlink(spooled) }
        if let upload { unlink(upload) }
    }

    /// PVE's `/api2/png/…`: an `rrd` call whose answer names the PNG it drew; the image is the
    /// response, and the file goes once sent. Only `…/rrd` answers are sent this way.
    private func png(_ request: HTTPRequest, _ subpath: Substring, _ writer: ResponseWriter) {
        let call: APICall
        do {
            call = try makeCall(request, subpath)
            guard call.segments.last == "rrd" else { throw APIError(400, "only the rrd methods answer as PNG images") }
        } catch {
            writer.send(render(APIOutcome(.failure(APIError.from(error))), .json))
            return
        }
        let send: @Sendable (APIOutcome) -> Void = { outcome in
            guard case .success(let data) = outcome.result, let file = data["filename"]?.stringValue, file.hasSuffix(".png") else {
                writer.send(render(outcome, .json))
                return
            }
            let image = FileManager.default.contents(atPath: file)
            unlink(file)
            guard let image else {
                writer.send(render(APIOutcome(.failure(APIError(500, "the graph is gone")), user: outcome.user), .json))
                return
            }
            var response = HTTPResponse(
                status: 200, headers: HTTPHeaders([("Content-Type", "image/png"), ("Cache-Control", "max-age=0")]), body: [UInt8](image))
            response.logUser = outcome.user
            writer.send(response)
        }
        outcome(of: call, otherwise: APIError(400, "this method has no PNG answer"), send)
    }

    /// A call whose answer is one outcome (not a stream or a tunnel), handed to `send` when known.
    private func outcome(of call: APICall, otherwise: APIError, _ send: @escaping @Sendable (APIOutcome) -> Void) {
        switch dispatcher.dispatch(call) {
        case .done(let outcome): send(outcome)
        case .pending(let run): Task { send(await run()) }
        default: send(APIOutcome(.failure(otherwise)))
        }
    }

    /// Prometheus' scrape URL: `/cluster/metrics/prometheus` with the caller's credentials (an API
    /// token, as PVE takes it, `PVEAPIToken=…` or Prometheus' `PVEAPIToken …`), its text as the body.
    private func prometheus(_ request: HTTPRequest, _ writer: ResponseWriter) {
        var call: APICall
        do { call = try makeCall(request, "/cluster/metrics/prometheus") } catch {
            writer.send(render(APIOutcome(.failure(error)), .json))
            return
        }
        call.parameters = [:]
        let send: @Sendable (APIOutcome) -> Void = { outcome in
            var response: HTTPResponse
            switch outcome.result {
            case .success(let data):
                response = HTTPResponse(
                    status: 200, headers: HTTPHeaders([("Content-Type", "text/plain; version=0.0.4; charset=utf-8")]),
                    body: Array((data.stringValue ?? "").utf8))
            case .failure(let error):
                response = HTTPResponse(
                    status: error.status, reason: error.message,
                    headers: HTTPHeaders([("Content-Type", "text/plain; charset=utf-8")]), body: Array((error.message + "\n").utf8))
            }
            response.logUser = outcome.user
            writer.send(response)
        }
        outcome(of: call, otherwise: APIError(500, "unexpected answer"), send)
    }

    private func makeCall(_ request: HTTPRequest, _ subpath: Substring) throws(APIError) -> APICall {
        let method = request.method == "HEAD" ? "GET" : request.method
        switch method {
        case "GET", "POST", "PUT", "DELETE": break
        default:
            throw APIError.notImplemented(request.method, String(subpath))
        }
        var parameters: [String: RawParameter] = [:]
        try RequestDecoding.form(request.query, into: &parameters)
        // only the server names an upload's temporary file
        if !parameters.isEmpty { parameters["tmpfilename"] = nil }
        if let spooled = request.bodyFile, request.headers["Content-Type"]?.lowercased().hasPrefix("multipart/form-data") == true {
            try multipart(request, spooled: spooled, into: &parameters)
        } else if !request.body.isEmpty {
            let type = request.headers["Content-Type"]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            switch type {
            case "application/json": try RequestDecoding.json(request.body, into: &parameters)
            case "multipart/form-data": try multipart(request, into: &parameters)
            case "application/x-www-form-urlencoded", "":
                guard let text = String(validating: request.body, as: UTF8.self) else {
                    throw APIError(400, "request body is not valid UTF-8")
                }
                try RequestDecoding.form(text, into: &parameters)
            default:
                throw APIError(415, "unsupported content type '\(type)'")
            }
        }
        var credentials = Credentials(
            ticketCookie: RequestDecoding.cookie("PVEAuthCookie", in: request.headers), authorization: request.headers["Authorization"],
            csrfToken: request.headers["CSRFPreventionToken"], remoteAddress: request.remoteAddress)
        credentials.proxiedUser = request.headers[ProxyHeaders.user]
        credentials.proxyProof = request.headers[ProxyHeaders.proof]
        return APICall(method: method, segments: try RequestDecoding.pathSegments(subpath), parameters: parameters, credentials: credentials)
    }

    /// A multipart upload: fields become parameters, the file part becomes `tmpfilename` (PVE's way).
    private func multipart(_ request: HTTPRequest, spooled: String? = nil, into parameters: inout [String: RawParameter]) throws(APIError) {
        guard let boundary = MultipartForm.boundary(of: request.headers["Content-Type"] ?? "") else {
            throw APIError(400, "multipart body without a boundary")
        }
        var path = spooled
        if path == nil {
            // a small multipart body that arrived in memory goes through the same parser
            let temp = spoolDirectory + "/corral-upload-\(UUID().uuidString)"
            guard FileManager.default.createFile(atPath: temp, contents: Data(request.body)) else {
                throw APIError(500, "cannot write the upload to \(spoolDirectory)")
            }
            path = temp
        }
        defer { if spooled == nil, let path { unlink(path) } }
        do {
            let form = try MultipartForm.parse(path: path!, boundary: boundary, fileDirectory: spoolDirectory)
            for (key, value) in form.fields where key != "tmpfilename" { parameters[key] = .text(value) }
            if let file = form.filePath { parameters["tmpfilename"] = .text(file) }
        } catch {
            throw APIError(400, "\(error)")
        }
    }

    private func render(_ outcome: APIOutcome, _ format: ResponseFormat) -> HTTPResponse {
        let (status, reason, body) = format.render(outcome)
        var response = HTTPResponse(status: status, reason: reason, headers: Self.jsonHeaders, body: body)
        response.logUser = outcome.user
        return response
    }

    /// Every API answer's headers, made once (a copy is a reference).
    private static let jsonHeaders = HTTPHeaders([("Content-Type", "application/json;charset=UTF-8"), ("Cache-Control", "max-age=0")])
}

import API
import Foundation
import Glibc
import Schema
import Tasks

/// Fetching ISO images, container templates and importable disk images from a URL into a storage
/// (PVE's `download-url`), and a URL's file name, size and type beforehand (`query-url-metadata`).
/// curl does the transfer; a download that fails or whose checksum is wrong leaves nothing behind.
enum DownloadEndpoints {
    static let network: Permission = .or([
        .privileges(path: "/", ["Sys.Audit", "Sys.Modify"]), .privileges(path: "/nodes/{node}", ["Sys.AccessNetwork"]),
    ])

    static let decompressors = ["gz": ["gzip", "-dc"], "lzo": ["lzop", "-dc"], "zst": ["zstd", "-dcq"], "bz2": ["bzip2", "-dc"]]

    static func all(storage: Storage) -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /nodes/{node}/query-url-metadata",
                description: "The file name, size and MIME type a URL would download as (from the server's answer headers).",
                returns: .object(["filename": .string().optional(), "mimetype": .string().optional(), "size": .integer().optional()]),
                permission: network,
                handler: .blocking { context in
                    let url = try context.require("url")
                    return try metadata(url, verify: context.bool("verify-certificates") ?? true)
                }),
            Endpoint(
                pve: "POST /nodes/{node}/storage/{storage}/download-url",
                description:
                    "Downloads a file into the storage as an ISO image, container template or importable image, checking its checksum and unpacking `compression` first.",
                returns: .string(), permission: .and([.privileges(path: "/storage/{storage}", ["Datastore.AllocateTemplate"]), network]),
                handler: .blocking { context in try download(storage, context) }),
        ]
    }

    static func curlArguments(verify: Bool) -> [String] {
        ["curl", "--silent", "--show-error", "--fail", "--location", "--proto", "=http,https", "--proto-redir", "=http,https"]
            + (verify ? [] : ["--insecure"])
    }

    static func metadata(_ url: String, verify: Bool) throws -> JSON {
        let result: (status: Int32, stdout: String, stderr: String)
        do { result = try Command.execute(curlArguments(verify: verify) + ["--head", "--max-time", "30", url]) } catch {
            throw APIError(500, "curl is not installed on this node")
        }
        guard result.status == 0 else {
            throw APIError(500, "cannot query '\(url)': \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        // with redirects, the last answer's headers count
        let last = result.stdout.components(separatedBy: "\r\n\r\n").filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }.last ?? ""
        var headers: [String: String] = [:]
        for line in last.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var out: [String: JSON] = [:]
        if let length = headers["content-length"].flatMap({ Int($0) }) { out["size"] = .int(Int64(length)) }
        if let type = headers["content-type"] { out["mimetype"] = .string(type.split(separator: ";").first.map(String.init) ?? type) }
        var filename = (URL(string: url)?.lastPathComponent).flatMap { $0.isEmpty || $0 == "/" ? nil : $0 }
        if let disposition = headers["content-disposition"], let range = disposition.range(of: "filename=") {
            filename = disposition[range.upperBound...].split(separator: ";").first.map {
                $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
            }
        }
        if let filename, !filename.isEmpty { out["filename"] = .string(filename) }
        return .object(out)
    }

    static func download(_ storage: Storage, _ context: RequestContext) throws -> JSON {
        let id = try context.require("storage"), content = try context.require("content"), url = try context.require("url")
        var requested = try context.require("filename")
        let compression = context.string("compression")
        if let compression {
            guard content == "iso", decompressors[compression] != nil else {
                throw APIError.parameters(["compression": "only ISO images are unpacked, from \(decompressors.keys.sorted().joined(separator: ", "))"]
                )
            }
            // the name is the unpacked file's
            if requested.hasSuffix(".\(compression)") { requested = String(requested.dropLast(compression.count + 1)) }
        }
        let name = requested
        var wanted: (algorithm: String, value: String)?
        if let sum = context.string("checksum") {
            wanted = (context.string("checksum-algorithm") ?? "sha256", sum.lowercased().trimmingCharacters(in: .whitespaces))
        } else if context.string("checksum-algorithm") != nil {
            throw APIError.parameters(["checksum": "needed with 'checksum-algorithm'"])
        }
        let target = try StorageEndpoints.fileTarget(storage, id: id, content: content, name: name)
        let verify = context.bool("verify-certificates") ?? true
        let checksum = wanted
        let upid = try context.services.tasks.start(type: "download", id: id, user: context.user) { log in
            let directory = (target as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            // hidden while incomplete: a listing never shows half a file
            let partial = directory + "/.\(name).download-\(getpid())"
            defer { unlink(partial) }
            log.log("downloading \(url) to \(id):\(content)/\(name)")
            let fetched = try Command.execute(curlArguments(verify: verify) + ["--output", partial, url])
            guard fetched.status == 0 else {
                throw StorageError(500, "download failed: \(fetched.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            var st = stat()
            stat(partial, &st)
            log.log("downloaded \(st.st_size) bytes")
            if let (algorithm, expected) = checksum {
                let out = try Command.run(["\(algorithm)sum", partial])
                let actual = out.split(separator: " ").first.map(String.init) ?? ""
                guard actual == expected else { throw StorageError(400, "checksum mismatch: got '\(actual)', expected '\(expected)'") }
                log.log("\(algorithm) checksum verified")
            }
            if let compression, let tool = decompressors[compression] {
                let unpacked = partial + ".unpacked"
                defer { unlink(unpacked) }
                let result = try Command.execute(["sh", "-c", "\"$@\" > \"$0\"", unpacked] + tool + [partial])
                guard result.status == 0 else { throw StorageError(500, "cannot unpack (\(compression)): \(result.stderr)") }
                guard rename(unpacked, partial) == 0 else { throw StorageError(500, "cannot keep the unpacked file") }
                log.log("unpacked (\(compression))")
            }
            guard !FileManager.default.fileExists(atPath: target), rename(partial, target) == 0 else {
                throw StorageError(500, "cannot store \(target): it exists or cannot be written")
            }
            log.log("stored \(id):\(content)/\(name)")
        }
        return .string(upid.description)
    }
}

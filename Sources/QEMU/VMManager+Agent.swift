import API
import Foundation
import Guests
import Libvirt
import Schema

/// The QEMU guest agent, through libvirt's agent channel (`agent: 1` puts a virtio-serial port named
/// `org.qemu.guest_agent.0` in the domain). Every call checks what PVE checks first, in its words:
/// the option is on, the VM runs, the agent answers.
extension VMManager {
    /// Seconds an agent command may take: freezing waits for the guest to flush every file system,
    /// trimming walks them all; everything else is a quick question.
    static func agentTimeout(_ command: String) -> Int32 {
        switch command {
        case "guest-fsfreeze-freeze", "guest-fsfreeze-freeze-list": return 3600
        case "guest-fstrim": return 600
        default: return 10
        }
    }

    /// Commands the agent never answers when they succeed (the guest goes away).
    static let agentCommandsWithoutReply: Set<String> = ["guest-shutdown", "guest-suspend-disk", "guest-suspend-ram", "guest-suspend-hybrid"]

    func agentEnabled(_ config: GuestConfig) -> Bool { VMConfig(config.current).properties("agent")["enabled"]?.boolValue == true }

    /// The running domain of a VM whose agent is configured, or PVE's error.
    func agentDomain(_ vmid: Int) throws -> LibvirtDomain {
        let (config, _) = try load(vmid)
        guard agentEnabled(config) else { throw QEMUError(500, "No QEMU guest agent configured") }
        guard isRunning(vmid), let domain = try domain(vmid) else { throw QEMUError(500, "VM \(vmid) is not running") }
        return domain
    }

    /// Runs one agent command and returns its `return` value. Blocks up to the command's timeout:
    /// call it from the blocking executor.
    public func agent(_ vmid: Int, _ command: String, _ arguments: [String: JSON] = [:], timeout: Int32? = nil) throws -> JSON {
        let domain = try agentDomain(vmid)
        return try agent(domain, command, arguments, timeout: timeout)
    }

    func agent(_ domain: LibvirtDomain, _ command: String, _ arguments: [String: JSON] = [:], timeout: Int32? = nil) throws -> JSON {
        var request: [String: JSON] = ["execute": .string(command)]
        if !arguments.isEmpty { request["arguments"] = .object(arguments) }
        if Self.agentCommandsWithoutReply.contains(command) {
            // make sure someone listens, then send without waiting for the answer that never comes
            _ = try agent(domain, "guest-ping")
            do {
                _ = try domain.agentCommand(JSON.object(request).jsonString, timeout: 2)
            } catch {
                if !error.isAgentUnresponsive { throw Self.agentFailure(error) }
            }
            return .object([:])
        }
        let text: String
        do {
            text = try domain.agentCommand(JSON.object(request).jsonString, timeout: timeout ?? Self.agentTimeout(command))
        } catch {
            throw Self.agentFailure(error)
        }
        guard let reply = try? JSONParser.parse(text) else { throw QEMUError(500, "Agent error: unreadable answer to \(command)") }
        if let error = reply["error"] {
            throw QEMUError(500, "Agent error: \(error["desc"]?.stringValue ?? error.jsonString)")
        }
        return reply["return"] ?? .null
    }

    static func agentFailure(_ error: LibvirtError) -> QEMUError {
        if error.isAgentUnresponsive || error.message.contains("not connected") || error.message.contains("not configured") {
            return QEMUError(500, "QEMU guest agent is not running")
        }
        // libvirt words an agent-side error as "internal error: unable to execute QEMU agent command 'x': <desc>"
        let message = error.message.components(separatedBy: "': ").dropFirst().joined(separator: "': ")
        return QEMUError(500, "Agent error: \(message.isEmpty ? error.message : message)")
    }

    /// Whether the agent answers a ping now (for shutdown and snapshot decisions, never an error).
    public func agentResponds(_ vmid: Int) -> Bool {
        guard let domain = try? agentDomain(vmid) else { return false }
        return (try? agent(domain, "guest-ping", timeout: 3)) != nil
    }

    // MARK: commands with arguments (PVE's shapes)

    /// `guest-exec` with the output captured; stdin from `input`.
    public func agentExec(_ vmid: Int, command: [String], input: String?) throws -> JSON {
        guard let path = command.first, !path.isEmpty else { throw QEMUError(400, "no command given") }
        var arguments: [String: JSON] = [
            "path": .string(path), "arg": .array(command.dropFirst().map { .string($0) }), "capture-output": .bool(true),
        ]
        if let input { arguments["input-data"] = .string(Data(input.utf8).base64EncodedString()) }
        return try agent(vmid, "guest-exec", arguments)
    }

    /// `guest-exec-status`, with the captured output decoded to text as PVE answers it.
    public func agentExecStatus(_ vmid: Int, pid: Int64) throws -> JSON {
        guard case .object(var status) = try agent(vmid, "guest-exec-status", ["pid": .int(pid)]) else {
            throw QEMUError(500, "Agent error: unexpected answer to guest-exec-status")
        }
        for key in ["out-data", "err-data"] {
            if let encoded = status[key]?.stringValue, let data = Data(base64Encoded: encoded) {
                status[key] = .string(String(decoding: data, as: UTF8.self))
            }
        }
        return .object(status)
    }

    /// Reads up to `count` bytes of a guest file in 1 MiB pieces; `truncated` when more was left.
    public func agentFileRead(_ vmid: Int, file: String, offset: Int64, count: Int64, decode: Bool) throws -> JSON {
        let domain = try agentDomain(vmid)
        guard let handle = try agent(domain, "guest-file-open", ["path": .string(file), "mode": "r"]).intValue else {
            throw QEMUError(500, "Agent error: no file handle for \(file)")
        }
        defer { _ = try? agent(domain, "guest-file-close", ["handle": .int(handle)]) }
        if offset > 0 { _ = try agent(domain, "guest-file-seek", ["handle": .int(handle), "offset": .int(offset), "whence": "set"]) }
        var content = Data(), eof = false
        while !eof && Int64(content.count) < count {
            let piece = min(count - Int64(content.count), 1 << 20)
            let read = try agent(domain, "guest-file-read", ["handle": .int(handle), "count": .int(piece)])
            if let encoded = read["buf-b64"]?.stringValue, let data = Data(base64Encoded: encoded) { content.append(data) }
            eof = read["eof"]?.boolValue ?? true || (read["count"]?.intValue ?? 0) == 0
        }
        var out: [String: JSON] = ["content": .string(decode ? String(decoding: content, as: UTF8.self) : content.base64EncodedString())]
        if !eof { out["truncated"] = .bool(true) }
        return .object(out)
    }

    /// Writes (replaces) a guest file; `content` is base64 already unless `encode`.
    public func agentFileWrite(_ vmid: Int, file: String, content: String, encode: Bool) throws {
        let encoded = encode ? Data(content.utf8).base64EncodedString() : content
        guard Data(base64Encoded: encoded) != nil else { throw APIError.parameters(["content": "not valid base64 (encode=0)"]) }
        let domain = try agentDomain(vmid)
        guard let handle = try agent(domain, "guest-file-open", ["path": .string(file), "mode": "wb"]).intValue else {
            throw QEMUError(500, "Agent error: no file handle for \(file)")
        }
        defer { _ = try? agent(domain, "guest-file-close", ["handle": .int(handle)]) }
        _ = try agent(domain, "guest-file-write", ["handle": .int(handle), "buf-b64": .string(encoded)])
    }

    /// Freezes the guest's file systems for a snapshot when the agent runs; returns whether to thaw.
    public func freezeGuestFileSystems(_ vmid: Int, log: @escaping @Sendable (String) -> Void) -> Bool {
        guard let domain = try? agentDomain(vmid), (try? agent(domain, "guest-ping", timeout: 3)) != nil else { return false }
        do {
            let frozen = try agent(domain, "guest-fsfreeze-freeze")
            log("guest agent: \(frozen.intValue.map { "\($0) file system(s)" } ?? "file systems") frozen")
            return true
        } catch {
            log("guest agent: fsfreeze-freeze failed (\(error)); snapshot without it")
            // a partial freeze must not stay behind
            _ = try? agent(domain, "guest-fsfreeze-thaw")
            return false
        }
    }

    public func thawGuestFileSystems(_ vmid: Int, log: @escaping @Sendable (String) -> Void) {
        do {
            _ = try agent(vmid, "guest-fsfreeze-thaw")
            log("guest agent: file systems thawed")
        } catch {
            log("guest agent: fsfreeze-thaw failed: \(error)")
        }
    }
}

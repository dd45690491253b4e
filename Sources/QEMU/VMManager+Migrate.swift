import API
import Blocking
import ClusterFS
import Foundation
import Guests
import Libvirt
import Schema
import Storage
import Synchronization

/// Live migration of a running VM: libvirt's peer-to-peer migration, its three channels (libvirt's
/// control connection, QEMU's memory stream, the NBD stream of disks copied on the way) carried
/// through the cluster's TLS by `MigrationRelay` and the target's `migrate-tunnel`. The VM
/// arrives paused; its config moves to the target with one rename, and only then does it resume
/// there, so the VM runs on exactly the node whose directory holds its config. A failed migration
/// leaves it running here with its config, and removes what the target got.
extension VMManager {
    public func migrateRunning(
        _ vmid: Int, target: String, copies: [VolumeCopy], bwlimit: Int?, call: @escaping @Sendable (APICall) async throws -> JSON,
        tunnel: @escaping @Sendable (APICall) throws -> any ByteTunnel, log: @escaping @Sendable (String) -> Void
    ) async throws {
        let began = Date()
        let (before, _) = try load(vmid)
        let domain = try runningDomain(vmid)
        var sourceXML = try domain.migratableXML()

        // the target's volumes for disks that are copied on the way: allocated empty, same size and format
        var allocated: [String: String] = [:]  // config key → new volid
        func removeAllocated() async {
            for volid in allocated.values {
                guard let id = VolumeID(volid) else { continue }
                let delete = APICall(method: "DELETE", segments: ["nodes", target, "storage", id.storage, "content", volid])
                if (try? await call(delete)) == nil { log("WARN: could not remove \(volid) from node '\(target)'") }
            }
        }
        do {
            for copy in copies {
                guard let id = VolumeID(copy.volid) else { continue }
                let bytes = try storage.plugin(id.storage).size(id.name)
                let file = String(id.name.split(separator: "/").last ?? Substring(id.name))
                let format = file.hasSuffix(".qcow2") ? "qcow2" : "raw"
                let created = try await call(
                    APICall(
                        method: "POST", segments: ["nodes", target, "storage", copy.targetStorage, "content"],
                        parameters: [
                            "vmid": .text("\(vmid)"), "filename": .text(file), "size": .text("\(max(1, (bytes + 1023) / 1024))"),
                            "format": .text(format),
                        ]))
                guard let volid = created.stringValue else { throw QEMUError(500, "node '\(target)' did not allocate a volume for \(copy.volid)") }
                allocated[copy.key] = volid
                log("allocated \(volid) on node '\(target)' for \(copy.key) (\(bytes / 1_048_576) MiB)")
            }
        } catch {
            await removeAllocated()
            throw error
        }

        // the domain as the target runs it: its name, its run and log directories, the copies' paths
        let facts = try await call(
            APICall(
                method: "GET", segments: ["nodes", target, "qemu", "\(vmid)", "migrate-target"],
                parameters: allocated.isEmpty ? [:] : ["volumes": .text(allocated.values.sorted().joined(separator: ","))]))
        guard let targetName = facts["domain"]?.stringValue, let targetRun = facts["run"]?.stringValue, let targetLog = facts["log"]?.stringValue
        else {
            await removeAllocated()
            throw QEMUError(500, "node '\(target)' cannot take VM \(vmid)")
        }
        var copiedTargets: [String] = []
        for copy in copies {
            guard let volid = allocated[copy.key], let path = facts["paths"]?[volid]?.stringValue else { continue }
            let old = try storage.path(copy.volid)
            if let dev = Self.diskTarget(in: sourceXML, path: old) { copiedTargets.append(dev) }
            sourceXML = sourceXML.replacingOccurrences(of: "'\(old)'", with: "'\(path)'")
        }
        // the name stays the source's in the XML (libvirt checks it): DEST_NAME renames it there
        let destinationXML =
            sourceXML
            .replacingOccurrences(of: "'\(runDirectory)/", with: "'\(targetRun)/")
            .replacingOccurrences(of: "'\(logDirectory)/", with: "'\(targetLog)/")

        // the channels: libvirt's control connection on a unix socket, QEMU's streams on loopback ports
        // a loopback listener's tunnel names its port: the incoming QEMU listens on the same one there
        func relay(_ listen: MigrationRelay.Listen, to: String? = nil) throws -> MigrationRelay {
            try MigrationRelay(
                listen,
                open: { port in
                    try tunnel(
                        APICall(
                            method: "GET", segments: ["nodes", target, "qemu", "\(vmid)", "migrate-tunnel"],
                            parameters: ["to": .text(to ?? "\(port)")]))
                },
                log: log)
        }
        var relays: [MigrationRelay] = []
        defer { relays.forEach { $0.stop() } }
        let control = runDirectory + "/migrate-\(vmid).sock"
        do {
            relays.append(try relay(.unix(control), to: "libvirt"))
        } catch {
            await removeAllocated()
            throw error
        }
        var migration = LibvirtMigration(destinationURI: "qemu+unix:///system?socket=\(control)")
        do {
            let memory = try relay(.loopbackTCP)
            relays.append(memory)
            migration.migrationURI = "tcp://127.0.0.1:\(memory.port)"
            migration.listenAddress = "127.0.0.1"
            if !copiedTargets.isEmpty {
                let disks = try relay(.loopbackTCP)
                relays.append(disks)
                migration.disks = copiedTargets
                migration.disksURI = "tcp://127.0.0.1:\(disks.port)"
            }
        } catch {
            await removeAllocated()
            throw error
        }
        migration.destinationName = targetName
        migration.destinationXML = destinationXML
        migration.paused = true
        // every disk not copied is on a storage the cluster shares (the precondition check)
        migration.unsafe = true
        if let bwlimit { migration.bandwidth = UInt64(max(1, bwlimit / 1024)) }

        _ = try modify(vmid) { $0.current["lock"] = "migrate" }
        log(
            "starting online migration of VM \(vmid) to node '\(target)' through the cluster's TLS"
                + (copiedTargets.isEmpty ? "" : " (copying \(copiedTargets.joined(separator: ", ")) on the way)")
                + (bwlimit.map { ", limited to \($0) KiB/s" } ?? ""))
        // the progress every second, and the moment the source stops the vCPUs (the downtime's start)
        let pausedAt = Mutex<Date?>(nil)
        let wasPaused = (try? domain.state().state) == .paused
        let progress = Task {
            var last = 0.0, round = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(50))
                round += 1
                if !wasPaused, pausedAt.withLock({ $0 }) == nil, (try? domain.state().state) == .paused { pausedAt.withLock { $0 = Date() } }
                guard round % 20 == 0, let job = domain.jobProgress(), job.dataTotal > 0 else { continue }
                let done = Double(job.dataProcessed) / Double(job.dataTotal) * 100
                if done - last >= 1 || job.dataRemaining == 0 {
                    last = done
                    log(
                        String(
                            format: "migration active: %.0f%% (%llu of %llu MiB), %llu MiB left", done, job.dataProcessed >> 20, job.dataTotal >> 20,
                            job.dataRemaining >> 20))
                }
            }
        }
        let planned = migration
        var failure: (any Error)?
        do {
            try await BlockingExecutor.shared.run {
                try self.hypervisor.withOwnConnection { connection in
                    guard let own = try connection.domain(named: self.domainName(vmid)) else { throw QEMUError(500, "VM \(vmid) is gone") }
                    try own.migrate(planned)
                }
            }
        } catch {
            failure = error
        }
        progress.cancel()
        let arrived = Date()
        if let error = failure {
            _ = try? modify(vmid) { $0.current["lock"] = nil }
            await removeAllocated()
            let message = (error as? LibvirtError)?.message ?? "\(error)"
            throw QEMUError(500, "online migration failed, VM \(vmid) stays on this node: \(message)")
        }
        log(String(format: "memory and device state sent in %.1f s; VM \(vmid) waits paused on node '\(target)'", arrived.timeIntervalSince(began)))

        // the config moves, then the VM runs there
        let from = store.configPath(vmid)
        let to = GuestStore(fs: store.fs, node: target, type: "qemu").configPath(vmid)
        var moved = before
        moved.current["lock"] = nil
        for (key, volid) in allocated { moved.current[key] = try replacingVolume(in: moved.current, key: key, with: volid) }
        do {
            try store.save(vmid, moved)
            try store.fs.rename(from, to: to)
        } catch {
            throw QEMUError(500, "VM \(vmid) arrived on node '\(target)' but its config could not move there (\(error)); it stays paused there")
        }
        do {
            try await BlockingExecutor.shared.run {
                let remote = try LibvirtConnection(uri: planned.destinationURI)
                defer { remote.close() }
                guard let there = try remote.domain(named: targetName) else { throw QEMUError(500, "VM \(vmid) is not on node '\(target)'") }
                try there.resume()
            }
        } catch {
            let message = (error as? LibvirtError)?.message ?? "\(error)"
            throw QEMUError(500, "VM \(vmid) and its config are on node '\(target)' now, but it did not resume there: \(message)")
        }
        let resumed = Date()
        if let paused = pausedAt.withLock({ $0 }) {
            log(
                String(
                    format:
                        "VM \(vmid) runs on node '\(target)': downtime %.0f ms (%.0f ms until libvirt finished, %.0f ms to move the config and resume)",
                    resumed.timeIntervalSince(paused) * 1000, arrived.timeIntervalSince(paused) * 1000, resumed.timeIntervalSince(arrived) * 1000))
        } else {
            log(String(format: "VM \(vmid) runs on node '\(target)' (%.0f ms from arrival to resume)", resumed.timeIntervalSince(arrived) * 1000))
        }
        freeSources(copies, log: log)
    }

    /// The target device (`sda`) of the domain's disk whose source is `path`.
    static func diskTarget(in xml: String, path: String) -> String? {
        for disk in xml.components(separatedBy: "<disk ").dropFirst() {
            let body = disk.components(separatedBy: "</disk>").first ?? ""
            guard body.contains("'\(path)'"), let range = body.range(of: "<target dev='") else { continue }
            return String(body[range.upperBound...].prefix { $0 != "'" })
        }
        return nil
    }
}

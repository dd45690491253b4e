import API
import Foundation
import Schema

/// Starting and stopping every guest of a node in PVE's order (`startall`, `stopall`, and the
/// start after boot): `startup: order=N,up=S,down=S` orders them, `up` waits after a start, `down`
/// bounds a shutdown. Starts go one at a time, lowest order first (guests without an order last);
/// stops go highest order first, the guests of one order in parallel (up to `workers`).
extension GuestBackends {
    public struct BulkGuest: Sendable, Equatable {
        public var vmid: Int
        public var type: String
        public var order: Int?
        public var up: Int?
        public var down: Int?
        public var onboot: Bool
        public var template: Bool
    }

    /// `order=2,up=30,down=60` (PVE's `pve-startup-order`).
    public static func startup(_ text: String?) -> (order: Int?, up: Int?, down: Int?) {
        var out: (order: Int?, up: Int?, down: Int?) = (nil, nil, nil)
        for part in (text ?? "").split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            let key = kv.count == 2 ? kv[0] : "order", value = Int(kv.last ?? "")
            switch key {
            case "order": out.order = value
            case "up": out.up = value
            case "down": out.down = value
            default: break
            }
        }
        return out
    }

    /// This node's guests with what ordering needs.
    public func bulkGuests() -> [BulkGuest] {
        all.flatMap { backend in
            backend.vmids().compactMap { vmid -> BulkGuest? in
                guard let config = try? backend.load(vmid).config else { return nil }
                let startup = Self.startup(config.current["startup"])
                return BulkGuest(
                    vmid: vmid, type: backend.type, order: startup.order, up: startup.up, down: startup.down,
                    onboot: config.current["onboot"] == "1", template: backend.isTemplate(config.current))
            }
        }
    }

    /// The start order: lowest `order` first, guests without one after, then by VMID (a pure function).
    public static func startOrder(_ guests: [BulkGuest]) -> [BulkGuest] {
        guests.sorted { ($0.order ?? Int.max, $0.vmid) < ($1.order ?? Int.max, $1.vmid) }
    }

    /// Starts the guests `select` admits (onboot ones unless `force`), one at a time in start order.
    /// Returns the VMIDs that failed to start.
    public func startAll(
        only vms: Set<Int>?, force: Bool, allowed: (Int) -> Bool = { _ in true }, log: @escaping @Sendable (String) -> Void
    ) async -> [Int] {
        var failed: [Int] = []
        for guest in Self.startOrder(bulkGuests()) {
            guard !guest.template, vms.map({ $0.contains(guest.vmid) }) ?? true, force || guest.onboot, allowed(guest.vmid),
                let backend = self[guest.type]
            else { continue }
            let noun = backend.noun
            if GuestHA.shared.requested(type: guest.type, vmid: guest.vmid) != nil {
                log("\(noun) \(guest.vmid) is managed by HA: left to the HA manager")
                continue
            }
            if backend.isRunning(guest.vmid) {
                log("\(noun) \(guest.vmid) is already running")
                continue
            }
            log("Starting \(noun) \(guest.vmid)")
            do {
                try await backend.start(guest.vmid, skiplock: false, log: log)
            } catch {
                log("Starting \(noun) \(guest.vmid) failed: \(error)")
                failed.append(guest.vmid)
                continue
            }
            if let up = guest.up, up > 0 {
                log("Waiting for \(up) seconds (startup delay)")
                try? await Task.sleep(for: .seconds(up))
            }
        }
        return failed
    }

    /// Shuts down the running guests, highest order first, each order's guests `workers` at a time;
    /// a guest's `down` (else `timeout`) bounds its shutdown, then it is stopped when `forceStop`.
    /// Returns the VMIDs that are still running.
    public func stopAll(
        only vms: Set<Int>?, timeout: Int, forceStop: Bool, workers: Int, allowed: (Int) -> Bool = { _ in true },
        log: @escaping @Sendable (String) -> Void
    ) async -> [Int] {
        let running = bulkGuests().filter { guest in
            vms.map { $0.contains(guest.vmid) } ?? true && allowed(guest.vmid) && (self[guest.type]?.isRunning(guest.vmid) ?? false)
        }
        // reverse start order: by order descending (none first), then VMID descending
        let groups = Dictionary(grouping: running) { $0.order ?? Int.max }.sorted { $0.key > $1.key }
        for (_, group) in groups {
            let sorted = group.sorted { $0.vmid > $1.vmid }
            for start in stride(from: 0, to: sorted.count, by: max(1, workers)) {
                let batch = sorted[start..<min(sorted.count, start + max(1, workers))]
                await withTaskGroup(of: Void.self) { tasks in
                    for guest in batch {
                        guard let backend = self[guest.type] else { continue }
                        tasks.addTask {
                            log("Stopping \(backend.noun) \(guest.vmid) (timeout = \(guest.down ?? timeout) seconds)")
                            do {
                                try await backend.shutdown(guest.vmid, timeout: guest.down ?? timeout, forceStop: forceStop, log: log)
                            } catch {
                                log("Stopping \(backend.noun) \(guest.vmid) failed: \(error)")
                            }
                        }
                    }
                }
            }
        }
        return running.filter { self[$0.type]?.isRunning($0.vmid) ?? false }.map(\.vmid)
    }

    /// Migrates the guests (running containers by restart), `workers` at a time, in start order.
    /// Returns the VMIDs that did not move.
    public func migrateAll(
        only vms: Set<Int>?, target: String, workers: Int, allowed: (Int) -> Bool = { _ in true }, withLocalDisks: Bool = false,
        call: @escaping @Sendable (APICall) async throws -> JSON, tunnel: (@Sendable (APICall) throws -> any ByteTunnel)? = nil,
        log: @escaping @Sendable (String) -> Void
    ) async -> [Int] {
        let chosen = Self.startOrder(bulkGuests()).filter { guest in vms.map { $0.contains(guest.vmid) } ?? true && allowed(guest.vmid) }
        var failed: [Int] = []
        for first in stride(from: 0, to: chosen.count, by: max(1, workers)) {
            let batch = chosen[first..<min(chosen.count, first + max(1, workers))]
            let results = await withTaskGroup(of: Int?.self) { tasks -> [Int] in
                for guest in batch {
                    guard let backend = self[guest.type] else { continue }
                    tasks.addTask {
                        if GuestHA.shared.requested(type: guest.type, vmid: guest.vmid) != nil {
                            log("Requesting HA migration for \(backend.noun) \(guest.vmid) to \(target)")
                            do { try GuestHA.shared.migrate(type: guest.type, vmid: guest.vmid, to: target) } catch { return guest.vmid }
                            return nil
                        }
                        log("Migrating \(backend.noun) \(guest.vmid) to \(target)")
                        do {
                            try await backend.migrate(
                                guest.vmid, target: target, online: true, restart: true, timeout: guest.down ?? 180,
                                withLocalDisks: withLocalDisks, call: call, tunnel: tunnel, log: log)
                            return nil
                        } catch {
                            log("Migrating \(backend.noun) \(guest.vmid) failed: \(error)")
                            return guest.vmid
                        }
                    }
                }
                var out: [Int] = []
                for await vmid in tasks { if let vmid { out.append(vmid) } }
                return out
            }
            failed += results
        }
        return failed.sorted()
    }
}

import Foundation
import Guests
import Libvirt
import Schema
import Storage
import Synchronization

/// Counter samples per VM, so `cpu` is a rate between two reads rather than an average since start.
final class CPUSamples: Sendable {
    let samples = Mutex<[Int: (cpu: UInt64, at: Double)]>([:])
    static let shared = CPUSamples()
}

/// The config part of each VM's status by the config's digest (see `VMManager.configPart`).
final class StatusCache: Sendable {
    let parts = Mutex<[Int: (digest: String, part: [String: JSON])]>([:])
    static let shared = StatusCache()
}

extension VMManager {
    /// `status/current` and the list entries: the config's view plus real counters from libvirt.
    public func status(_ vmid: Int, config: GuestConfig? = nil) throws -> [String: JSON] {
        try status(vmid, config: config, active: nil)
    }

    /// Every VM's status with one question to libvirt for the running ones: a lookup of a domain
    /// that does not run costs libvirtd a round trip and an error, and a node lists a thousand of them
    /// every few seconds. When libvirt cannot answer, each VM is asked on its own.
    public func statuses(_ vmids: [Int]) -> [Int: [String: JSON]] {
        let active = (try? hypervisor.with { try $0.activeDomainNames() }).map(Set.init)
        var out: [Int: [String: JSON]] = [:]
        for vmid in vmids { out[vmid] = try? status(vmid, config: nil, active: active) }
        return out
    }

    /// `active`: the running domains' names, when known; a VM not among them is not looked up.
    func status(_ vmid: Int, config given: GuestConfig?, active: Set<String>?) throws -> [String: JSON] {
        let loaded = given == nil ? try load(vmid) : nil
        let config = given ?? loaded!.config
        var out = Self.configPart(vmid, config, digest: loaded?.digest)
        out["ha"] = GuestHA.shared.statusField(type: "qemu", vmid: vmid)
        let known = active.map { $0.contains(domainName(vmid)) } ?? true
        guard known, let domain = try? domain(vmid), let (state, _) = try? domain.state(), state != .shutoff else {
            if config.current["lock"] == "suspended" { out["qmpstatus"] = "suspended" }
            return out
        }
        let vm = VMConfig(config.current)
        out["status"] = "running"
        out["qmpstatus"] = .string(state == .paused ? "paused" : state == .running ? "running" : "\(state)")
        if let info = try? domain.info() {
            let now = Date().timeIntervalSince1970
            let previous = CPUSamples.shared.samples.withLock { s in
                defer { s[vmid] = (info.cpuTime, now) }
                return s[vmid]
            }
            let pid = qemuPID(vmid)
            let uptime = pid.flatMap(Self.processUptime) ?? 0
            out["uptime"] = JSON(Int64(uptime))
            if let previous, now > previous.at, info.cpuTime >= previous.cpu {
                out["cpu"] = .number(Double(info.cpuTime - previous.cpu) / 1e9 / (now - previous.at) / Double(max(1, vm.vcpus)))
            } else if uptime > 0 {
                out["cpu"] = .number(Double(info.cpuTime) / 1e9 / uptime / Double(max(1, vm.vcpus)))
            }
            let stats = domain.memoryStats()
            if let available = stats[LibvirtDomain.memoryStatAvailable], let unused = stats[LibvirtDomain.memoryStatUnused], available > unused {
                out["mem"] = JSON(Int64((available - unused) * 1024))
                out["freemem"] = JSON(Int64(unused * 1024))
                out["balloon"] = JSON(Int64(info.memoryKiB * 1024))
            } else if let rss = stats[LibvirtDomain.memoryStatRSS] {
                out["mem"] = JSON(Int64(min(rss * 1024, UInt64(vm.memoryMiB) * 1_048_576)))
            }
            if let pid { out["pid"] = JSON(Int64(pid)) }
        }
        var read: Int64 = 0, written: Int64 = 0
        for drive in vm.drives { if let s = domain.blockStats(DomainXML.target(drive)) { read += s.read; written += s.written } }
        out["diskread"] = JSON(read)
        out["diskwrite"] = JSON(written)
        var netin: Int64 = 0, netout: Int64 = 0
        for nic in vm.nics where nic.bridge != nil {
            // the tap's receive is the guest's send
            if let s = domain.interfaceStats("tap\(vmid)i\(nic.index)") { netin += s.sent; netout += s.received }
        }
        out["netin"] = JSON(netin)
        out["netout"] = JSON(netout)
        out["running-machine"] = .string(vm.properties("machine")["type"]?.plainText ?? "pc")
        return out
    }

    /// What a stopped VM's status is: the config's view (name, sizes, template, lock, tags). Kept by
    /// the config's digest, so a thousand stopped VMs listed every few seconds parse their drives once.
    static func configPart(_ vmid: Int, _ config: GuestConfig, digest: String?) -> [String: JSON] {
        if let digest, let hit = StatusCache.shared.parts.withLock({ $0[vmid] }), hit.digest == digest { return hit.part }
        let vm = VMConfig(config.current)
        var out: [String: JSON] = [
            "vmid": JSON(vmid), "name": .string(vm.name ?? "VM \(vmid)"), "status": "stopped", "qmpstatus": "stopped",
            "cpus": JSON(vm.vcpus), "maxmem": JSON(Int64(vm.memoryMiB) * 1_048_576), "mem": 0, "cpu": 0, "uptime": 0,
            "disk": 0, "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0,
        ]
        let drives = vm.drives
        let bootDisk = vm.bootOrder.compactMap { key in drives.first { $0.key == key && !$0.isCDROM } }.first ?? drives.first { !$0.isCDROM }
        out["maxdisk"] = JSON(bootDisk?.sizeText.flatMap(DiskSize.bytes) ?? 0)
        if vm.isTemplate { out["template"] = 1 }
        if let lock = vm.lock { out["lock"] = .string(lock) }
        if let tags = config.current["tags"] { out["tags"] = .string(tags) }
        if vm.properties("agent")["enabled"]?.boolValue == true { out["agent"] = 1 }
        if let digest {
            StatusCache.shared.parts.withLock { parts in
                if parts.count > 20_000 { parts.removeAll() }
                parts[vmid] = (digest, out)
            }
        }
        return out
    }

    /// libvirt writes the QEMU pid to `/run/libvirt/qemu/<name>.pid`.
    func qemuPID(_ vmid: Int) -> Int32? {
        guard let text = try? String(contentsOfFile: "/run/libvirt/qemu/\(domainName(vmid)).pid", encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func processUptime(_ pid: Int32) -> Double? { GuestProcess.uptime(pid) }
}

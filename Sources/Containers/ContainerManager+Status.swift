import Foundation
import Guests
import LXC
import Schema
import Storage
import Synchronization

extension ContainerManager {
    /// Status with live counters from the container's cgroups, its veths and its root file system.
    public func status(_ vmid: Int, config given: GuestConfig? = nil) throws -> [String: JSON] {
        let config = try given ?? load(vmid).config
        let ct = CTConfig(config.current)
        let container = try container(vmid)
        let state = container.state
        let running = state == "RUNNING" || state == "FROZEN"
        var out: [String: JSON] = [
            "vmid": .int(Int64(vmid)), "name": .string(ct.hostname ?? "CT\(vmid)"), "type": "lxc",
            "status": .string(running ? "running" : "stopped"),
            "maxmem": .int(Int64(ct.memoryMiB) * 1_048_576), "maxswap": .int(Int64(ct.swapMiB) * 1_048_576),
            "cpus": .int(Int64(ct.cores ?? ProcessInfo.processInfo.activeProcessorCount)),
            "uptime": 0, "cpu": 0, "mem": 0, "swap": 0, "disk": 0, "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0,
        ]
        if let limit = ct.cpulimit { out["cpus"] = JSON(limit) }
        if let root = ct.rootfs, let size = root.sizeText.flatMap(DiskSize.bytes) { out["maxdisk"] = .int(size) } else { out["maxdisk"] = 0 }
        if let lock = ct.lock { out["lock"] = .string(lock) }
        if ct.isTemplate { out["template"] = 1 }
        if !ct.tags.isEmpty { out["tags"] = .string(ct.tags.joined(separator: ";")) }
        out["ha"] = GuestHA.shared.statusField(type: "lxc", vmid: vmid)
        guard running, let pid = container.initPID else { return out }
        if state == "FROZEN" { out["frozen"] = 1 }
        out["pid"] = .int(Int64(pid))
        out["uptime"] = .int(Int64(GuestProcess.uptime(pid) ?? 0))
        func number(_ key: String) -> Int64? { container.cgroupItem(key).flatMap { Int64($0.split(separator: " ").last ?? "") } }
        if let usage = number("memory.usage_in_bytes") ?? number("memory.current") {
            // page cache the kernel can drop at once is not the guest's memory use
            let stat = container.cgroupItem("memory.stat") ?? ""
            let inactive =
                stat.split(separator: "\n").first { $0.hasPrefix("total_inactive_file ") || $0.hasPrefix("inactive_file ") }
                .flatMap { Int64($0.split(separator: " ").last ?? "") } ?? 0
            out["mem"] = .int(max(0, usage - inactive))
            if let both = number("memory.memsw.usage_in_bytes") {
                out["swap"] = .int(max(0, both - usage))
            } else if let swap = number("memory.swap.current") {
                out["swap"] = .int(swap)
            }
        }
        let cpuNanos =
            number("cpuacct.usage").map(Double.init)
            ?? container.cgroupItem("cpu.stat").flatMap { stat in
                stat.split(separator: "\n").first { $0.hasPrefix("usage_usec") }.flatMap { Double($0.split(separator: " ").last ?? "") }.map {
                    $0 * 1000
                }
            }
        if let cpuNanos {
            let now = Date().timeIntervalSince1970
            let previous = cpuSamples.withLock { samples in
                defer { samples[vmid] = (now, cpuNanos) }
                return samples[vmid]
            }
            if let previous, now > previous.time {
                let cpus = Double(ProcessInfo.processInfo.activeProcessorCount)
                out["cpu"] = JSON(max(0, min(1, (cpuNanos - previous.usage) / 1e9 / (now - previous.time) / cpus)))
            }
        }
        if let io = container.cgroupItem("blkio.throttle.io_service_bytes") {
            for line in io.split(separator: "\n") {
                let f = line.split(separator: " ")
                guard f.count == 3, let value = Int64(f[2]) else { continue }
                if f[1] == "Read" { out["diskread"] = .int((out["diskread"]?.intValue ?? 0) + value) }
                if f[1] == "Write" { out["diskwrite"] = .int((out["diskwrite"]?.intValue ?? 0) + value) }
            }
        }
        var fs = statvfs()
        if statvfs("/proc/\(pid)/root/", &fs) == 0 {
            out["disk"] = .int(Int64(fs.f_blocks - fs.f_bfree) * Int64(fs.f_frsize))
        }
        // the host end of a veth sends what the container receives
        var netin: Int64 = 0, netout: Int64 = 0
        for nic in ct.nics {
            let base = "/sys/class/net/veth\(vmid)i\(nic.index)/statistics/"
            netin +=
                Int64((try? String(contentsOfFile: base + "tx_bytes", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
            netout +=
                Int64((try? String(contentsOfFile: base + "rx_bytes", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        }
        out["netin"] = .int(netin)
        out["netout"] = .int(netout)
        return out
    }

    /// The container's interfaces with their addresses, read from its network namespace.
    public func interfaces(_ vmid: Int) throws -> [JSON] {
        guard let pid = try container(vmid).initPID else { throw GuestError(500, "CT \(vmid) not running") }
        let text: String
        do { text = try Command.run(["nsenter", "-t", "\(pid)", "-n", "ip", "-j", "address", "show"]) } catch {
            throw GuestError(wrapping: error, "cannot read the interfaces of CT \(vmid)")
        }
        guard let list = (try? JSONParser.parse(Array(text.utf8)))?.arrayValue else { return [] }
        return list.map { link in
            var out: [String: JSON] = ["name": link["ifname"] ?? "", "hwaddr": link["address"] ?? "", "hardware-address": link["address"] ?? ""]
            var addresses: [JSON] = []
            for info in link["addr_info"]?.arrayValue ?? [] {
                let family = info["family"]?.stringValue == "inet6" ? "inet6" : "inet"
                let cidr = "\(info["local"]?.plainText ?? "")/\(info["prefixlen"]?.plainText ?? "")"
                if out[family] == nil { out[family] = .string(cidr) }
                addresses.append([
                    "ip-address": info["local"] ?? "", "ip-address-type": .string(family == "inet6" ? "ipv6" : "ipv4"),
                    "prefix": info["prefixlen"] ?? 0,
                ])
            }
            out["ip-addresses"] = .array(addresses)
            return .object(out)
        }
    }
}

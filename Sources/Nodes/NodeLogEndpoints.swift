import API
import Foundation
import Glibc
import Schema
import Storage

/// The node's logs, package versions, guest traffic counters, services and power: `syslog`,
/// `journal`, `apt/versions`, `netstat`, `services` and `POST status`.
enum NodeLogEndpoints {
    /// The packages `apt/versions` reports, corrald's own first (as PVE puts pve-manager first).
    static let packages = [
        "corosync", "corosync-qdevice", "libvirt-daemon-system", "qemu-system-x86", "qemu-utils", "lxc", "lxcfs", "libiscsi-bin", "btrfs-progs",
        "lvm2", "thin-provisioning-tools", "zfsutils-linux", "ceph-common", "novnc", "libjs-chart.js", "nftables", "ifupdown2",
    ]
    /// The services `services` reports: corrald and the system units it relies on.
    static let services = [
        ("corrald", "Corral node daemon (API, cluster filesystem, guests)"), ("corosync", "Corosync cluster engine"),
        ("corosync-qdevice", "Corosync quorum device"), ("libvirtd", "libvirt daemon (VMs)"), ("lxcfs", "FUSE file system for LXC"),
        ("systemd-timesyncd", "Network time synchronisation"), ("chrony", "chrony NTP client"), ("sshd", "OpenBSD Secure Shell server"),
        ("cron", "Regular background program processing"), ("systemd-journald", "Journal service"),
    ]

    static func all(ownsMachine: Bool) -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /nodes/{node}/syslog", description: "The system log (journalctl's short lines), paged with `start` and `limit`.",
                returns: .array(of: .object(["n": .integer(), "t": .string()])), permission: .privileges(path: "/nodes/{node}", ["Sys.Syslog"]),
                handler: .blocking { context in
                    var command = ["journalctl", "-o", "short", "--no-pager", "--no-hostname"]
                    if let since = context.string("since") { command += ["--since", since] }
                    if let until = context.string("until") { command += ["--until", until] }
                    if let service = context.string("service") { command += ["--unit", service] }
                    let lines = try journal(command)
                    let start = max(0, Int(context.int("start") ?? 0)), limit = max(0, Int(context.int("limit") ?? 50))
                    let page = start < lines.count ? lines[start..<min(lines.count, start + limit)] : []
                    return .array(page.enumerated().map { ["n": .int(Int64(start + $0.offset + 1)), "t": .string(String($0.element))] })
                }),
            Endpoint(
                pve: "GET /nodes/{node}/journal", description: "The journal's last entries (or a time range), as lines.",
                returns: .array(of: .string()), permission: .privileges(path: "/nodes/{node}", ["Sys.Syslog"]),
                handler: .blocking { context in
                    var command = ["journalctl", "-o", "short-iso", "--no-pager"]
                    if let since = context.int("since") { command += ["--since", "@\(since)"] }
                    if let until = context.int("until") { command += ["--until", "@\(until)"] }
                    if context.int("since") == nil && context.int("until") == nil { command += ["-n", "\(context.int("lastentries") ?? 500)"] }
                    return .array(try journal(command).map { .string(String($0)) })
                }),
            Endpoint(
                pve: "GET /nodes/{node}/apt/versions", description: "Versions of Corral and the packages it relies on (dpkg).",
                returns: .array(of: .object(["Package": .string()], additionalProperties: true)),
                permission: .privileges(path: "/nodes/{node}", ["Sys.Audit"]),
                handler: .blocking { context in
                    let kernel = ProcFiles.read("/proc/sys/kernel/osrelease")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                    var rows: [JSON] = [
                        [
                            "Package": "corral", "Title": "Corral node daemon", "Description": "Corral node daemon",
                            "Version": .string(context.services.productVersion), "CurrentState": "Installed", "Arch": "amd64",
                            "ManagerVersion": .string(context.services.productVersion), "RunningKernel": .string(kernel), "Priority": "optional",
                            "Section": "admin",
                        ]
                    ]
                    let output = (try? Command.execute(["dpkg-query", "-W", "-f", dpkgFormat] + packages))?.stdout ?? ""
                    rows += versions(output).map { JSON.object($0.mapValues { .string($0) }) }
                    return .array(rows)
                }),
            Endpoint(
                pve: "GET /nodes/{node}/netstat", description: "Traffic counters of the guests' network devices (tapVMIDiN, vethVMIDiN).",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .privileges(path: "/nodes/{node}", ["Sys.Audit"]),
                handler: .blocking { _ in .array(netstat(ProcFiles.read("/proc/net/dev") ?? "").map { JSON.object($0) }) }),
            Endpoint(
                pve: "GET /nodes/{node}/services", description: "Corrald and the system services it relies on, with their state (systemd).",
                returns: .array(of: .object(["service": .string()], additionalProperties: true)),
                permission: .privileges(path: "/nodes/{node}", ["Sys.Audit"]),
                handler: .blocking { _ in
                    .array(
                        services.map { name, description in
                            let state = unitState(NodeAdminEndpoints.units[name] ?? name)
                            return [
                                "service": .string(name), "name": .string(name), "desc": .string(description), "state": .string(state.sub),
                                "active-state": .string(state.active), "unit-state": .string(state.unit),
                            ]
                        })
                }),
            Endpoint(
                pve: "POST /nodes/{node}/status", description: "Reboots or shuts down the node (systemd).",
                permission: .privileges(path: "/nodes/{node}", ["Sys.PowerMgmt"]),
                handler: .blocking { context in
                    let command = try context.require("command")
                    // a node sharing its machine with others (tests, several nodes on one host) never powers it off
                    guard ownsMachine else {
                        throw APIError(500, "this node shares its machine (its data directory is not /var/lib/corral): it does not \(command) it")
                    }
                    let result = try Command.execute(["systemctl", command == "reboot" ? "reboot" : "poweroff"])
                    guard result.status == 0 else { throw APIError(500, "cannot \(command): \(result.stderr)") }
                    return .null
                }),
        ]
    }

    static func journal(_ command: [String]) throws -> [Substring] {
        let result: (status: Int32, stdout: String, stderr: String)
        do { result = try Command.execute(command) } catch { throw APIError(500, "journalctl is not installed on this node") }
        // without a journal (no systemd), journalctl says so on stdout or stderr: that is the log's one line
        let text = result.stdout.isEmpty ? result.stderr : result.stdout
        return text.split(separator: "\n")
    }

    static let dpkgFormat = "${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}\\t${Section}\\t${Priority}\\t${binary:Summary}\\n"

    /// dpkg-query lines as PVE's version rows; packages not installed are left out.
    static func versions(_ output: String) -> [[String: String]] {
        output.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 7, f[3].hasPrefix("ii") else { return nil }
            return [
                "Package": f[0], "Version": f[1], "OldVersion": f[1], "Arch": f[2], "CurrentState": "Installed", "Section": f[4], "Priority": f[5],
                "Title": f[6], "Description": f[6],
            ]
        }
    }

    /// `/proc/net/dev` rows of guest devices: `tap100i0` (VM 100, NIC 0), `veth200i1` (CT 200, NIC 1).
    static func netstat(_ text: String) -> [[String: JSON]] {
        text.split(separator: "\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let device = line[..<colon].trimmingCharacters(in: .whitespaces)
            guard let prefix = ["tap", "veth"].first(where: { device.hasPrefix($0) }) else { return nil }
            let rest = device.dropFirst(prefix.count).split(separator: "i", maxSplits: 1)
            guard rest.count == 2, let vmid = Int(rest[0]), Int(rest[1]) != nil else { return nil }
            let counters = line[line.index(after: colon)...].split(separator: " ").compactMap { Int64($0) }
            guard counters.count >= 9 else { return nil }
            // the device's receive is the guest's send: PVE reports them as the guest sees them
            return ["dev": .string(device), "vmid": .string("\(vmid)"), "in": .string("\(counters[8])"), "out": .string("\(counters[0])")]
        }
    }

    static func unitState(_ name: String) -> (active: String, sub: String, unit: String) {
        guard let result = try? Command.execute(["systemctl", "show", name, "--property=ActiveState,SubState,UnitFileState"]), result.status == 0
        else { return ("unknown", "unknown", "unknown") }
        var values: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        return (
            values["ActiveState"] ?? "unknown", values["SubState"] ?? "unknown",
            values["UnitFileState"].flatMap { $0.isEmpty ? nil : $0 } ?? "unknown"
        )
    }
}

import API
import Blocking
import Foundation
import Schema
import Storage
import TLS
import Tasks

/// The node's administration endpoints beyond status: `apt/update|changelog|repositories`,
/// `disks/smart|lvm|lvmthin|zfs|directory`, `services/{service}/*` and `report`.
enum NodeAdminEndpoints {
    /// PVE's service names (the API's enum), plus Corral's own and libvirt's, mapped to this node's
    /// units: PVE's separate daemons are all corrald here.
    static let units: [String: String] = [
        "pveproxy": "corrald", "pvedaemon": "corrald", "pve-cluster": "corrald", "pvestatd": "corrald", "pvescheduler": "corrald",
        "corrald": "corrald", "corosync": "corosync", "corosync-qdevice": "corosync-qdevice", "libvirtd": "libvirtd", "lxcfs": "lxcfs",
        "chrony": "chrony", "systemd-timesyncd": "systemd-timesyncd", "cron": "cron", "sshd": "ssh", "syslog": "rsyslog",
        "systemd-journald": "systemd-journald", "postfix": "postfix", "ksmtuned": "ksmtuned", "pve-firewall": "corrald",
        "proxmox-firewall": "corrald", "pve-ha-crm": "corrald", "pve-ha-lrm": "corrald", "pve-lxc-syscalld": "lxcfs", "pvefw-logger": "corrald",
        "qmeventd": "corrald", "spiceproxy": "corrald",
    ]
    static let pveServices = [
        "chrony", "corosync", "cron", "ksmtuned", "lxcfs", "postfix", "proxmox-firewall", "pve-cluster", "pve-firewall", "pve-ha-crm", "pve-ha-lrm",
        "pve-lxc-syscalld", "pvedaemon", "pvefw-logger", "pveproxy", "pvescheduler", "pvestatd", "qmeventd", "spiceproxy", "sshd", "syslog",
        "systemd-journald", "systemd-timesyncd",
    ]
    /// The enum PVE's clients send, widened by Corral's own names (declared beyond PVE).
    static let serviceNames = pveServices + ["corrald", "corosync-qdevice", "libvirtd"]

    static func all(ownsMachine: Bool) -> [Endpoint] {
        apt() + disks() + services(ownsMachine: ownsMachine) + [report()]
    }

    // MARK: apt

    static func apt() -> [Endpoint] {
        [
            .directory("/nodes/{node}/apt", description: "The package endpoints.", parameters: ["node": .node]),
            Endpoint(
                pve: "GET /nodes/{node}/apt/update", description: "Packages with a newer version in the configured sources (apt-get's simulation).",
                returns: .array(of: .object(["Package": .string()], additionalProperties: true)),
                permission: .privileges(path: "/nodes/{node}", ["Sys.Modify"]),
                handler: .blocking { _ in
                    let simulation = try StorageScan.run(["apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade"], package: "apt")
                    let names = simulation.split(separator: "\n").filter { $0.hasPrefix("Inst ") }.compactMap {
                        $0.split(separator: " ").dropFirst().first
                    }
                    var titles: [String: String] = [:]
                    if !names.isEmpty,
                        let out = try? Command.execute(["dpkg-query", "-W", "-f", "${Package}\\t${binary:Summary}\\n"] + names.map(String.init))
                    {
                        for line in out.stdout.split(separator: "\n") {
                            let f = line.split(separator: "\t", maxSplits: 1).map(String.init)
                            if f.count == 2 { titles[f[0]] = f[1] }
                        }
                    }
                    return .array(NodeApt.upgrades(simulation, titles: titles))
                }),
            Endpoint(
                pve: "POST /nodes/{node}/apt/update", description: "Refresh the package lists (apt-get update) in a task.",
                returns: .string(), permission: .privileges(path: "/nodes/{node}", ["Sys.Modify"]),
                handler: .blocking { context in
                    let upid = try context.services.tasks.start(type: "aptupdate", user: context.user) { log in
                        try await BlockingExecutor.shared.run {
                            let result = try Command.execute(["apt-get", "update"])
                            for line in (result.stdout + result.stderr).split(separator: "\n") { log.log(String(line)) }
                            guard result.status == 0 else { throw APIError(500, "apt-get update failed (exit code \(result.status))") }
                        }
                    }
                    return .string(upid.description)
                }),
            Endpoint(
                pve: "GET /nodes/{node}/apt/changelog", description: "An installed package's changelog (from its documentation).",
                returns: .string(), permission: .privileges(path: "/nodes/{node}", ["Sys.Modify"]),
                handler: .blocking { context in
                    let name = try context.require("name")
                    let doc = "/usr/share/doc/\(name)"
                    for file in ["changelog.Debian.gz", "changelog.gz"] where FileManager.default.fileExists(atPath: "\(doc)/\(file)") {
                        return .string(try StorageScan.run(["gzip", "-dc", "\(doc)/\(file)"], package: "gzip"))
                    }
                    for file in ["changelog.Debian", "changelog"] {
                        if let text = try? String(contentsOfFile: "\(doc)/\(file)", encoding: .utf8) { return .string(text) }
                    }
                    throw APIError(500, "no changelog for package '\(name)' on this node (is it installed?)")
                }),
            Endpoint(
                pve: "GET /nodes/{node}/apt/repositories", description: "The APT sources of this node (.list and .sources files).",
                returns: .object(["files": .array(of: .object([:], additionalProperties: true))], additionalProperties: true),
                permission: .privileges(path: "/nodes/{node}", ["Sys.Audit"]),
                handler: .blocking { _ in repositories() }),
        ]
    }

    static func repositories(root: String = "/etc/apt") -> JSON {
        var paths = ["\(root)/sources.list"]
        let dir = "\(root)/sources.list.d"
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        where name.hasSuffix(".list") || name.hasSuffix(".sources") {
            paths.append("\(dir)/\(name)")
        }
        var files: [JSON] = [], all: [UInt8] = []
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let text = String(decoding: data, as: UTF8.self)
            let type = path.hasSuffix(".sources") ? "sources" : "list"
            let digest = Digest.sha256(Array(data))
            all += digest
            files.append([
                "path": .string(path), "file-type": .string(type),
                "repositories": .array(type == "sources" ? NodeApt.parseSources(text) : NodeApt.parseList(text)),
                "digest": .array(digest.map { .int(Int64($0)) }),
            ])
        }
        return [
            "files": .array(files), "errors": [], "infos": [], "standard-repos": [],
            "digest": .string(Digest.sha256(all).map { String(format: "%02x", $0) }.joined()),
        ]
    }

    // MARK: disks

    static func disks() -> [Endpoint] {
        [
            .directory("/nodes/{node}/disks", description: "The disk endpoints.", parameters: ["node": .node], proxyTo: "node"),
            Endpoint(
                pve: "GET /nodes/{node}/disks/smart", description: "A disk's S.M.A.R.T. health and attributes (smartctl).",
                returns: .object(["health": .string()], additionalProperties: true), permission: .privileges(path: "/", ["Sys.Audit"]),
                handler: .blocking { context in
                    let disk = try context.require("disk")
                    guard FileManager.default.fileExists(atPath: disk) else { throw APIError.parameters(["disk": "no such disk '\(disk)'"]) }
                    let result: (status: Int32, stdout: String, stderr: String)
                    do { result = try Command.execute(["smartctl", "-a", "-j", disk]) } catch {
                        throw APIError(500, "'smartctl' is not installed on this node (Debian package smartmontools)")
                    }
                    // smartctl's exit code is a bit mask of findings; its JSON says what it could read
                    return .object(NodeDisks.smart(result.stdout, healthOnly: context.bool("healthonly") ?? false))
                }),
            Endpoint(
                pve: "GET /nodes/{node}/disks/lvm", description: "LVM volume groups and their physical volumes.",
                returns: .object([:], additionalProperties: true), permission: .privileges(path: "/", ["Sys.Audit"]),
                handler: .blocking { _ in
                    guard let out = try? Command.execute(lvm("vgs", "vg_name,vg_size,vg_free,pv_name,pv_size,pv_free")), out.status == 0 else {
                        return ["leaf": 0, "children": []]
                    }
                    return NodeDisks.lvmTree(out.stdout)
                }),
            Endpoint(
                pve: "GET /nodes/{node}/disks/lvmthin", description: "LVM thin pools with their use.",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .privileges(path: "/", ["Sys.Audit"]),
                handler: .blocking { _ in
                    guard
                        let out = try? Command.execute(lvm("lvs", "lv_name,vg_name,lv_size,data_percent,lv_metadata_size,metadata_percent,segtype")),
                        out.status == 0
                    else { return [] }
                    return .array(NodeDisks.thinPools(out.stdout))
                }),
            Endpoint(
                pve: "GET /nodes/{node}/disks/zfs", description: "ZFS pools (zpool list).",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .privileges(path: "/", ["Sys.Audit"]),
                handler: .blocking { _ in
                    guard let out = try? Command.execute(["zpool", "list", "-Hp", "-o", "name,size,alloc,free,frag,dedup,health"]), out.status == 0
                    else { return [] }
                    return .array(NodeDisks.zpools(out.stdout))
                }),
            Endpoint(
                pve: "GET /nodes/{node}/disks/directory", description: "Directory storages mounted by systemd units (mnt-pve-*.mount).",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .privileges(path: "/", ["Sys.Audit"]),
                handler: .blocking { _ in
                    let dir = "/etc/systemd/system"
                    let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter {
                        $0.hasPrefix("mnt-pve-") && $0.hasSuffix(".mount")
                    }
                    return .array(
                        names.sorted().compactMap { name in
                            (try? String(contentsOfFile: "\(dir)/\(name)", encoding: .utf8)).flatMap {
                                NodeDisks.mountUnit($0, file: "\(dir)/\(name)")
                            }
                        })
                }),
        ]
    }

    static func lvm(_ tool: String, _ fields: String) -> [String] {
        [tool, "--noheadings", "--units", "b", "--nosuffix", "--separator", ";", "-o", fields]
    }

    // MARK: services

    static func services(ownsMachine: Bool) -> [Endpoint] {
        let service = Schema.string(enum: serviceNames)
        let parameters: [String: Schema] = ["node": .node, "service": service]
        @Sendable func state(_ name: String) -> JSON {
            let unit = units[name] ?? name
            let s = NodeLogEndpoints.unitState(unit)
            let desc = NodeLogEndpoints.services.first { $0.0 == name || $0.0 == unit }?.1 ?? unit
            return [
                "service": .string(name), "name": .string(unit),
                "desc": .string(unit == "corrald" && name != "corrald" ? "part of corrald: \(desc)" : desc),
                "state": .string(s.sub), "active-state": .string(s.active), "unit-state": .string(s.unit),
            ]
        }
        func command(_ verb: String) -> Endpoint {
            Endpoint(
                .POST, "/nodes/{node}/services/{service}/\(verb)", name: "service_\(verb)", description: "\(verb.capitalized) a service (systemctl).",
                parameters: parameters, returns: .string(), permission: .privileges(path: "/nodes/{node}", ["Sys.Modify"]), protected: true,
                proxyTo: "node",
                handler: .blocking { context in
                    let name = try context.require("service")
                    let unit = units[name] ?? name
                    // corrald is every node's API: from a node that shares its machine, never stop it this way
                    if unit == "corrald" && !ownsMachine && verb != "reload" {
                        throw APIError(500, "this node shares its machine (its data directory is not /var/lib/corral): it does not \(verb) corrald")
                    }
                    let upid = try context.services.tasks.start(type: "srv\(verb)", id: name, user: context.user) { log in
                        try await BlockingExecutor.shared.run {
                            log.log("systemctl \(verb) \(unit)")
                            let result = try Command.execute(["systemctl", verb, unit])
                            let output = (result.stdout + result.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
                            if !output.isEmpty { log.log(output) }
                            guard result.status == 0 else { throw APIError(500, "systemctl \(verb) \(unit) failed (exit code \(result.status))") }
                        }
                    }
                    return .string(upid.description)
                })
        }
        return [
            Endpoint(
                .GET, "/nodes/{node}/services/{service}", name: "srvcmdidx", description: "A service's commands.", parameters: parameters,
                returns: .array(of: .object(["subdir": .string()])), permission: .privileges(path: "/nodes/{node}", ["Sys.Audit"]),
                childKey: "subdir",
                handler: .sync { _ in .array(["state", "start", "stop", "restart", "reload"].map { ["subdir": .string($0)] }) }),
            Endpoint(
                .GET, "/nodes/{node}/services/{service}/state", name: "service_state", description: "A service's state (systemd).",
                parameters: parameters, returns: .object(["service": .string()], additionalProperties: true),
                permission: .privileges(path: "/nodes/{node}", ["Sys.Audit"]), protected: true, proxyTo: "node",
                handler: .blocking { context in state(try context.require("service")) }),
        ] + ["start", "stop", "restart", "reload"].map(command)
    }

    // MARK: report

    static func report() -> Endpoint {
        Endpoint(
            pve: "GET /nodes/{node}/report", description: "A text report of the node for support: versions, storage, cluster, network, disks.",
            returns: .string(), permission: .privileges(path: "/nodes/{node}", ["Sys.Audit"]),
            handler: .blocking { context in
                var out = "==== general system info ====\n\n"
                let sections: [(String, [String])] = [
                    ("hostname", ["hostname"]), ("kernel", ["uname", "-a"]), ("uptime", ["uptime"]),
                    ("packages", ["dpkg-query", "-W", "-f", "${Package} ${Version}\\n"] + NodeLogEndpoints.packages),
                    ("cat /etc/hosts", ["cat", "/etc/hosts"]), ("cat /etc/resolv.conf", ["cat", "/etc/resolv.conf"]),
                    ("ip -details -statistics address", ["ip", "-details", "-statistics", "address"]), ("ip route", ["ip", "route"]),
                    ("df -h", ["df", "-h"]), ("lsblk", ["lsblk", "--ascii", "-M", "-o", "+HOTPLUG,ROTA,PHY-SEC,FSTYPE,MODEL,TRAN"]),
                    ("corosync-quorumtool -siH", ["corosync-quorumtool", "-siH"]), ("virsh version", ["virsh", "-c", "qemu:///system", "version"]),
                    ("lxc-ls --fancy", ["lxc-ls", "--fancy"]),
                ]
                out += "corrald \(context.services.productVersion)\n\n"
                for (title, command) in sections {
                    out += "# \(title)\n"
                    if let result = try? Command.execute(command) {
                        out += (result.stdout + (result.status == 0 ? "" : result.stderr)).trimmingCharacters(in: .newlines) + "\n\n"
                    } else {
                        out += "(\(command[0]) is not installed)\n\n"
                    }
                }
                return .string(out)
            })
    }
}

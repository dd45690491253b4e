import API
import Schema

/// `/nodes/{node}/scan/…`: what could become a storage on this node (for the storage editor and `pvesm scan`).
enum ScanEndpoints {
    static let allocate = Permission.privileges(path: "/storage", ["Datastore.Allocate"])
    static let methods = ["cifs", "iscsi", "lvm", "lvmthin", "nfs", "zfs"]

    static func all() -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /nodes/{node}/scan", description: "The kinds of storage this node can scan for.",
                returns: .array(of: .object(["method": .string()])), permission: .anyUser, childKey: "method",
                handler: .sync { _ in .array(methods.map { ["method": .string($0)] }) }),
            Endpoint(
                pve: "GET /nodes/{node}/scan/lvm", description: "Volume groups (vgs).",
                returns: .array(of: .object(["vg": .string()], additionalProperties: true)), permission: allocate,
                handler: .blocking { _ in
                    let output = try StorageScan.run(
                        ["vgs", "--noheadings", "--units", "b", "--nosuffix", "--separator", ":", "-o", "vg_name,vg_size,vg_free"], package: "lvm2")
                    return .array(StorageScan.volumeGroups(output).map { ["vg": .string($0.vg), "size": .int($0.size), "free": .int($0.free)] })
                }),
            Endpoint(
                pve: "GET /nodes/{node}/scan/lvmthin", description: "The thin pools of a volume group (lvs).",
                returns: .array(of: .object(["lv": .string()], additionalProperties: true)), permission: allocate,
                handler: .blocking { context in
                    let vg = try context.require("vg")
                    let output = try StorageScan.run(
                        [
                            "lvs", "--noheadings", "--units", "b", "--nosuffix", "--separator", ":", "-o", "lv_name,lv_attr,lv_size,lv_metadata_size",
                            vg,
                        ], package: "lvm2")
                    return .array(
                        StorageScan.thinPools(output).map {
                            ["lv": .string($0.lv), "lv_size": .int($0.size), "metadata_size": .int($0.metadataSize), "vg": .string(vg)]
                        })
                }),
            Endpoint(
                pve: "GET /nodes/{node}/scan/zfs", description: "ZFS pools and datasets (zfs list).",
                returns: .array(of: .object(["pool": .string()], additionalProperties: true)), permission: allocate,
                handler: .blocking { _ in
                    let output = try StorageScan.run(["zfs", "list", "-t", "filesystem", "-Hp", "-o", "name,avail,used"], package: "zfsutils-linux")
                    return .array(StorageScan.zfsPools(output).map { ["pool": .string($0.pool), "size": .int($0.size), "free": .int($0.free)] })
                }),
            Endpoint(
                pve: "GET /nodes/{node}/scan/nfs", description: "A server's NFS exports (showmount).",
                returns: .array(of: .object(["path": .string(), "options": .string()])), permission: allocate,
                handler: .blocking { context in
                    let server = try context.require("server")
                    let output = try StorageScan.run(["showmount", "--no-headers", "--exports", server], package: "nfs-common")
                    return .array(StorageScan.nfsExports(output).map { ["path": .string($0.path), "options": .string($0.options)] })
                }),
            Endpoint(
                pve: "GET /nodes/{node}/scan/iscsi",
                description: "The targets an iSCSI portal offers (libiscsi's iscsi-ls: no kernel initiator needed).",
                returns: .array(of: .object(["target": .string(), "portal": .string()])), permission: allocate,
                handler: .blocking { context in
                    let portal = try context.require("portal")
                    let output = try StorageScan.run(["iscsi-ls", "-s", "iscsi://\(portal)"], package: "libiscsi-bin")
                    return .array(StorageScan.iscsiTargets(output).map { ["target": .string($0.target), "portal": .string($0.portal)] })
                }),
            Endpoint(
                pve: "GET /nodes/{node}/scan/cifs", description: "The disk shares an SMB/CIFS server offers (smbclient).",
                returns: .array(of: .object(["share": .string(), "description": .string()])), permission: allocate,
                handler: .blocking { context in
                    let server = try context.require("server")
                    var command = ["smbclient", "-g", "-d", "0", "-m", "smb3", "-L", "//\(server)"]
                    if let user = context.string("username") {
                        // the password goes through the environment, never the command line
                        command = ["env", "PASSWD=\(context.string("password") ?? "")"] + command + ["-U", user]
                        if let domain = context.string("domain") { command += ["-W", domain] }
                    } else {
                        command.append("-N")
                    }
                    let output = try StorageScan.run(command, package: "smbclient")
                    return .array(StorageScan.cifsShares(output).map { ["share": .string($0.share), "description": .string($0.description)] })
                }),
        ]
    }
}

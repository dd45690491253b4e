import API
import Foundation
import Schema
import Storage

/// `/nodes/{node}/hardware/*`, `/nodes/{node}/capabilities/qemu/*` and `/nodes/{node}/disks/list`.
enum NodeHardwareEndpoints {
    static func all() -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /nodes/{node}/hardware", description: "Index of the hardware listings.",
                returns: .array(of: .object(["type": .string()])), permission: .anyUser, childKey: "type",
                handler: .sync { _ in .array([["type": "pci"], ["type": "usb"]]) }),
            Endpoint(
                pve: "GET /nodes/{node}/hardware/pci", description: "PCI devices (for passthrough), from sysfs.",
                returns: .array(of: .object(["id": .string()], additionalProperties: true)),
                permission: .privileges(path: "/", ["Sys.Audit", "Sys.Modify"], any: true), childKey: "id",
                handler: .blocking { context in
                    let list = context.string("pci-class-blacklist") ?? "05;06;0b"
                    let blacklist = Set(list.split(whereSeparator: { $0 == ";" || $0 == "," }).map { $0.lowercased() })
                    return try json(NodeHardware.pciDevices(blacklist: blacklist))
                }),
            Endpoint(
                pve: "GET /nodes/{node}/hardware/usb", description: "USB devices (for passthrough), from sysfs.",
                returns: .array(of: .object(["busnum": .integer()], additionalProperties: true)),
                permission: .privileges(path: "/", ["Sys.Modify"]),
                handler: .blocking { _ in try json(NodeHardware.usbDevices()) }),
            Endpoint(
                pve: "GET /nodes/{node}/capabilities", description: "Index of what this node's hypervisors offer.",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .anyUser, childKey: "name",
                handler: .sync { _ in .array([["name": "qemu"]]) }),
            Endpoint(
                pve: "GET /nodes/{node}/capabilities/qemu", description: "Index of QEMU's capabilities.",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .anyUser, childKey: "name",
                handler: .sync { _ in .array([["name": "cpu"], ["name": "machines"]]) }),
            Endpoint(
                pve: "GET /nodes/{node}/capabilities/qemu/cpu", description: "The CPU models this node's QEMU offers.",
                returns: .array(of: .object(["name": .string()], additionalProperties: true)), permission: .anyUser, childKey: "name",
                handler: .blocking { context in try json(NodeHardware.cpuModels(try qemuHelp(context, "-cpu"))) }),
            Endpoint(
                pve: "GET /nodes/{node}/capabilities/qemu/machines", description: "The machine types this node's QEMU offers.",
                returns: .array(of: .object(["id": .string()], additionalProperties: true)), permission: .anyUser,
                handler: .blocking { context in try json(NodeHardware.machineTypes(try qemuHelp(context, "-machine"))) }),
            Endpoint(
                pve: "GET /nodes/{node}/disks/list", description: "The node's disks, their kind and what uses them (lsblk).",
                returns: .array(of: .object(["devpath": .string()], additionalProperties: true)),
                permission: .or([.privileges(path: "/", ["Sys.Audit"]), .privileges(path: "/nodes/{node}", ["Sys.Audit"])]),
                handler: .blocking { context in
                    let output = try StorageScan.run(
                        [
                            "lsblk", "-J", "-b", "-o", "NAME,PATH,SIZE,TYPE,MODEL,SERIAL,VENDOR,WWN,ROTA,TRAN,MOUNTPOINT,FSTYPE,PTTYPE",
                        ], package: "util-linux")
                    var disks = NodeHardware.disks(lsblk: output, includePartitions: context.bool("include-partitions") ?? false)
                    if context.string("type") == "unused" { disks = disks.filter { $0["used"] == nil } }
                    return try json(disks)
                }),
        ]
    }

    static func qemuHelp(_ context: RequestContext, _ option: String) throws -> String {
        let binary = context.string("arch") == "aarch64" ? "qemu-system-aarch64" : "qemu-system-x86_64"
        return try StorageScan.run([binary, option, "help"], package: context.string("arch") == "aarch64" ? "qemu-system-arm" : "qemu-system-x86")
    }

    /// Foundation values as JSON (the readers are plain dictionaries so tests need no API types).
    static func json(_ rows: [[String: Any]]) throws -> JSON {
        let data = try JSONSerialization.data(withJSONObject: rows)
        return try JSONParser.parse(Array(data))
    }
}

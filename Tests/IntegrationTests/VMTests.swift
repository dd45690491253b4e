import Foundation
import TestSupport
import Testing

/// Virtual machines through the HTTP API against a real libvirtd and QEMU: the tiny guest
/// (`Tests/Guest/tiny-guest.sh`) boots under software emulation (`kvm: 0`, since /dev/kvm here is PVM)
/// and prints a marker on its serial console.
@Suite(.serialized) struct VMTests {
    static let prefix = "corral-test-vmt-"

    /// Starts libvirtd if needed and builds the tiny guest ISO (both idempotent); returns the ISO.
    static func prepare() throws -> String {
        let repo = NodeProcess.repository
        let out = repo + "/.build/tiny-guest"
        // output goes to a file: libvirtd daemonizes and would hold a pipe open forever
        try FileManager.default.createDirectory(atPath: repo + "/.build", withIntermediateDirectories: true)
        let script =
            "cd '\(repo)' && bash Tests/Guest/libvirt-up.sh >\(out).log 2>&1 && bash Tests/Guest/tiny-guest.sh \(out) >>\(out).log 2>&1 || { cat \(out).log; exit 1; }"
        let r = try runCommand("/bin/bash", ["-c", script])
        guard r.status == 0 else { throw TestFailure("libvirt or the tiny guest is not ready: \(r.stdout)\(r.stderr)") }
        return out + "/tiny.iso"
    }

    static func destroyTestDomains() {
        guard let r = try? runCommand("/usr/bin/virsh", ["-c", "qemu:///system", "list", "--name"]) else { return }
        for name in r.stdout.split(separator: "\n") where name.hasPrefix(prefix) {
            _ = try? runCommand("/usr/bin/virsh", ["-c", "qemu:///system", "destroy", String(name)])
        }
    }

    static func startNode() throws -> NodeProcess {
        destroyTestDomains()
        let node = try NodeProcess(name: "vmt", extraArguments: ["--local", "--set", "domain-prefix=\(prefix)"])
        try node.bootstrapAdmin()
        return node
    }

    static func json(_ text: String) -> [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:] }

    /// Runs an async API call and waits for its task; returns the task's exit status text.
    @discardableResult
    static func task(_ node: NodeProcess, _ method: String, _ path: String, _ form: [String] = [], timeout: Double = 120) throws -> String {
        let r = try curl(node, "/api2/json" + path, ["-X", method] + form.flatMap { ["--data-urlencode", $0] })
        guard r.status == 200, let upid = json(r.body)["data"] as? String else { throw TestFailure("\(method) \(path): \(r.status) \(r.body)") }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let s = json(try curl(node, "/api2/json/nodes/\(node.nodeName)/tasks/\(upid)/status").body)["data"] as? [String: Any]
            if s?["status"] as? String == "stopped" { return s?["exitstatus"] as? String ?? "?" }
            usleep(100_000)
        }
        throw TestFailure("\(method) \(path): task \(upid) still running after \(Int(timeout)) s")
    }

    static func status(_ node: NodeProcess, _ vmid: Int) throws -> [String: Any] {
        json(try curl(node, "/api2/json/nodes/vmt/qemu/\(vmid)/status/current").body)["data"] as? [String: Any] ?? [:]
    }

    /// Waits until the VM's serial console log holds the tiny guest's marker `count` times.
    static func waitForMarker(_ node: NodeProcess, _ vmid: Int, count: Int = 1, timeout: Double = 90) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let log = (try? String(contentsOfFile: node.dataDirectory + "/log/\(vmid).serial0.log", encoding: .isoLatin1)) ?? ""
            if log.components(separatedBy: "CORRAL-TINY-GUEST-READY").count - 1 >= count { return true }
            usleep(200_000)
        }
        return false
    }

    @Test func lifecycleThroughTheAPI() throws {
        let iso = try Self.prepare()
        let node = try Self.startNode()
        defer {
            Self.destroyTestDomains()
            _ = node.terminate()
        }
        // the ISO goes up through the API as a multipart upload (streamed to disk), checksum verified
        let sha = try runCommand("/usr/bin/sha256sum", [iso]).stdout.split(separator: " ").first.map(String.init) ?? ""
        let bad = try curl(node, "/api2/json/nodes/vmt/storage/local/upload", ["-F", "content=iso", "-F", "filename=@\(iso);filename=tiny.sh"])
        #expect(bad.status == 400 && bad.body.contains("filename"), "\(bad)")
        let upload = try curl(
            node, "/api2/json/nodes/vmt/storage/local/upload",
            [
                "-F", "content=iso", "-F", "checksum=\(sha)", "-F", "checksum-algorithm=sha256", "-F", "filename=@\(iso)",
            ])
        #expect(upload.status == 200, "\(upload)")
        if let upid = Self.json(upload.body)["data"] as? String {
            var done = false
            for _ in 0..<100 where !done {
                let s = Self.json(try curl(node, "/api2/json/nodes/vmt/tasks/\(upid)/status").body)["data"] as? [String: Any]
                done = s?["status"] as? String == "stopped"
                if done { #expect(s?["exitstatus"] as? String == "OK") } else { usleep(100_000) }
            }
        }
        #expect(FileManager.default.contentsEqual(atPath: iso, andPath: node.dataDirectory + "/vz/template/iso/tiny.iso"))
        let content = try curl(node, "/api2/json/nodes/vmt/storage/local/content?content=iso")
        #expect(content.body.contains("local:iso/tiny.iso"))

        // create with kvm: 0 and a new qcow2 disk, boot from the ISO
        #expect(
            try Self.task(
                node, "POST", "/nodes/vmt/qemu",
                [
                    "vmid=100", "name=tiny", "memory=256", "kvm=0", "scsihw=virtio-scsi-pci", "scsi0=local:1,format=qcow2",
                    "ide2=local:iso/tiny.iso,media=cdrom", "net0=virtio", "boot=order=ide2;scsi0", "serial0=socket",
                ]) == "OK")
        let config = Self.json(try curl(node, "/api2/json/nodes/vmt/qemu/100/config").body)["data"] as? [String: Any] ?? [:]
        #expect((config["scsi0"] as? String) == "local:100/vm-100-disk-0.qcow2,size=1G")
        #expect((config["net0"] as? String)?.hasPrefix("virtio=") == true, "a MAC is generated once and kept")
        #expect((config["digest"] as? String)?.count == 40)

        // start → the marker on the serial console → running with real counters
        #expect(try Self.task(node, "POST", "/nodes/vmt/qemu/100/status/start") == "OK")
        #expect(Self.waitForMarker(node, 100), "the guest's marker never reached the serial console")
        let s = try Self.status(node, 100)
        #expect(s["status"] as? String == "running")
        #expect(s["qmpstatus"] as? String == "running")
        #expect((s["pid"] as? Int ?? 0) > 0)
        #expect((s["mem"] as? Int ?? 0) > 0)
        #expect((s["diskread"] as? Int ?? 0) > 0, "the guest read its boot medium")
        #expect((s["maxmem"] as? Int) == 256 << 20)
        let resources = try curl(node, "/api2/json/cluster/resources?type=vm").body
        #expect(resources.contains("\"id\":\"qemu/100\""))
        #expect(resources.contains("\"vmid\":100"))

        // suspend / resume
        #expect(try Self.task(node, "POST", "/nodes/vmt/qemu/100/status/suspend") == "OK")
        #expect(try Self.status(node, 100)["qmpstatus"] as? String == "paused")
        #expect(try Self.task(node, "POST", "/nodes/vmt/qemu/100/status/resume") == "OK")
        #expect(try Self.status(node, 100)["qmpstatus"] as? String == "running")

        // suspend to disk (hibernate): memory goes to a state volume, the VM stops, resume brings it back
        #expect(try Self.task(node, "POST", "/nodes/vmt/qemu/100/status/suspend", ["todisk=1"]) == "OK")
        let hibernated = Self.json(try curl(node, "/api2/json/nodes/vmt/qemu/100/config").body)["data"] as? [String: Any] ?? [:]
        #expect(hibernated["lock"] as? String == "suspended")
        #expect((hibernated["vmstate"] as? String)?.hasPrefix("local:100/vm-100-state-suspend-") == true)
        #expect(try Self.status(node, 100)["qmpstatus"] as? String == "suspended")
        #expect(try Self.task(node, "POST", "/nodes/vmt/qemu/100/status/resume") == "OK")
        #expect(try Self.status(node, 100)["qmpstatus"] as? String == "running")
        let resumed = Self.json(try curl(node, "/api2/json/nodes/vmt/qemu/100/config").body)["data"] as? [String: Any] ?? [:]
        #expect(resumed["lock"] == nil && resumed["vmstate"] == nil, "\(resumed)")
        let stateFiles = try FileManager.default.contentsOfDirectory(atPath: node.dataDirectory + "/vz/images/100").filter { $0.contains("state") }
        #expect(stateFiles.isEmpty, "the state volume stays after resuming: \(stateFiles)")

        // snapshot with RAM state (qcow2), then rollback: running again where it was
        #expect(try Self.task(node, "POST", "/nodes/vmt/qemu/100/snapshot", ["snapname=s1", "vmstate=1", "description=first"]) == "OK")
        let snapshots = try curl(node, "/api2/json/nodes/vmt/qemu/100/snapshot").body
        #expect(snapshots.contains("\"name\":\"s1\"") && snapshots.contains("\"parent\":\"s1\""))
        #expect(try Self.task(node, "POST", "/nodes/vmt/qemu/100/snapshot/s1/rollback") == "OK")
        #expect(try Self.status(node, 100)["qmpstatus"] as? String == "running")
        #expect(try Self.task(node, "DELETE", "/nodes/vmt/qemu/100/snapshot/s1") == "OK")

        // ACPI shutdown: the guest powers itself off
        #expect(try Self.task(node, "POST", "/nodes/vmt/qemu/100/status/shutdown", ["timeout=60"]) == "OK")
        #expect(try Self.status(node, 100)["status"] as? String == "stopped")

        // full clone, template, linked clone that boots
        #expect(try Self.task(node, "POST", "/nodes/vmt/qemu/100/clone", ["newid=101", "name=full-copy", "full=1"]) == "OK")
        let clone = Self.json(try curl(node, "/api2/json/nodes/vmt/qemu/101/config").body)["data"] as? [String: Any] ?? [:]
        #expect((clone["scsi0"] as? String)?.hasPrefix("local:101/vm-101-disk-0.qcow2") == true)
        #expect(clone["net0"] as? String != config["net0"] as? String, "a clone gets its own MAC")
        #expect(try Self.task(node, "POST", "/nodes/vmt/qemu/100/template") == "OK")
        let template = Self.json(try curl(node, "/api2/json/nodes/vmt/qemu/100/config").body)["data"] as? [String: Any] ?? [:]
        #expect(template["template"] as? Int == 1)
        #expect((template["scsi0"] as? String)?.hasPrefix("local:100/base-100-disk-0.qcow2") == true)
        #expect(try Self.task(node, "POST", "/nodes/vmt/qemu/100/clone", ["newid=102", "name=linked"]) == "OK")
        let linked = Self.json(try curl(node, "/api2/json/nodes/vmt/qemu/102/config").body)["data"] as? [String: Any] ?? [:]
        #expect((linked["scsi0"] as? String)?.hasPrefix("local:100/base-100-disk-0.qcow2/102/vm-102-disk-0.qcow2") == true)
        #expect(try Self.task(node, "POST", "/nodes/vmt/qemu/102/status/start") == "OK")
        #expect(Self.waitForMarker(node, 102), "the linked clone did not boot")
        #expect(try Self.task(node, "POST", "/nodes/vmt/qemu/102/status/stop") == "OK")
        // the template cannot go while its linked clone exists
        #expect(try Self.task(node, "DELETE", "/nodes/vmt/qemu/100").contains("linked clone"))

        // destroy everything: nothing left in libvirt, on disk or in the config
        for vmid in [102, 101, 100] { #expect(try Self.task(node, "DELETE", "/nodes/vmt/qemu/\(vmid)") == "OK") }
        let images = (try? FileManager.default.subpathsOfDirectory(atPath: node.dataDirectory + "/vz/images")) ?? []
        #expect(images.isEmpty, "left on disk: \(images)")
        let configs = try FileManager.default.contentsOfDirectory(atPath: node.mountpoint + "/nodes/vmt/qemu-server")
        #expect(configs.isEmpty, "left in the config: \(configs)")
        let domains = try runCommand("/usr/bin/virsh", ["-c", "qemu:///system", "list", "--all", "--name"]).stdout
        #expect(!domains.contains(Self.prefix), "left in libvirt: \(domains)")
    }

    @Test func badInputIsRefusedAndLeavesNothing() throws {
        _ = try Self.prepare()
        let node = try Self.startNode()
        defer {
            Self.destroyTestDomains()
            _ = node.terminate()
        }
        func create(_ form: [String]) throws -> (status: Int, errors: [String: Any]) {
            let r = try curl(node, "/api2/json/nodes/vmt/qemu", ["-X", "POST"] + form.flatMap { ["--data-urlencode", $0] })
            return (r.status, Self.json(r.body)["errors"] as? [String: Any] ?? [:])
        }
        #expect(try Self.task(node, "POST", "/nodes/vmt/qemu", ["vmid=100", "memory=128"]) == "OK")
        // a used VMID is a plain 500 naming the owner, as PVE's check_vmid_unused
        let taken = try curl(node, "/api2/json/nodes/vmt/qemu", ["-X", "POST", "-d", "vmid=100", "-d", "memory=128"])
        #expect(
            taken.status == 500 && Self.json(taken.body)["message"] as? String == "unable to create VM 100 - VM 100 already exists on node 'vmt'\n")
        let cases: [([String], String)] = [
            (["vmid=99"], "vmid"),
            (["vmid=103", "scsi0=nosuch:1"], "scsi0"),
            (["vmid=104", "net0=virtio,tag=abc"], "net0"),
            (["vmid=105", "memory=8"], "memory"),
            (["vmid=106", "no-such-option=1"], "no-such-option"),
            (["vmid=107", "scsi0=local:1,format=qcow3"], "scsi0"),
        ]
        for (form, parameter) in cases {
            let (status, errors) = try create(form)
            #expect(status == 400, "\(form) gave \(status)")
            #expect(errors[parameter] != nil, "\(form): errors \(errors) do not name \(parameter)")
        }
        // a create that fails half-way (the second disk's storage cannot allocate) undoes the first disk
        let cfg = node.mountpoint + "/storage.cfg"
        let storage = try String(contentsOfFile: cfg, encoding: .utf8)
        try (storage + "\ndir: broken\n\tpath /proc/corral-cannot-exist\n\tcontent images\n").write(toFile: cfg, atomically: false, encoding: .utf8)
        let result = try Self.task(node, "POST", "/nodes/vmt/qemu", ["vmid=108", "scsi0=local:1", "scsi1=broken:1"])
        #expect(result != "OK")
        #expect(!FileManager.default.fileExists(atPath: node.mountpoint + "/nodes/vmt/qemu-server/108.conf"), "the failed create left its config")
        let images = (try? FileManager.default.subpathsOfDirectory(atPath: node.dataDirectory + "/vz/images")) ?? []
        #expect(images.isEmpty, "the failed create left volumes: \(images)")
        let vms = Self.json(try curl(node, "/api2/json/nodes/vmt/qemu").body)["data"] as? [[String: Any]] ?? []
        #expect(vms.map { $0["vmid"] as? Int } == [100])
        // a start that fails leaves the VM stopped with the reason in its task
        let put = try curl(node, "/api2/json/nodes/vmt/qemu/100/config", ["-X", "PUT", "--data-urlencode", "audio0=device=AC97"])
        #expect(put.status == 200, "an option this build cannot run is still accepted and stored: \(put.body)")
        let start = try Self.task(node, "POST", "/nodes/vmt/qemu/100/status/start")
        #expect(start.contains("audio0"), "start should name the option it cannot apply: \(start)")
        #expect(try Self.status(node, 100)["status"] as? String == "stopped")
    }
}

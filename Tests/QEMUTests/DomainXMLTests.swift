import Foundation
import Guests
import TestSupport
import Testing

@testable import QEMU

/// Golden tests of the config → domain XML translation: `Fixtures/<case>.conf` must give
/// `Fixtures/<case>.xml` byte for byte, and libvirt's own schema must accept it. Regenerate the
/// goldens after an intended change with `CORRAL_REGENERATE_GOLDENS=1 swift test --filter DomainXMLTests`.
@Suite struct DomainXMLTests {
    static let fixtures: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? [])
            .filter { $0.hasSuffix(".conf") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// Paths that do not depend on the machine: `local:…` under /var/lib/vz, `local-lvm:…` as block devices.
    static func context(vmid: Int) -> DomainContext {
        DomainContext(
            domainName: "\(vmid)", vmid: vmid, node: "golden", runDirectory: "/run/corral", logDirectory: "/var/log/corral/qemu",
            resolve: { volid in
                let parts = volid.split(separator: ":", maxSplits: 1).map(String.init)
                if parts[0] == "local-lvm" { return ("/dev/pve/" + parts[1].split(separator: "/").last!, true) }
                let name = parts[1]
                if name.hasPrefix("iso/") { return ("/var/lib/vz/template/iso/" + name.dropFirst(4), false) }
                return ("/var/lib/vz/images/" + name, false)
            })
    }

    /// A fixture's VMID is the owner of its disks (`vm-103-disk-0` → 103), so adding a fixture never
    /// renumbers the others.
    static func vmid(of config: String) -> Int {
        config.firstMatch(of: /vm-(\d+)-disk/).flatMap { Int($0.1) } ?? 100
    }

    @Test(arguments: cases) func configGivesGoldenXML(_ name: String) throws {
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent(name + ".conf"), encoding: .utf8)
        let config = try GuestConfig.parse(text)
        let vmid = Self.vmid(of: text)
        let xml = try DomainXML.generate(VMConfig(config.current), context: Self.context(vmid: vmid))
        let golden = Self.fixtures.appendingPathComponent(name + ".xml")
        if ProcessInfo.processInfo.environment["CORRAL_REGENERATE_GOLDENS"] == "1" {
            try xml.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(xml == expected, "\(name): the domain XML changed; regenerate the golden if intended")
        // libvirt's RelaxNG schema is the judge of validity
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/virt-xml-validate") {
            let path = NSTemporaryDirectory() + "corral-golden-\(name)-\(UUID().uuidString).xml"
            try xml.write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let r = try runCommand("/usr/bin/virt-xml-validate", [path, "domain"])
            #expect(r.status == 0, "virt-xml-validate rejected \(name): \(r.stdout)\(r.stderr)")
        }
    }

    @Test func goldensCoverWhatTheIssueLists() {
        #expect(Self.cases.count >= 4)
    }

    @Test func unsupportedOptionsAreRefusedByName() throws {
        let config = try GuestConfig.parse("memory: 512\nhostpci0: 0000:01:00.0\naudio0: device=AC97\nscsi0: local:100/vm-100-disk-0.qcow2\n")
        #expect(throws: DomainXML.Unsupported.self) { try DomainXML.generate(VMConfig(config.current), context: Self.context(vmid: 100)) }
        #expect(DomainXML.unsupported(VMConfig(config.current)) == ["audio0", "hostpci0"])
    }

    @Test func ideOnQ35IsRefusedWithAFix() throws {
        let config = try GuestConfig.parse("machine: q35\nide0: local:100/vm-100-disk-0.qcow2\n")
        #expect(throws: DomainXMLError.self) { try DomainXML.generate(VMConfig(config.current), context: Self.context(vmid: 100)) }
    }

    @Test func targetsFollowPVEsBusLayout() {
        func drive(_ bus: String, _ index: Int) -> VMConfig.Drive {
            VMConfig.Drive(key: "\(bus)\(index)", bus: bus, index: index, file: "x", options: [:])
        }
        #expect(DomainXML.target(drive("scsi", 0)) == "sda")
        #expect(DomainXML.target(drive("virtio", 1)) == "vdb")
        #expect(DomainXML.target(drive("ide", 2)) == "hdc")
        #expect(DomainXML.target(drive("scsi", 26)) == "sdaa")
        #expect(DomainXML.target(drive("sata", 0)) != DomainXML.target(drive("scsi", 0)))
    }
}

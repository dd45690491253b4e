import Foundation
import Guests
import Testing

@testable import Containers

/// Golden tests for config → liblxc configuration: `Fixtures/<case>.conf` against `<case>.lxc`.
/// Regenerate with `CORRAL_REGENERATE_GOLDENS=1 swift test --filter LXCConfigBuilderTests`.
struct LXCConfigBuilderTests {
    static let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    static let sourceFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? []).filter { $0.hasSuffix(".conf") }.map { String($0.dropLast(5)) }
            .sorted()
    }

    /// A node with Debian's liblxc snippets, eight CPUs and fixed paths; volumes resolve by their names.
    static func context(cgroupV2: Bool) -> LXCConfigBuilder.Context {
        var context = LXCConfigBuilder.Context(vmid: 100, logFile: "/var/log/corral/qemu/lxc-100.log", mountHook: "/run/corral/lxc-mount-hook") {
            volid in
            if volid.hasPrefix("thin:") { return ("/dev/pve/" + volid.dropFirst(5), .block) }
            let name = volid.split(separator: ":", maxSplits: 1).last.map(String.init) ?? volid
            return ("/var/lib/vz/images/" + name, name.contains("subvol-") ? .directory : .image)
        }
        context.availableSnippets = ["common.conf", "userns.conf", "debian.common.conf", "debian.userns.conf", "alpine.common.conf"]
        context.cgroupV2 = cgroupV2
        context.hostCPUs = 8
        context.seccompFile = "/var/lib/lxc/100/seccomp"
        return context
    }

    @Test(arguments: cases) func golden(_ name: String) throws {
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent(name + ".conf"), encoding: .utf8)
        let config = try GuestConfig.parse(text)
        let lines = try LXCConfigBuilder.lines(CTConfig(config.current), context: Self.context(cgroupV2: name.contains("cgroup2")))
        let generated = LXCConfigBuilder.text(lines)
        if ProcessInfo.processInfo.environment["CORRAL_REGENERATE_GOLDENS"] == "1" {
            try generated.write(to: Self.sourceFixtures.appendingPathComponent(name + ".lxc"), atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: Self.fixtures.appendingPathComponent(name + ".lxc"), encoding: .utf8)
        #expect(generated == expected)
    }

    @Test func rawKeysRepeatAndKeepTheirOrderThroughARoundTrip() throws {
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent("everything.conf"), encoding: .utf8)
        let config = try GuestConfig.parse(text)
        #expect(config.current.lxc.map(\.key) == ["lxc.cgroup.devices.allow", "lxc.mount.entry"])
        #expect(config.serialized() == text)
    }

    @Test func featuresThisBuildCannotGiveAreRefusedByName() throws {
        var section = GuestConfig.Section()
        section["rootfs"] = "local:100/vm-100-disk-0.raw,size=1G"
        section["features"] = "mknod=1"
        #expect(throws: GuestError.self) { try LXCConfigBuilder.lines(CTConfig(section), context: Self.context(cgroupV2: false)) }
        section["features"] = "nesting=1"
        let lines = try LXCConfigBuilder.lines(CTConfig(section), context: Self.context(cgroupV2: false))
        #expect(lines.contains { $0 == ("lxc.mount.auto", "proc:rw sys:rw cgroup:rw:force") })
    }

    @Test func keyctlIsNotImplementedForUnprivilegedContainersUnlessTheFeatureAsksForIt() {
        var section = GuestConfig.Section()
        section["unprivileged"] = "1"
        #expect(LXCConfigBuilder.seccompProfile(CTConfig(section)).hasSuffix("delete_module errno 1\nkeyctl errno 38\n"))
        section["features"] = "keyctl=1"
        #expect(!LXCConfigBuilder.seccompProfile(CTConfig(section)).contains("keyctl"))
        section["unprivileged"] = "0"
        section["features"] = nil
        #expect(!LXCConfigBuilder.seccompProfile(CTConfig(section)).contains("keyctl"))
        #expect(LXCConfigBuilder.seccompProfile(CTConfig(section)).hasPrefix("2\ndenylist\n"))
    }

    @Test func aContainerWithoutRootFileSystemIsRefused() {
        #expect(throws: GuestError.self) { try LXCConfigBuilder.lines(CTConfig(GuestConfig.Section()), context: Self.context(cgroupV2: false)) }
    }

    @Test func guestFilesAreWrittenWithoutFollowingTheGuestsSymlinks() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("corral-rootfs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        let outside = root + "-outside"
        defer { try? FileManager.default.removeItem(atPath: outside) }
        try "host file\n".write(toFile: outside, atomically: true, encoding: .utf8)
        // a guest's resolv.conf pointing at a host file must be replaced, not written through
        try FileManager.default.createSymbolicLink(atPath: root + "/etc/resolv.conf", withDestinationPath: outside)
        var section = GuestConfig.Section()
        section["hostname"] = "guest"
        section["nameserver"] = "10.0.0.1"
        section["net0"] = "name=eth0,bridge=vmbr0,ip=dhcp"
        let setup = RootfsSetup(root: root, owner: getuid())
        try setup.apply(config: CTConfig(section), ostype: "debian")
        try setup.setRootPassword("pw")
        #expect(try String(contentsOfFile: outside, encoding: .utf8) == "host file\n")
        #expect(try String(contentsOfFile: root + "/etc/resolv.conf", encoding: .utf8) == "nameserver 10.0.0.1\n")
        #expect(try String(contentsOfFile: root + "/etc/hostname", encoding: .utf8) == "guest\n")
        #expect(try String(contentsOfFile: root + "/etc/network/interfaces", encoding: .utf8).contains("iface eth0 inet dhcp"))
        #expect(try String(contentsOfFile: root + "/etc/shadow", encoding: .utf8).hasPrefix("root:$6$"))
        #expect(RootfsSetup.detectOSType(root: root) == "unmanaged")
    }
}

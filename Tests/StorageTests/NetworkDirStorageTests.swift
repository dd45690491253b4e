import Foundation
import Schema
import Testing

@testable import Storage

/// The mount commands of network file storages (these machines cannot mount NFS, CIFS or CephFS:
/// the real mounts are not tested here; StorageConfigTests checks the refusal).
@Suite struct NetworkDirStorageTests {
    static func entry(_ type: String, _ options: [(String, String)]) -> StorageConfig.Entry {
        var section = SectionConfig.Section(type: type, id: "share")
        for (key, value) in options { section.options.append(.init(key, value)) }
        return section
    }

    @Test func nfsMountsServerExportAtItsPath() throws {
        let nfs = try NetworkDirStorage(
            kind: .nfs, entry: Self.entry("nfs", [("server", "10.0.0.5"), ("export", "/srv/vm"), ("options", "vers=4.2")]))
        #expect(nfs.mountCommand(credentials: nil) == ["mount", "-t", "nfs", "-o", "vers=4.2", "10.0.0.5:/srv/vm", "/mnt/pve/share"])
        #expect(try nfs.path("iso/x.iso") == "/mnt/pve/share/template/iso/x.iso")
        #expect(nfs.capabilities.contains(.shared))
    }

    @Test func cifsPassesItsSecretInACredentialsFile() throws {
        let cifs = try NetworkDirStorage(
            kind: .cifs,
            entry: Self.entry(
                "cifs",
                [
                    ("server", "fe80::1"), ("share", "vms"), ("subdir", "pve"), ("username", "corral"), ("domain", "LAB"), ("smbversion", "3.11"),
                    ("password", "s3cret"), ("path", "/mnt/cifs"),
                ]))
        let command = cifs.mountCommand(credentials: "/run/cred")
        #expect(
            command == [
                "mount", "-t", "cifs", "-o", "username=corral,credentials=/run/cred,domain=LAB,vers=3.11", "//[fe80::1]/vms/pve", "/mnt/cifs",
            ])
        #expect(!command.joined(separator: " ").contains("s3cret"))
        let guest = try NetworkDirStorage(kind: .cifs, entry: Self.entry("cifs", [("server", "nas"), ("share", "iso")]))
        #expect(guest.mountCommand(credentials: nil) == ["mount", "-t", "cifs", "-o", "guest", "//nas/iso", "/mnt/pve/share"])
    }

    @Test func cephfsNamesItsMonitorsAndFileSystem() throws {
        let ceph = try NetworkDirStorage(
            kind: .cephfs, entry: Self.entry("cephfs", [("monhost", "10.0.0.1 10.0.0.2;10.0.0.3"), ("username", "corral"), ("fs-name", "cephfs")]))
        #expect(
            ceph.mountCommand(credentials: "/run/secret") == [
                "mount", "-t", "ceph", "-o", "name=corral,secretfile=/run/secret,fs=cephfs", "10.0.0.1,10.0.0.2,10.0.0.3:/", "/mnt/pve/share",
            ])
    }

    @Test func anUnmountedShareIsNotReadAsAnEmptyDirectory() throws {
        let nfs = try NetworkDirStorage(kind: .nfs, entry: Self.entry("nfs", [("server", "x"), ("export", "/e"), ("path", "/tmp")]))
        #expect(!nfs.isMounted)
        #expect(throws: StorageError.self) { try nfs.list(content: nil, vmid: nil) }
        #expect(throws: StorageError.self) { try nfs.status() }
    }
}

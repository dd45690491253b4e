import Blocking
import Foundation
import Glibc
import Guests
import LXC
import Schema
import Storage

extension ContainerManager {
    /// Grows a volume (never shrinks): the image, then its ext4 file system, online when the
    /// container runs (through the loop device liblxc attached).
    public func resize(_ vmid: Int, disk: String, size: String, digest: String?, log: @escaping @Sendable (String) -> Void) async throws {
        try await locks.with(vmid, what: "resize CT \(vmid)") {
            try await BlockingExecutor.shared.run { [self] in
                let (config, current) = try load(vmid)
                if let digest, digest != current { throw GuestError(500, "detected modified configuration - file changed by other user? Try again.") }
                try store.checkLock(config, vmid)
                guard let value = config.current[disk], let format = CTOptionSchema.format(disk), CTOptionSchema.isVolume(disk),
                    !disk.hasPrefix("unused")
                else {
                    throw GuestError.parameter("disk", "CT \(vmid) has no volume '\(disk)'")
                }
                var props = try PropertyString.parse(value, format: format)
                guard let volid = props["volume"]?.plainText, let id = VolumeID(volid) else {
                    throw GuestError.parameter("disk", "'\(disk)' is a bind mount")
                }
                let plugin = try storage.plugin(id.storage)
                let now = try plugin.size(id.name)
                guard now > 0 else { throw GuestError(400, "'\(volid)' is a directory volume without a size") }
                let grow = size.hasPrefix("+")
                guard let amount = DiskSize.bytes(grow ? String(size.dropFirst()) : size) else {
                    throw GuestError.parameter("size", "invalid size '\(size)'")
                }
                let target = grow ? now + amount : amount
                guard target >= now else {
                    throw GuestError(400, "shrinking volumes is not supported (\(DiskSize.text(now)) → \(DiskSize.text(target)))")
                }
                if target == now { return log("\(volid) is already \(DiskSize.text(now))") }
                try plugin.resize(id.name, to: target)
                let path = try plugin.path(id.name)
                let loop = (try? Command.run(["losetup", "-j", path]))?.split(separator: ":").first.map(String.init)
                if isRunning(vmid), let loop, !loop.isEmpty, let pid = try container(vmid).initPID {
                    // the file system is mounted only in the container's namespace: the loop device
                    // learns the new size, then ext4 grows through a directory of it, as resize2fs would
                    do {
                        _ = try Command.run(["losetup", "-c", loop])
                        try Self.growMountedExt4(at: "/proc/\(pid)/root" + (props["mp"]?.plainText ?? "/"), to: target)
                    } catch {
                        // (a host without CAP_SYS_RESOURCE): the file system catches up before the next start
                        try "".write(toFile: growMarker(vmid, disk), atomically: true, encoding: .utf8)
                        log("the file system cannot grow while mounted here (\(error)); it grows at the next start")
                    }
                } else {
                    try growFileSystem(path)
                }
                props["size"] = .string(DiskSize.text(target))
                try store.modify(vmid) { $0.current[disk] = Self.printVolume(props) }
                log("resized \(volid) to \(DiskSize.text(target))")
            }
        }
    }

    func growMarker(_ vmid: Int, _ key: String) -> String { "\(lxcpath)/\(vmid)/grow-\(key)" }

    /// Grows an unmounted ext4 file system to its volume's size.
    func growFileSystem(_ path: String) throws {
        do {
            _ = try Command.run(["e2fsck", "-f", "-p", path])
            _ = try Command.run(["resize2fs", path])
        } catch { throw GuestError(wrapping: error, "the volume grew, but its file system did not") }
    }

    /// Before a start: file systems whose online growth could not happen grow now.
    func growPending(_ vmid: Int, _ ct: CTConfig, log: @Sendable (String) -> Void) throws {
        for mp in [ct.rootfs].compactMap({ $0 }) + ct.mountPoints where FileManager.default.fileExists(atPath: growMarker(vmid, mp.key)) {
            if let volid = mp.volid, case let (path, kind) = try resolve(volid), kind != .directory {
                try growFileSystem(path)
                log("grew the file system of \(mp.key) to its volume's size")
            }
            unlink(growMarker(vmid, mp.key))
        }
    }

    /// Grows a mounted ext4 file system to `bytes` (EXT4_IOC_RESIZE_FS on a directory of it).
    static func growMountedExt4(at path: String, to bytes: Int64) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw GuestError(500, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var fs = statvfs()
        guard fstatvfs(fd, &fs) == 0, fs.f_frsize > 0 else { throw GuestError(500, "cannot read the file system of \(path)") }
        var blocks = UInt64(bytes) / UInt64(fs.f_frsize)
        let ext4ResizeFS: UInt = 0x4008_6610  // _IOW('f', 16, __u64)
        guard ioctl(fd, ext4ResizeFS, &blocks) == 0 else { throw GuestError(500, "online resize failed: \(String(cString: strerror(errno)))") }
    }
}

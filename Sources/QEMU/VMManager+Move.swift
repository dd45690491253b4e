import Foundation
import Guests
import Libvirt
import Schema
import Storage

extension VMManager {
    /// A running VM's disk moves by a block mirror: the copy is allocated on the destination,
    /// libvirt mirrors the disk into it while the guest runs, and once the mirror has caught up the
    /// disk is switched to it. A failure drops the mirror and the copy; the guest keeps its disk.
    public func copyRunning(
        _ vmid: Int, key: String, volume: GuestVolume, to destination: any StoragePlugin, format requested: String?,
        log: @escaping @Sendable (String) -> Void
    ) throws -> String {
        guard let drive = VMConfig(try load(vmid).config.current).drives.first(where: { $0.key == key }) else {
            throw QEMUError.parameter("disk", "no disk '\(key)'")
        }
        let sourceFormat = volume.name.hasSuffix(".qcow2") ? "qcow2" : volume.name.hasSuffix(".vmdk") ? "vmdk" : "raw"
        let format = requested ?? (destination.formats.contains(sourceFormat) ? sourceFormat : destination.defaultFormat)
        guard format == "raw" || format == "qcow2" else { throw QEMUError.parameter("format", "a running disk is copied to raw or qcow2 only") }
        let copy = try destination.allocate(vmid: vmid, format: format, size: try volume.plugin.size(volume.name), name: nil)
        let domain = try runningDomain(vmid)
        let target = DomainXML.target(drive)
        do {
            try destination.activateVolume(copy)
            let path = try destination.path(copy)
            let kind = path.hasPrefix("/dev/") ? "block" : "file"
            let xml = "<disk type='\(kind)'><source \(kind == "block" ? "dev" : "file")='\(path)'/><driver name='qemu' type='\(format)'/></disk>"
            log("mirroring \(volume.volid) to \(destination.entry.id):\(copy) while the VM runs")
            try domain.blockCopy(target, destinationXML: xml)
            var lastReport = Date.distantPast
            while true {
                guard let progress = try domain.blockJobProgress(target) else {
                    throw QEMUError(500, "the mirror of \(key) ended before it caught up")
                }
                if progress.end > 0 && progress.current == progress.end { break }
                if Date().timeIntervalSince(lastReport) > 2 {
                    log("mirrored \(progress.current >> 20) of \(progress.end >> 20) MiB")
                    lastReport = Date()
                }
                usleep(50_000)
            }
            try domain.blockJobAbort(target, pivot: true)
            log("\(key) switched to the copy")
        } catch {
            try? domain.blockJobAbort(target, pivot: false)
            try? destination.free(copy)
            throw error
        }
        return copy
    }
}

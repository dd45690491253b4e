internal import CLibvirt
import Glibc

/// One domain handle; freed when released.
public final class LibvirtDomain: @unchecked Sendable {
    let handle: OpaquePointer

    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { virDomainFree(handle) }

    /// Stands for `virDomainGetName` (memory owned by the domain: copied, never freed).
    public var name: String { virDomainGetName(handle).map { String(cString: $0) } ?? "" }

    /// libvirt's domain state (`VIR_DOMAIN_RUNNING`, …).
    public enum State: Int32, Sendable {
        case nostate = 0, running, blocked, paused, shutdown, shutoff, crashed, pmsuspended
    }

    /// Stands for `virDomainGetState`.
    public func state() throws(LibvirtError) -> (state: State, reason: Int32) {
        var state: Int32 = 0, reason: Int32 = 0
        guard virDomainGetState(handle, &state, &reason, 0) == 0 else { throw LibvirtError.last("virDomainGetState") }
        return (State(rawValue: state) ?? .nostate, reason)
    }

    public struct Info: Sendable {
        public var cpuTime: UInt64
        public var memoryKiB: UInt64
        public var maxMemoryKiB: UInt64
        public var vcpus: Int
    }

    /// Stands for `virDomainGetInfo`.
    public func info() throws(LibvirtError) -> Info {
        var info = virDomainInfo()
        guard virDomainGetInfo(handle, &info) == 0 else { throw LibvirtError.last("virDomainGetInfo") }
        return Info(cpuTime: UInt64(info.cpuTime), memoryKiB: UInt64(info.memory), maxMemoryKiB: UInt64(info.maxMem), vcpus: Int(info.nrVirtCpu))
    }

    /// Memory statistics by tag (`VIR_DOMAIN_MEMORY_STAT_RSS`, `…_AVAILABLE`, `…_UNUSED`), in KiB.
    /// Stands for `virDomainMemoryStats`.
    public func memoryStats() -> [Int32: UInt64] {
        var stats = [virDomainMemoryStatStruct](repeating: virDomainMemoryStatStruct(), count: 16)
        let n = virDomainMemoryStats(handle, &stats, 16, 0)
        guard n > 0 else { return [:] }
        return Dictionary(stats.prefix(Int(n)).map { (Int32($0.tag), UInt64($0.val)) }, uniquingKeysWith: { a, _ in a })
    }

    public static let memoryStatRSS = Int32(VIR_DOMAIN_MEMORY_STAT_RSS.rawValue)
    public static let memoryStatAvailable = Int32(VIR_DOMAIN_MEMORY_STAT_AVAILABLE.rawValue)
    public static let memoryStatUnused = Int32(VIR_DOMAIN_MEMORY_STAT_UNUSED.rawValue)

    /// Bytes read and written by one disk (by target name). Stands for `virDomainBlockStats`.
    public func blockStats(_ target: String) -> (read: Int64, written: Int64)? {
        var stats = virDomainBlockStatsStruct()
        guard virDomainBlockStats(handle, target, &stats, MemoryLayout<virDomainBlockStatsStruct>.size) == 0 else { return nil }
        return (max(0, stats.rd_bytes), max(0, stats.wr_bytes))
    }

    /// Bytes received and sent by one interface (by host device name). Stands for `virDomainInterfaceStats`.
    public func interfaceStats(_ device: String) -> (received: Int64, sent: Int64)? {
        var stats = virDomainInterfaceStatsStruct()
        guard virDomainInterfaceStats(handle, device, &stats, MemoryLayout<virDomainInterfaceStatsStruct>.size) == 0 else { return nil }
        return (max(0, stats.rx_bytes), max(0, stats.tx_bytes))
    }

    /// Stands for `virDomainDestroy` (power off at once).
    public func destroy() throws(LibvirtError) { try check(virDomainDestroy(handle), "virDomainDestroy") }

    /// ACPI power button. Stands for `virDomainShutdownFlags` with `VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN`.
    public func shutdown() throws(LibvirtError) {
        try check(virDomainShutdownFlags(handle, UInt32(VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN.rawValue)), "virDomainShutdownFlags")
    }

    /// Shutdown through the guest agent, falling back to the power button when the agent does not
    /// answer. Stands for `virDomainShutdownFlags` with both methods.
    public func shutdownPreferringAgent() throws(LibvirtError) {
        let flags = VIR_DOMAIN_SHUTDOWN_GUEST_AGENT.rawValue | VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN.rawValue
        try check(virDomainShutdownFlags(handle, UInt32(flags)), "virDomainShutdownFlags")
    }

    /// One QEMU guest agent command (its JSON text) and the agent's JSON answer. `timeout` in seconds.
    /// Stands for `virDomainQemuAgentCommand` (the returned string is ours to free).
    public func agentCommand(_ json: String, timeout: Int32) throws(LibvirtError) -> String {
        guard let text = virDomainQemuAgentCommand(handle, json, timeout, 0) else { throw LibvirtError.last("virDomainQemuAgentCommand") }
        defer { free(text) }
        return String(cString: text)
    }

    /// Changes a device of the running domain (a CD-ROM's medium). Stands for `virDomainUpdateDeviceFlags`
    /// with `VIR_DOMAIN_AFFECT_LIVE`.
    public func updateDevice(xml: String) throws(LibvirtError) {
        try check(virDomainUpdateDeviceFlags(handle, xml, UInt32(VIR_DOMAIN_AFFECT_LIVE.rawValue)), "virDomainUpdateDeviceFlags")
    }

    /// Starts a backup job (pull mode: QEMU exports each disk's point-in-time view over NBD). Stands
    /// for `virDomainBackupBegin`.
    /// With `checkpoint` (a `<domaincheckpoint>`), a checkpoint is created at the job's start: its
    /// bitmaps record what the guest writes from then on, for the next incremental job.
    public func backupBegin(xml: String, checkpoint: String? = nil) throws(LibvirtError) {
        try check(virDomainBackupBegin(handle, xml, checkpoint, 0), "virDomainBackupBegin")
    }

    /// The names of the domain's checkpoints. Stands for `virDomainListAllCheckpoints`.
    public func checkpointNames() throws(LibvirtError) -> [String] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let count = virDomainListAllCheckpoints(handle, &list, 0)
        guard count >= 0 else { throw LibvirtError.last("virDomainListAllCheckpoints") }
        defer { free(list) }
        var names: [String] = []
        for i in 0..<Int(count) {
            guard let checkpoint = list?[i] else { continue }
            if let name = virDomainCheckpointGetName(checkpoint) { names.append(String(cString: name)) }
            virDomainCheckpointFree(checkpoint)
        }
        return names
    }

    /// Removes a checkpoint and its bitmaps (merged into its parent's, if it has one). Stands for
    /// `virDomainCheckpointLookupByName` and `virDomainCheckpointDelete`.
    public func deleteCheckpoint(_ name: String) throws(LibvirtError) {
        guard let checkpoint = virDomainCheckpointLookupByName(handle, name, 0) else {
            throw LibvirtError.last("virDomainCheckpointLookupByName")
        }
        defer { virDomainCheckpointFree(checkpoint) }
        try check(virDomainCheckpointDelete(checkpoint, 0), "virDomainCheckpointDelete")
    }

    /// Ends the domain's running job (a pull backup ends this way). Stands for `virDomainAbortJob`.
    public func abortJob() throws(LibvirtError) { try check(virDomainAbortJob(handle), "virDomainAbortJob") }

    /// Stands for `virDomainReboot` (ACPI).
    public func reboot() throws(LibvirtError) {
        try check(virDomainReboot(handle, UInt32(VIR_DOMAIN_REBOOT_ACPI_POWER_BTN.rawValue)), "virDomainReboot")
    }

    /// Hard reset. Stands for `virDomainReset`.
    public func reset() throws(LibvirtError) { try check(virDomainReset(handle, 0), "virDomainReset") }

    /// Pauses the vCPUs. Stands for `virDomainSuspend`.
    public func suspend() throws(LibvirtError) { try check(virDomainSuspend(handle), "virDomainSuspend") }

    /// Stands for `virDomainResume`.
    public func resume() throws(LibvirtError) { try check(virDomainResume(handle), "virDomainResume") }

    /// Saves memory to a file and stops the domain. Stands for `virDomainSave`.
    public func save(to path: String) throws(LibvirtError) { try check(virDomainSave(handle, path), "virDomainSave") }

    /// The live XML. Stands for `virDomainGetXMLDesc` (the returned string is ours to free).
    public func xml() throws(LibvirtError) -> String {
        guard let text = virDomainGetXMLDesc(handle, 0) else { throw LibvirtError.last("virDomainGetXMLDesc") }
        defer { free(text) }
        return String(cString: text)
    }

    /// A human monitor command (savevm, loadvm, delvm). Stands for `virDomainQemuMonitorCommand` with the HMP flag.
    @discardableResult
    public func monitorCommand(hmp command: String) throws(LibvirtError) -> String {
        var result: UnsafeMutablePointer<CChar>?
        guard virDomainQemuMonitorCommand(handle, command, &result, UInt32(VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP.rawValue)) == 0 else {
            throw LibvirtError.last("virDomainQemuMonitorCommand")
        }
        defer { free(result) }
        return result.map { String(cString: $0) } ?? ""
    }

    /// The domain's numeric id while running. Stands for `virDomainGetID`.
    public var id: UInt32 { virDomainGetID(handle) }

    private func check(_ result: Int32, _ function: String) throws(LibvirtError) {
        guard result == 0 else { throw LibvirtError.last(function) }
    }
}

extension LibvirtDomain {
    /// Grows a disk of a running domain. Stands for `virDomainBlockResize` with `VIR_DOMAIN_BLOCK_RESIZE_BYTES`.
    public func blockResize(_ target: String, bytes: UInt64) throws(LibvirtError) {
        guard virDomainBlockResize(handle, target, bytes, UInt32(VIR_DOMAIN_BLOCK_RESIZE_BYTES.rawValue)) == 0 else {
            throw LibvirtError.last("virDomainBlockResize")
        }
    }
}

extension LibvirtDomain {
    /// Starts mirroring a running disk to `destinationXML` (a `<disk>` whose source exists already).
    /// Stands for `virDomainBlockCopy` with `VIR_DOMAIN_BLOCK_COPY_REUSE_EXT`.
    public func blockCopy(_ target: String, destinationXML: String) throws(LibvirtError) {
        guard virDomainBlockCopy(handle, target, destinationXML, nil, 0, UInt32(VIR_DOMAIN_BLOCK_COPY_REUSE_EXT.rawValue)) == 0 else {
            throw LibvirtError.last("virDomainBlockCopy")
        }
    }

    /// The progress of the disk's block job, nil when it has none. Stands for `virDomainGetBlockJobInfo`.
    public func blockJobProgress(_ target: String) throws(LibvirtError) -> (current: UInt64, end: UInt64)? {
        var info = virDomainBlockJobInfo()
        let rc = virDomainGetBlockJobInfo(handle, target, &info, 0)
        guard rc >= 0 else { throw LibvirtError.last("virDomainGetBlockJobInfo") }
        return rc == 0 ? nil : (info.cur, info.end)
    }

    /// Ends the disk's block job: a mirror that caught up switches the disk to its copy (`pivot`),
    /// or is dropped. Stands for `virDomainBlockJobAbort` (with `VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT`).
    public func blockJobAbort(_ target: String, pivot: Bool) throws(LibvirtError) {
        let flags = pivot ? UInt32(VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT.rawValue) : 0
        guard virDomainBlockJobAbort(handle, target, flags) == 0 else { throw LibvirtError.last("virDomainBlockJobAbort") }
    }
}

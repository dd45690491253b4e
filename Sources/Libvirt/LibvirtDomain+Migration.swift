internal import CLibvirt
import Glibc

/// What a peer-to-peer live migration needs (`virDomainMigrateToURI3`'s typed parameters and flags).
public struct LibvirtMigration: Sendable {
    /// How the source libvirtd reaches the destination libvirtd (`qemu+unix:///system?socket=…`).
    public var destinationURI: String
    /// Where QEMU sends the memory (`tcp://127.0.0.1:PORT`): `VIR_MIGRATE_PARAM_URI`.
    public var migrationURI: String?
    /// What the destination QEMU listens on: `VIR_MIGRATE_PARAM_LISTEN_ADDRESS`.
    public var listenAddress: String?
    public var destinationName: String?
    /// The domain as the destination runs it (its paths): `VIR_MIGRATE_PARAM_DEST_XML`.
    public var destinationXML: String?
    /// Disks copied during the migration (targets like `sda`), over `disksURI` (NBD).
    public var disks: [String] = []
    public var disksURI: String?
    /// MiB/s, nil for no limit.
    public var bandwidth: UInt64?
    /// Leave the domain paused on the destination (the caller resumes it once the config moved).
    public var paused = false
    /// Disks on storage the caller knows to be shared although libvirt cannot tell (a `dir`
    /// storage marked shared): skips libvirt's shared-filesystem check.
    public var unsafe = false

    public init(destinationURI: String) { self.destinationURI = destinationURI }
}

/// A running job's progress (`virDomainGetJobInfo`).
public struct LibvirtJobProgress: Sendable {
    public let elapsedMilliseconds: UInt64
    public let dataTotal: UInt64
    public let dataProcessed: UInt64
    public let dataRemaining: UInt64
}

extension LibvirtDomain {
    /// Moves the running domain to another libvirtd, live and peer to peer. Blocks until the
    /// migration ends; on failure the domain still runs here. Stands for `virDomainMigrateToURI3`.
    public func migrate(_ m: LibvirtMigration) throws(LibvirtError) {
        var params: virTypedParameterPtr? = nil
        var count: Int32 = 0
        var capacity: Int32 = 0
        defer { virTypedParamsFree(params, count) }
        func add(_ name: String, _ value: String?) throws(LibvirtError) {
            guard let value else { return }
            guard virTypedParamsAddString(&params, &count, &capacity, name, value) == 0 else { throw LibvirtError.last("virTypedParamsAddString") }
        }
        try add(VIR_MIGRATE_PARAM_URI, m.migrationURI)
        try add(VIR_MIGRATE_PARAM_LISTEN_ADDRESS, m.listenAddress)
        try add(VIR_MIGRATE_PARAM_DEST_NAME, m.destinationName)
        try add(VIR_MIGRATE_PARAM_DEST_XML, m.destinationXML)
        try add(VIR_MIGRATE_PARAM_DISKS_URI, m.disksURI)
        for disk in m.disks { try add(VIR_MIGRATE_PARAM_MIGRATE_DISKS, disk) }
        if let bandwidth = m.bandwidth {
            guard virTypedParamsAddULLong(&params, &count, &capacity, VIR_MIGRATE_PARAM_BANDWIDTH, bandwidth) == 0 else {
                throw LibvirtError.last("virTypedParamsAddULLong")
            }
        }
        var flags = VIR_MIGRATE_LIVE.rawValue | VIR_MIGRATE_PEER2PEER.rawValue
        if m.paused { flags |= VIR_MIGRATE_PAUSED.rawValue }
        if m.unsafe { flags |= VIR_MIGRATE_UNSAFE.rawValue }
        if !m.disks.isEmpty { flags |= VIR_MIGRATE_NON_SHARED_DISK.rawValue }
        guard virDomainMigrateToURI3(handle, m.destinationURI, params, UInt32(count), UInt32(flags)) == 0 else {
            throw LibvirtError.last("virDomainMigrateToURI3")
        }
    }

    /// The progress of the domain's running job (a migration), nil when none runs.
    public func jobProgress() -> LibvirtJobProgress? {
        var info = virDomainJobInfo()
        guard virDomainGetJobInfo(handle, &info) == 0, info.type != Int32(VIR_DOMAIN_JOB_NONE.rawValue) else { return nil }
        return LibvirtJobProgress(
            elapsedMilliseconds: info.timeElapsed, dataTotal: info.dataTotal, dataProcessed: info.dataProcessed, dataRemaining: info.dataRemaining)
    }

    /// The domain's XML as another host may run it (no runtime-only parts). Stands for
    /// `virDomainGetXMLDesc` with `VIR_DOMAIN_XML_MIGRATABLE | VIR_DOMAIN_XML_SECURE`.
    public func migratableXML() throws(LibvirtError) -> String {
        let flags = VIR_DOMAIN_XML_MIGRATABLE.rawValue | VIR_DOMAIN_XML_SECURE.rawValue
        guard let text = virDomainGetXMLDesc(handle, UInt32(flags)) else { throw LibvirtError.last("virDomainGetXMLDesc") }
        defer { free(text) }
        return String(cString: text)
    }
}

import ClusterFS
import Errors
import Foundation
import Glibc
import Synchronization

/// The quorum device: a witness (Debian's corosync-qnetd on a third machine) whose vote keeps one
/// node of two quorate. PVE's `pvecm qdevice setup` logs into the witness and every node over SSH;
/// here the setting-up node makes the certificates, the cluster's files carry the nodes' share
/// (`priv/qdevice-*`) and every node's watcher installs it and runs corosync-qdevice, and the
/// witness's share comes back as a bundle its admin unpacks — nothing logs in anywhere.
extension ClusterMembership {
    static let qdeviceCAPath = "priv/qdevice-cacert.crt"
    static let qdeviceP12Path = "priv/qdevice-cluster.p12"

    public var qdevice: QDeviceService { QDeviceService(setup: corosync.setup) }

    /// Configures the witness at `host` for the whole cluster; answers the witness's NSS database.
    public func setupQDevice(host: String, port: Int?, tieBreaker: String?, force: Bool, log: (String) -> Void) throws -> [UInt8] {
        guard let config = try clusterConfig(), let name = config.clusterName else { throw ClusterError("this node is not part of a cluster") }
        if config.qdevice != nil && !force {
            throw ClusterError("a QDevice is configured already: remove it first (pvecm qdevice remove) or pass 'force'")
        }
        let odd = config.nodes.count % 2 == 1
        guard !odd || force else {
            throw ClusterError(
                "the cluster has an odd number of nodes (\(config.nodes.count)): a QDevice adds little there and can cost quorum; pass 'force' to set one up (algorithm 'lms')"
            )
        }
        log("making the certificates (a CA of the cluster's own, the witness's and the cluster's)")
        let certificates = try QDeviceCertificates.make(clusterName: name)
        // the nodes' share is in the tree before the configuration that makes them use it
        try tree.write(Self.qdeviceCAPath, Array(certificates.caPEM.utf8))
        try tree.write(Self.qdeviceP12Path, certificates.clusterP12)
        let text = try changingConfig { config in
            config.setQDevice(.init(host: host, port: port, algorithm: odd ? "lms" : "ffsplit", tieBreaker: tieBreaker))
        }
        log("corosync.conf names the witness \(host); every node installs it and starts corosync-qdevice")
        installAndReload(text)
        reconcileQDevice(try CorosyncConfig.parse(text), now: true)
        return certificates.qnetdBundle
    }

    public func removeQDevice(log: (String) -> Void) throws {
        guard try clusterConfig()?.qdevice != nil else { throw ClusterError("no QDevice is configured", code: .notFound) }
        let text = try changingConfig { config in _ = config.removeQDevice() }
        installAndReload(text)
        for path in [Self.qdeviceCAPath, Self.qdeviceP12Path] { try? tree.delete(path) }
        log("stopping corosync-qdevice on every node")
        reconcileQDevice(try CorosyncConfig.parse(text), now: true)
    }

    /// Runs corosync-qdevice here exactly when the cluster's configuration names a witness, with
    /// the certificates the cluster's files hold. Called by the watcher every tick; a daemon that
    /// will not start is tried again every 10 s, not every tick.
    func reconcileQDevice(_ cluster: CorosyncConfig, now: Bool = false) {
        let service = qdevice
        guard cluster.qdevice != nil, cluster.nodes.contains(where: { $0.name == nodeName }) else {
            if FileManager.default.fileExists(atPath: service.setup.qdeviceDirectory) {
                log("the cluster has no quorum device: stopping corosync-qdevice")
                service.stop()
                service.removeFiles()
            }
            return
        }
        guard let p12 = try? tree.read(Self.qdeviceP12Path), let ca = try? tree.readString(Self.qdeviceCAPath) else { return }
        let clock = Double(time(nil))
        guard
            now
                || qdeviceChecked.withLock({ last in
                    guard clock - last >= 10 || !service.isInstalled(clusterP12: p12) else { return false }
                    last = clock
                    return true
                })
        else { return }
        do {
            if !service.isInstalled(clusterP12: p12) {
                log("installing the quorum device's certificates")
                service.stop()
                try service.install(caPEM: ca, clusterP12: p12)
            }
            if service.runningPID == nil {
                log("starting corosync-qdevice")
                try service.start()
            }
        } catch {
            log("cannot run corosync-qdevice: \(error)")
        }
    }
}

/// Where this node's corosync keeps its files and how it is started. A real install uses corosync's
/// own paths and systemd; test nodes sharing one machine give each node its own.
public struct CorosyncSetup: Sendable {
    public enum StartMethod: String, Sendable {
        /// `systemctl start corosync` (a real install)
        case systemd
        /// corrald starts `corosync -f` itself (no systemd), optionally with a private /run
        case direct
        /// somebody else runs corosync
        case none
    }

    /// The node's own corosync configuration (what corosync reads): ClusterFS's `corosync.conf` plus
    /// the node-local settings below.
    public var configPath = "/etc/corosync/corosync.conf"
    public var authkeyPath = "/etc/corosync/authkey"
    public var start = StartMethod.systemd
    /// `direct` only: bound on /run in a private mount namespace (corosync's pid file path is fixed).
    public var runDirectory: String?
    /// `system.state_dir` of the node's copy (corosync's default otherwise).
    public var stateDirectory: String?
    /// `direct` only: where corosync's output goes.
    public var logPath = "/var/log/corral/corosync.log"
    /// corrald's data directory: the pid file to signal, the database to set aside on join.
    public var dataDirectory = "/var/lib/corral"
    /// The node runs standalone whatever its files say (`local` in the settings).
    public var forcedLocal = false

    public init() {}

    public var pidFile: String { dataDirectory + "/corrald.pid" }
    /// Present while the node waits to start with an empty tree (the cluster's, after a join; a new
    /// one, after it was removed): its own database is set aside then, not destroyed.
    public var freshTreeMarker: String { dataDirectory + "/fresh-tree" }

    /// The node's copy of `clusterText`: corosync reads its key and state from the node's own paths.
    public func localCopy(of clusterText: String) throws -> String {
        var config = try CorosyncConfig.parse(clusterText)
        if authkeyPath != "/etc/corosync/authkey" { config.set("keyfile", authkeyPath, in: "totem") }
        if let stateDirectory { config.set("state_dir", stateDirectory, in: "system") }
        if start == .direct {
            config.set("to_stderr", "yes", in: "logging")
            config.set("to_syslog", "no", in: "logging")
            config.set("timestamp", "on", in: "logging")
        }
        return config.serialized()
    }
}

extension CorosyncSetup {
    /// corosync-qdevice's files: its NSS database and the cluster certificate it was made from.
    public var qdeviceDirectory: String { stateDirectory.map { $0 + "/qdevice" } ?? "/etc/corosync/qdevice/net" }
    /// corosync-qdevice's socket and pid file, as this process sees them (in the node's private
    /// /run when corrald starts the daemons itself).
    public var qdeviceRunDirectory: String {
        (start == .direct ? runDirectory : nil).map { $0 + "/corosync-qdevice" } ?? "/run/corosync-qdevice"
    }
}

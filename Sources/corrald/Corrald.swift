import ArgumentParser
import Composition
import Daemon
import Dispatch
import Foundation
import HAService

@main
struct Corrald: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corrald",
        abstract: "The Corral node daemon: PVE-compatible REST API, tasks, guests, storage and cluster filesystem.",
        discussion: "Settings come from the settings file (default /etc/corral/corrald.conf, if present), then from these flags.")

    @Flag(
        help: "Run standalone whatever the node's files say (always quorate). Without it a node with a corosync configuration runs in cluster mode.")
    var local = false

    @Option(name: .customLong("verify-interval"), help: "Cluster mode: seconds between checksum comparisons of the cluster filesystem (default 60).")
    var verifyInterval: Int?

    @Option(name: .customLong("data-dir"), help: "Directory for the database, certificates' private state and task logs (default /var/lib/corral).")
    var dataDirectory: String?

    @Option(help: "Address to listen on, HOST:PORT, [IPv6]:PORT or *:PORT; repeatable (default [::]:8006).")
    var listen: [String] = []

    @Option(help: "This node's name (default: the short host name).")
    var nodename: String?

    @Option(help: "Where the cluster filesystem is mounted (default /etc/pve, or DATA-DIR/pve with --data-dir).")
    var mountpoint: String?

    @Option(help: "Directory of the web console's files (default /usr/share/corral/www).")
    var www: String?

    @Option(name: .customLong("set"), help: "A setting as KEY=VALUE, as in the settings file (repeatable; after the file).")
    var overrides: [String] = []

    @Option(help: "Settings file (key: value lines).")
    var config: String?

    @Option(name: .customLong("ha-watchdog"), help: .hidden)
    var haWatchdog: String?

    func run() async throws {
        // the HA watchdog is this program started again, detached, by the HA service
        if let haWatchdog { return HAWatchdog.serve(file: haWatchdog) }
        Restart.recordInherited()
        // LVM's tools complain about every descriptor they inherit, burying the reason a command failed
        setenv("LVM_SUPPRESS_FD_WARNINGS", "1", 1)
        var settings = Settings()
        let configPath = config ?? "/etc/corral/corrald.conf"
        if config != nil || FileManager.default.fileExists(atPath: configPath) {
            try settings.apply(file: configPath)
        }
        for item in overrides {
            guard let eq = item.firstIndex(of: "=") else { throw SettingsError("--set needs KEY=VALUE, got '\(item)'") }
            try settings.set(String(item[..<eq]), String(item[item.index(after: eq)...]), origin: "--set")
        }
        if local { settings.local = true }
        if let dataDirectory { settings.dataDirectory = dataDirectory }
        if !listen.isEmpty { settings.listen = listen }
        if let nodename { settings.nodeName = nodename }
        if let mountpoint { settings.mountpoint = mountpoint }
        if let www { settings.wwwDirectory = www }
        if let verifyInterval { settings.verifyInterval = max(1, verifyInterval) }

        let node = try CorralNode(settings: settings, log: Self.log)
        try node.start()
        let ports = node.boundPorts.map(String.init).joined(separator: ",")
        Self.log(
            "node '\(settings.nodeName)' listening on \(settings.listen.joined(separator: ", ")) (ports \(ports)); data in \(settings.dataDirectory), config at \(settings.effectiveMountpoint)"
        )
        let restart = await ShutdownSignal.wait()
        Self.log(restart ? "restarting: finishing in-flight requests" : "shutting down: finishing in-flight requests")
        await node.shutdown(grace: 10)
        if restart { Restart.exec() }
        Self.log("stopped")
    }

    static func log(_ message: String) {
        FileHandle.standardError.write(Data("corrald: \(message)\n".utf8))
    }
}

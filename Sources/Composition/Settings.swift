import Cluster
import Foundation

/// The daemon's settings: defaults for a real install, then the settings file, then flags.
public struct Settings: Sendable, Equatable {
    /// Standalone (true) or cluster mode (false) whatever the node's files say; nil: cluster mode
    /// exactly when the node has a corosync configuration (as pmxcfs decides).
    public var local: Bool? = nil
    public var dataDirectory = "/var/lib/corral"
    public var listen = ["[::]:8006"]
    public var nodeName = Settings.shortHostname()
    public var mountpoint: String? = nil
    public var wwwDirectory = "/usr/share/corral/www"
    public var maxBody = 16 * 1024 * 1024
    public var keepAliveTimeout = 60
    public var requestTimeout = 30
    public var workers = 0
    public var accessLog: String? = nil
    /// Cluster mode: seconds between checksum comparisons of the cluster filesystem.
    public var verifyInterval = 60
    /// Cluster mode: how long start waits to join a quorate group before giving up on writes it needs.
    public var joinTimeout = 60
    /// Where the default `local` storage lives (only used when a new cluster writes storage.cfg).
    public var storageDirectory: String? = nil
    public var libvirtURI = "qemu:///system"
    /// Prepended to VMIDs to name libvirt domains (test nodes sharing one libvirtd use their own).
    public var domainPrefix = ""
    /// liblxc's lxcpath for this node's containers.
    public var lxcPath: String? = nil
    /// The resolver and hosts files `/nodes/{node}/dns` and `hosts` edit.
    public var resolvConf: String? = nil
    public var hostsFile: String? = nil
    /// The time zone files `PUT /nodes/{node}/time` writes (`/etc/timezone`, `/etc/localtime`).
    public var timezoneFile: String? = nil
    /// The node's corosync files and how corosync is started (see CorosyncSetup).
    public var corosyncConf = "/etc/corosync/corosync.conf"
    public var corosyncAuthkey = "/etc/corosync/authkey"
    /// `systemd`, `direct` or `none`; nil: systemd where it runs, else direct.
    public var corosyncStart: String? = nil
    public var corosyncRunDirectory: String? = nil
    public var corosyncStateDirectory: String? = nil
    /// The port other members' APIs listen on (calls for another node go there).
    public var peerPort: UInt16 = 8006

    public init() {}

    /// `/var/lib/lxc` for a real install (where `lxc-*` tools look), `DATA/lxc` for any other data directory.
    public var effectiveLXCPath: String {
        if let lxcPath { return lxcPath }
        return dataDirectory == "/var/lib/corral" ? "/var/lib/lxc" : dataDirectory + "/lxc"
    }

    /// The machine's `/etc/resolv.conf` and `/etc/hosts` for a real install; files of its own for any
    /// other data directory, so test nodes never change the machine they run on.
    public var effectiveResolvConf: String {
        resolvConf ?? (dataDirectory == "/var/lib/corral" ? "/etc/resolv.conf" : dataDirectory + "/resolv.conf")
    }
    public var effectiveTimezoneFile: String {
        timezoneFile ?? (dataDirectory == "/var/lib/corral" ? "/etc/timezone" : dataDirectory + "/timezone")
    }
    /// `/etc/localtime` beside `/etc/timezone` (a node's own files beside each other).
    public var effectiveLocaltime: String { (effectiveTimezoneFile as NSString).deletingLastPathComponent + "/localtime" }
    public var effectiveHostsFile: String { hostsFile ?? (dataDirectory == "/var/lib/corral" ? "/etc/hosts" : dataDirectory + "/hosts") }

    /// `/var/lib/vz` for a real install, `DATA/vz` for any other data directory.
    public var effectiveStorageDirectory: String {
        if let storageDirectory { return storageDirectory }
        return dataDirectory == "/var/lib/corral" ? "/var/lib/vz" : dataDirectory + "/vz"
    }

    /// Sockets, locks and serial logs of running guests.
    public var runDirectory: String { dataDirectory == "/var/lib/corral" ? "/run/corral" : dataDirectory + "/run" }
    public var guestLogDirectory: String { dataDirectory == "/var/lib/corral" ? "/var/log/corral/qemu" : dataDirectory + "/log" }

    /// The cluster filesystem's mount point: `--mountpoint`, else `/etc/pve` for the default data
    /// directory and `DATA/pve` for any other, so test nodes never touch /etc/pve.
    public var effectiveMountpoint: String {
        if let mountpoint { return mountpoint }
        return dataDirectory == "/var/lib/corral" ? "/etc/pve" : dataDirectory + "/pve"
    }

    public var tasksDirectory: String { dataDirectory + "/tasks" }

    /// Whether corrald runs in cluster mode: as forced by `local`, else when the node has a corosync configuration.
    public var clusterMode: Bool { local.map { !$0 } ?? FileManager.default.fileExists(atPath: corosyncConf) }
    public var effectiveAccessLog: String { accessLog ?? dataDirectory + "/access.log" }

    /// Applies a settings file of `key: value` lines (`#` comments), the same keys as the flags.
    public mutating func apply(file path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path), let data = try? handle.readToEnd() ?? Data(),
            let text = String(data: data, encoding: .utf8)
        else { throw SettingsError("cannot read settings file \(path)") }
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else {
                throw SettingsError("\(path):\(number + 1): expected 'key: value'")
            }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            try set(key, value, origin: "\(path):\(number + 1)")
        }
    }

    public mutating func set(_ key: String, _ value: String, origin: String) throws {
        func integer() throws -> Int {
            guard let n = Int(value), n >= 0 else { throw SettingsError("\(origin): \(key) needs a non-negative integer, got '\(value)'") }
            return n
        }
        switch key {
        case "local": local = ["1", "yes", "true", "on"].contains(value.lowercased())
        case "corosync-conf": corosyncConf = value
        case "corosync-authkey": corosyncAuthkey = value
        case "corosync-start":
            guard ["systemd", "direct", "none"].contains(value) else {
                throw SettingsError("\(origin): corosync-start is systemd, direct or none, got '\(value)'")
            }
            corosyncStart = value
        case "corosync-run-dir": corosyncRunDirectory = value
        case "corosync-state-dir": corosyncStateDirectory = value
        case "data-dir": dataDirectory = value
        case "listen": listen = value.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        case "nodename": nodeName = value
        case "mountpoint": mountpoint = value
        case "www": wwwDirectory = value
        case "verify-interval": verifyInterval = max(1, try integer())
        case "join-timeout": joinTimeout = try integer()
        case "max-body": maxBody = try integer()
        case "keepalive-timeout": keepAliveTimeout = try integer()
        case "request-timeout": requestTimeout = try integer()
        case "workers": workers = try integer()
        case "access-log": accessLog = value
        case "storage-dir": storageDirectory = value
        case "libvirt-uri": libvirtURI = value
        case "domain-prefix": domainPrefix = value
        case "lxc-path": lxcPath = value
        case "resolv-conf": resolvConf = value
        case "hosts-file": hostsFile = value
        case "timezone-file": timezoneFile = value
        case "peer-port":
            guard let port = UInt16(value), port > 0 else { throw SettingsError("\(origin): peer-port needs a port number, got '\(value)'") }
            peerPort = port
        default: throw SettingsError("\(origin): unknown setting '\(key)'")
        }
    }

    public static func shortHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        let full = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(full.split(separator: ".").first ?? "localhost")
    }
}

public struct SettingsError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Settings {
    /// This node's corosync files and start method, from the settings.
    public var corosyncSetup: CorosyncSetup {
        var setup = CorosyncSetup()
        setup.configPath = corosyncConf
        setup.authkeyPath = corosyncAuthkey
        setup.start =
            corosyncStart.flatMap(CorosyncSetup.StartMethod.init(rawValue:))
            ?? (FileManager.default.fileExists(atPath: "/run/systemd/system") ? .systemd : .direct)
        setup.runDirectory = corosyncRunDirectory
        setup.stateDirectory = corosyncStateDirectory
        setup.logPath = dataDirectory == "/var/lib/corral" ? "/var/log/corral/corosync.log" : dataDirectory + "/corosync.log"
        setup.dataDirectory = dataDirectory
        setup.forcedLocal = local == true
        return setup
    }
}

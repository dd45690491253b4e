// swift-tools-version:6.0
import PackageDescription

// Layers (imports only go down): C modules → thin wrappers → core services → domains → edges.
// See ../shared/DESIGN.md and README.md.

// corosync's .pc files add -pthread, which SwiftPM rejects with a warning; their module maps name the
// libraries to link instead, so those targets pass no pkg-config name.
func system(_ name: String, pkg: String?, apt: String) -> Target {
    .systemLibrary(name: name, path: "Sources/\(name)", pkgConfig: pkg, providers: [.apt([apt])])
}

let package = Package(
    name: "Corral",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "corrald", targets: ["corrald"]),
        .executable(name: "corral", targets: ["corral"]),
        // what corrald runs to start a container through liblxc (see its main.c)
        .executable(name: "corral-lxc-start", targets: ["corral-lxc-start"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // 1. C modules
        system("CLibvirt", pkg: "libvirt", apt: "libvirt-dev"),
        system("CLXC", pkg: "lxc", apt: "lxc-dev"),
        system("CSQLite", pkg: "sqlite3", apt: "libsqlite3-dev"),
        system("CFUSE", pkg: "fuse3", apt: "libfuse3-dev"),
        system("CCPG", pkg: nil, apt: "libcpg-dev"),
        system("CQuorum", pkg: nil, apt: "libquorum-dev"),
        system("CCmap", pkg: nil, apt: "libcmap-dev"),
        system("COpenSSL", pkg: "openssl", apt: "libssl-dev"),
        system("CZlib", pkg: "zlib", apt: "zlib1g-dev"),
        system("CZstd", pkg: "libzstd", apt: "libzstd-dev"),
        system("CRRD", pkg: "librrd", apt: "librrd-dev"),
        system("CPAM", pkg: nil, apt: "libpam0g-dev"),
        system("CLDAP", pkg: nil, apt: "libldap-dev"),
        system("CCrypt", pkg: "libxcrypt", apt: "libcrypt-dev"),
        // compiled shims, one per library, so the web server compiles against neither OpenSSL nor liblxc
        .target(name: "CTLSShim", dependencies: ["COpenSSL"]),
        .target(name: "CLXCShim", dependencies: ["CLXC"]),
        .target(name: "CSocketShim"),
        .executableTarget(name: "corral-lxc-start", dependencies: ["CLXC"]),

        // 2. Thin wrappers, the only importers of their C module
        .target(name: "TLS", dependencies: ["COpenSSL", "CTLSShim"]),
        .target(name: "Zlib", dependencies: ["CZlib"]),
        .target(name: "RRD", dependencies: ["CRRD"]),
        .target(name: "Zstd", dependencies: ["CZstd"]),
        .target(name: "SQLite", dependencies: ["CSQLite"]),
        .target(name: "Libvirt", dependencies: ["CLibvirt"]),
        .target(name: "LXC", dependencies: ["CLXC", "CLXCShim"]),
        .target(name: "FUSE", dependencies: ["CFUSE"]),
        .target(name: "Corosync", dependencies: ["CCPG", "CQuorum", "CCmap"]),
        .target(name: "PAM", dependencies: ["CPAM"]),
        .target(name: "LDAP", dependencies: ["CLDAP"]),
        .target(name: "Crypt", dependencies: ["CCrypt"]),

        // 3. Core services
        .target(name: "Blocking", exclude: ["README.md"]),
        .target(name: "Errors"),
        .target(name: "Schema"),
        .target(name: "Tasks", dependencies: ["Schema", "Blocking", "Errors"]),
        .target(name: "ClusterFS", dependencies: ["Errors", "SQLite", "FUSE", "Corosync"], exclude: ["README.md"]),
        .target(name: "Access", dependencies: ["Errors", "Schema", "TLS", "Crypt", "PAM", "LDAP", "ClusterFS", "WebClient"], exclude: ["README.md"]),

        // 4. Domains
        .target(name: "Nodes", dependencies: ["API", "Schema", "Tasks", "TLS", "Storage", "ClusterFS", "Guests", "Blocking"]),
        .target(name: "AccessAPI", dependencies: ["API", "Schema", "Access", "Blocking", "TLS", "Guests", "Tasks"]),
        .target(
            name: "Guests", dependencies: ["ClusterFS", "Errors", "Schema", "TLS", "Access", "API", "Blocking", "Storage", "Tasks"],
            exclude: ["README.md"]),
        .target(
            name: "Storage", dependencies: ["ClusterFS", "Errors", "Schema", "Access", "API", "Tasks", "TLS", "Archive"], exclude: ["README.md"]),
        .target(
            name: "QEMU",
            dependencies: ["ClusterFS", "Blocking", "API", "Schema", "Tasks", "Guests", "Storage", "Libvirt", "Access", "TLS", "Crypt", "Archive"]),
        .target(name: "Archive", dependencies: ["TLS", "Zstd"], exclude: ["README.md"]),
        .target(
            name: "Backup",
            dependencies: ["ClusterFS", "Blocking", "API", "Schema", "Tasks", "Guests", "Storage", "QEMU", "Containers", "Access", "Archive"],
            exclude: ["README.md"]),
        .target(
            name: "Containers",
            dependencies: ["ClusterFS", "Blocking", "API", "Schema", "Tasks", "Guests", "Storage", "LXC", "Access", "Crypt", "Archive"]),

        .target(
            name: "Cluster",
            dependencies: ["API", "Access", "ClusterFS", "Errors", "Guests", "Nodes", "Peers", "Schema", "Storage", "TLS", "Tasks", "SDN"],
            exclude: ["README.md"]),

        // 5. Edges
        // a loop's connections are touched by its thread only: the runtime's exclusivity checks on every
        // access to a connection's buffers cost 1.7 % of a request (profiled); debug builds keep them
        .target(
            name: "HTTPServer", dependencies: ["TLS", "Zlib", "CSocketShim"],
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        .target(name: "API", dependencies: ["Errors", "Schema", "Tasks", "Blocking", "ClusterFS", "TLS"]),
        .target(
            name: "Firewall", dependencies: ["API", "Schema", "ClusterFS", "Errors", "Blocking", "TLS", "Storage"], exclude: ["README.md"]),
        // high availability: the cluster and local resource managers, pure, and their simulator
        .target(name: "HA", dependencies: ["Schema"], exclude: ["README.md"]),
        // ... and the service that runs them in corrald, their files, the `/cluster/ha` API and the watchdog
        .target(
            name: "HAService", dependencies: ["HA", "API", "Blocking", "Schema", "ClusterFS", "Guests", "Storage", "Tasks", "TLS"],
            exclude: ["README.md"]),
        .target(name: "SDN", dependencies: ["API", "Schema", "ClusterFS", "Blocking", "TLS", "Storage", "Tasks", "Guests"], exclude: ["README.md"]),
        // history of the node's, guests' and storages' figures (RRD), and what serves it
        .target(name: "WebClient", dependencies: ["TLS"]),
        .target(
            name: "Metrics", dependencies: ["API", "Blocking", "ClusterFS", "Schema", "Guests", "Nodes", "RRD", "Storage", "TLS", "WebClient"],
            exclude: ["README.md"]),
        // calls between cluster members: pinned HTTPS, forwarding for `proxyto`
        .target(name: "Peers", dependencies: ["API", "Blocking", "ClusterFS", "Errors", "Schema", "TLS"], exclude: ["README.md"]),
        // the composition: a node built from its domains (corrald and the CLIs share it)
        .target(
            name: "Composition",
            dependencies: [
                "API", "Schema", "Tasks", "TLS", "Nodes", "ClusterFS", "Access", "AccessAPI", "Guests", "Storage", "QEMU", "Containers", "Cluster",
                "Peers", "Backup", "Firewall", "SDN", "HAService", "Metrics",
            ]),
        .target(
            name: "Daemon",
            dependencies: [
                "Composition", "API", "Schema", "Tasks", "HTTPServer", "TLS", "Nodes", "ClusterFS", "FUSE", "Access", "AccessAPI", "Guests",
                "Storage", "QEMU", "Containers", "Cluster", "Blocking",
            ]),
        .target(
            name: "CLI",
            dependencies: [
                "API", "Schema", "Tasks", "Composition", "ClusterFS", "Corosync", "FUSE", "QEMU", "Containers", "Guests", "LXC", "Access", "Peers",
                "Storage", "Cluster",
                .product(name: "Yams", package: "Yams"),
            ]),
        .executableTarget(
            name: "corrald",
            dependencies: ["Composition", "Daemon", "HAService", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "corral", dependencies: ["CLI"]),

        // what the test suites share: running commands, temporary directories, failures
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "SchemaTests", dependencies: ["Schema"], resources: [.copy("Fixtures")]),
        .testTarget(name: "HTTPServerTests", dependencies: ["TestSupport", "HTTPServer", "TLS", "Zlib", "Peers"]),
        .testTarget(
            name: "APITests",
            dependencies: ["TestSupport", "API", "Schema", "Tasks", "Nodes", "Daemon", "Composition", "Access", "ClusterFS", "Metrics", "Cluster"]),
        .testTarget(name: "TasksTests", dependencies: ["Tasks"]),
        .testTarget(name: "ClusterFSTests", dependencies: ["TestSupport", "ClusterFS", "SQLite", "FUSE", "Corosync"]),
        .testTarget(
            name: "AccessTests",
            dependencies: ["TestSupport", "Access", "TLS", "Crypt", "PAM", "LDAP", "ClusterFS", "API", "AccessAPI", "Schema", "Tasks"]),
        .testTarget(name: "WrapperTests", dependencies: ["SQLite", "Libvirt", "LXC", "FUSE", "Corosync", "Zlib", "TLS"]),
        .testTarget(name: "QEMUTests", dependencies: ["TestSupport", "QEMU", "Guests", "Schema", "Storage"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ContainersTests", dependencies: ["Containers", "Guests", "Schema"], resources: [.copy("Fixtures")]),
        .testTarget(name: "StorageTests", dependencies: ["Storage"]),
        .testTarget(name: "FirewallTests", dependencies: ["Firewall"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SDNTests", dependencies: ["SDN", "ClusterFS"]),
        .testTarget(name: "HATests", dependencies: ["HA"]),
        .testTarget(name: "BackupTests", dependencies: ["Archive", "Backup", "Zstd", "ClusterFS", "Access", "Tasks"]),
        .testTarget(name: "CorosyncConfigTests", dependencies: ["Cluster", "Schema"], resources: [.copy("Fixtures")]),
        .testTarget(name: "GuestsTests", dependencies: ["TestSupport", "Guests", "Storage", "ClusterFS", "Schema"]),
        .testTarget(name: "IntegrationTests", dependencies: ["TestSupport", "TLS"]),
    ],
    swiftLanguageModes: [.v6]
)

// House habits for every Swift target: existentials spelled `any`, and members visible only through
// a module the file imports itself.
for target in package.targets where target.type != .system {
    target.swiftSettings =
        (target.swiftSettings ?? []) + [
            .enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility"),
        ]
}

import FUSE

extension ClusterFS {
    /// Mounts the tree through FUSE. The kernel caches attributes for a second; every change not made
    /// through the mount (the daemon's own writes, later replication) invalidates what it touched, so
    /// readers never see a stale size or mode.
    public func mount(at mountpoint: String, options: [String]) throws -> FUSEMount {
        let mount = try FUSEMount(fileSystem: ClusterFSFuse(self), mountpoint: mountpoint, options: options, attributeTimeout: 1)
        _ = addObserver { [weak mount] changes in
            guard let mount else { return }
            for change in changes {
                var paths = [change.path]
                if case .renamed(let from) = change.kind { paths.append(from) }
                for path in paths {
                    mount.invalidate("/" + path)
                    // the parent's size and mtime changed too
                    let parent = path.split(separator: "/").dropLast().joined(separator: "/")
                    mount.invalidate("/" + parent)
                }
            }
        }
        mount.start()
        return mount
    }
}

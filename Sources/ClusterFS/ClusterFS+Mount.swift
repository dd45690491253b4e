import FUSE

extension ClusterFS {
    /// Mounts the tree through FUSE. The kernel keeps names and attributes for 60 s (the virtual files'
    /// attributes for 1 s: nothing announces their changes). Every change not made through the mount
    /// (the daemon's own writes, replication) invalidates the names and attributes it touched, and the
    /// daemon's own writes return only once the kernel has dropped them, so readers never see a stale
    /// name, size or mode.
    public func mount(at mountpoint: String, options: [String]) throws -> FUSEMount {
        let mount = try FUSEMount(
            fileSystem: ClusterFSFuse(self), mountpoint: mountpoint, options: options, attributeTimeout: 60,
            volatileAttributeTimeout: 1, entryTimeout: 60, maxThreads: 4)
        _ = addObserver { [weak mount] changes in
            // a change a request made through the mount is known to the kernel already
            guard let mount, !FUSERequest.onLoopThread else { return }
            for change in changes {
                switch change.kind {
                case .written: mount.invalidate("/" + change.path)
                case .created, .deleted: mount.invalidate("/" + change.path, name: true)
                case .renamed(let from):
                    mount.invalidate("/" + from, name: true)
                    mount.invalidate("/" + change.path, name: true)
                }
            }
        }
        locked { writeBarrier = { [weak mount] in mount?.settle() } }
        mount.start()
        return mount
    }
}

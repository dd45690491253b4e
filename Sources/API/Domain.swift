/// A part of the node that plugs in (guests, storage, cluster, access, and next backup, network,
/// HA, metrics): the endpoints it declares and the background work it runs. The composition module
/// builds every domain from one `NodeServices` value, so adding a domain touches one list.
public protocol Domain: Sendable {
    /// A short name for logs (`qemu`, `storage`).
    var name: String { get }
    var endpoints: [Endpoint] { get }
    /// Starts background services (schedulers, watchers) once the node serves; idempotent.
    func start() throws
    /// Stops them before the node shuts down.
    func stop() async
}

extension Domain {
    public func start() throws {}
    public func stop() async {}
}

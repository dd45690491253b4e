/// Names one connection from any thread: its loop, descriptor and id (descriptors are reused after a
/// close, ids are not). Work sent through it runs on the loop thread, and only if the connection is
/// still the same one.
struct ConnectionHandle: Sendable {
    let loop: EventLoop
    let fd: Int32
    let id: UInt64

    func run(_ body: @escaping @Sendable (Connection) -> Void) {
        let handle = self
        loop.execute {
            if let connection = handle.loop.connection(handle.fd, handle.id) { body(connection) }
        }
    }
}

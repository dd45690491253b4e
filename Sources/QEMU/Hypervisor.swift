import Foundation
import Guests
import Libvirt
import Synchronization

/// The node's libvirt connection: opened on first use, opened again when libvirtd went away (a
/// restarted libvirtd never takes corrald down, and running guests are found again by name).
/// Lifecycle events keep `lastState` current for the resource list without asking libvirt.
public final class Hypervisor: Sendable {
    public let uri: String
    let events: Bool
    private let current = Mutex<LibvirtConnection?>(nil)
    private let states = Mutex<[String: LibvirtEvent.Kind]>([:])
    private let listeners = Mutex<[@Sendable (LibvirtEvent) -> Void]>([])
    private let spare = Mutex<[LibvirtConnection]>([])

    public init(uri: String, events: Bool) {
        self.uri = uri
        self.events = events
    }

    public func connection() throws -> LibvirtConnection {
        if let open = current.withLock({ $0 }), open.isAlive { return open }
        return try current.withLock { slot in
            if let open = slot, open.isAlive { return open }
            slot?.close()
            let fresh: LibvirtConnection
            do { fresh = try LibvirtConnection(uri: uri, events: events) } catch let error as LibvirtError {
                throw QEMUError(500, "cannot connect to libvirt at \(uri): \(error.message) (is libvirtd running?)")
            }
            // a dead connection (libvirtd restarted) is noticed by isAlive and replaced on the next call
            fresh.onEvent { [weak self] event in self?.received(event) }
            slot = fresh
            return fresh
        }
    }

    private func received(_ event: LibvirtEvent) {
        states.withLock { $0[event.domain] = event.kind }
        for listener in listeners.withLock({ $0 }) { listener(event) }
    }

    public func addListener(_ listener: @escaping @Sendable (LibvirtEvent) -> Void) { listeners.withLock { $0.append(listener) } }

    public func lastEvent(_ domain: String) -> LibvirtEvent.Kind? { states.withLock { $0[domain] } }

    /// Runs a long libvirt call (a domain start) on a connection of its own: libvirtd serves at most
    /// a few requests of one client at a time, so parallel starts would queue on the shared one.
    /// Connections are pooled: opening one costs a handshake with libvirtd on every start.
    public func withOwnConnection<T>(_ body: (LibvirtConnection) throws -> T) throws -> T {
        let connection = try pooledConnection()
        let result = Result { try body(connection) }
        giveBack(connection)
        return try result.get()
    }

    private func pooledConnection() throws -> LibvirtConnection {
        let reusable = spare.withLock { pool -> LibvirtConnection? in
            while let candidate = pool.popLast() {
                if candidate.isAlive { return candidate }
            }
            return nil
        }
        if let reusable { return reusable }
        let opened = Result { () throws(LibvirtError) -> LibvirtConnection in try LibvirtConnection(uri: uri, events: false) }
        switch opened {
        case .success(let connection): return connection
        case .failure(let error): throw QEMUError(500, "cannot connect to libvirt at \(uri): \(error.message) (is libvirtd running?)")
        }
    }

    private func giveBack(_ connection: LibvirtConnection) {
        spare.withLock { if $0.count < 8 { $0.append(connection) } }
    }

    /// Runs a libvirt call, reconnecting once if the connection turned out to be dead.
    public func with<T>(_ body: (LibvirtConnection) throws -> T) throws -> T {
        do { return try body(try connection()) } catch let error as LibvirtError where error.isConnectionLost {
            current.withLock {
                $0?.close(); $0 = nil
            }
            return try body(try connection())
        }
    }
}

/// VM operations fail with the guest error every guest type shares.
public typealias QEMUError = GuestError

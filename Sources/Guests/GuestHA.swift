import Schema
import Synchronization

/// What guest code needs of HA without depending on it: whether a guest is an HA resource, and a
/// way to ask the HA manager for a state. A start or stop of an HA guest through the API becomes
/// such a request (PVE's `hastart`/`hastop`), and so is a migration, so the local manager does not
/// undo it; bulk starts leave HA guests to the manager. The HA service fills it in.
public final class GuestHA: Sendable {
    public static let shared = GuestHA()

    public struct Handlers: Sendable {
        /// sid (`vm:100`) → its requested state, nil when it is no HA resource.
        public var requested: @Sendable (String) -> String?
        /// Sets the requested state (`started`, `stopped`).
        public var request: @Sendable (String, String) throws -> Void
        /// Asks the manager to move the resource to a node (`ha-manager migrate`).
        public var migrate: @Sendable (String, String) throws -> Void

        public init(
            requested: @escaping @Sendable (String) -> String?, request: @escaping @Sendable (String, String) throws -> Void,
            migrate: @escaping @Sendable (String, String) throws -> Void
        ) {
            self.requested = requested
            self.request = request
            self.migrate = migrate
        }
    }

    private let handlers = Mutex<Handlers?>(nil)

    public func install(_ new: Handlers) { handlers.withLock { $0 = new } }

    public static func sid(type: String, vmid: Int) -> String { "\(type == "qemu" ? "vm" : "ct"):\(vmid)" }

    public func requested(type: String, vmid: Int) -> String? { handlers.withLock { $0 }?.requested(Self.sid(type: type, vmid: vmid)) }

    public func request(type: String, vmid: Int, state: String) throws {
        try handlers.withLock { $0 }?.request(Self.sid(type: type, vmid: vmid), state)
    }

    public func migrate(type: String, vmid: Int, to target: String) throws {
        try handlers.withLock { $0 }?.migrate(Self.sid(type: type, vmid: vmid), target)
    }

    /// The `ha` field of `status/current`.
    public func statusField(type: String, vmid: Int) -> JSON {
        guard let state = requested(type: type, vmid: vmid) else { return ["managed": 0] }
        return ["managed": 1, "state": .string(state)]
    }
}

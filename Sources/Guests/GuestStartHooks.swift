import Synchronization

/// Work other domains must finish before a guest of this node starts: SDN enters the guest's NICs
/// in the IPAM and tells dnsmasq, so the guest's first DHCP request is answered. Run by both guest
/// types just before the pre-start hookscript; a hook that throws stops the start.
public final class GuestStartHooks: Sendable {
    public static let shared = GuestStartHooks()
    public typealias Hook = @Sendable (_ vmid: Int, _ log: (String) -> Void) throws -> Void
    private let hooks = Mutex<[Hook]>([])

    public func add(_ hook: @escaping Hook) { hooks.withLock { $0.append(hook) } }

    /// Blocking.
    public func run(vmid: Int, log: (String) -> Void) throws {
        for hook in hooks.withLock({ $0 }) { try hook(vmid, log) }
    }
}

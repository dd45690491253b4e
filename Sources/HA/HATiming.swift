/// The numbers the fencing argument rests on (seconds). A node that loses quorum can no longer renew
/// its agent lock; its watchdog stops its HA guests within `watchdog` of the loss; the manager may
/// take over the node's lock, and so recover its guests elsewhere, only once the lock has expired,
/// `lockLease` after the last renewal. Since `watchdog + margin <= lockLease`, the guests on the lost
/// node are stopped before any other node can start them. The README has the whole argument.
public struct HATiming: Sendable, Equatable {
    /// How often managers run.
    public var tick: Double = 2
    /// How long a lock holds without renewal.
    public var lockLease: Double = 30
    /// How long after losing quorum a node's watchdog has stopped its HA guests.
    public var watchdog: Double = 20

    public init(tick: Double = 2, lockLease: Double = 30, watchdog: Double = 20) {
        self.tick = tick
        self.lockLease = lockLease
        self.watchdog = watchdog
    }

    /// The safety margin: the watchdog must have fired this long before the lock can expire.
    public var margin: Double { lockLease - watchdog - tick }
    public var isSafe: Bool { margin > 0 }
}

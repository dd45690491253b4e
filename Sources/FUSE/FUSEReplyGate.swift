import Glibc

/// Orders name replies against invalidations. A lookup that read the tree before a change and replies
/// after the kernel processed that change's invalidation would leave a stale name cached for the whole
/// entry timeout. Lookups hold the gate shared from reading the tree until their reply is written; the
/// invalidation thread passes it exclusively before it notifies, so every reply based on the old tree
/// is in the kernel first and the invalidation then removes it.
final class FUSEReplyGate: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)

    init() {
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        // a steady stream of lookups must not starve the invalidation thread
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        pthread_rwlock_init(lock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    func reading<T>(_ body: () -> T) -> T {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return body()
    }

    /// Waits until every reply begun before now is written.
    func pass() {
        pthread_rwlock_wrlock(lock)
        pthread_rwlock_unlock(lock)
    }
}

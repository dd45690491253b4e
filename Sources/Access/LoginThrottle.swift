import Synchronization

/// Limits password guessing beyond the 3 s answer delay: after `limit` failed logins within
/// `window` seconds for one user, or from one address, further attempts for it are refused without
/// checking the password until the window has passed. Success clears the user's record.
public final class LoginThrottle: Sendable {
    let limit: Int
    let window: Int
    private let failures = Mutex<[String: [Int]]>([:])

    public init(limit: Int = 5, window: Int = 300) {
        self.limit = limit
        self.window = window
    }

    private func recent(_ key: String, now: Int, _ table: inout [String: [Int]]) -> Int {
        let kept = (table[key] ?? []).filter { now - $0 < window }
        table[key] = kept.isEmpty ? nil : kept
        return kept.count
    }

    public func allows(user: String, address: String, now: Int) -> Bool {
        failures.withLock { table in
            recent("user " + user, now: now, &table) < limit && (address.isEmpty || recent("addr " + address, now: now, &table) < limit * 4)
        }
    }

    public func failed(user: String, address: String, now: Int) {
        failures.withLock { table in
            if table.count > 100_000 { table.removeAll() }  // bounded memory under a flood
            table["user " + user, default: []].append(now)
            if !address.isEmpty { table["addr " + address, default: []].append(now) }
        }
    }

    public func succeeded(user: String) { failures.withLock { _ = $0.removeValue(forKey: "user " + user) } }
}

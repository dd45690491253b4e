import Foundation
import Schema
import Synchronization

/// The node's recent events (task and resource changes) with ids, so a client that reconnects to
/// `/events` is given what it missed instead of polling everything again. Ids are
/// `<journal>-<sequence>`: the journal part changes when corrald restarts, and a resume point from
/// an earlier process, or one older than the kept backlog, answers `resync` (the client reloads).
public final class EventJournal: Sendable {
    public struct Event: Sendable {
        public let sequence: Int
        public let name: String
        public let data: JSON
        /// What a subscriber must be allowed to see it (checked per subscriber on delivery).
        public let scope: Scope
    }

    /// Who may see an event: the same privileges the list it changes asks for.
    public enum Scope: Sendable, Equatable {
        case everyone
        case privileges(path: String, [String], any: Bool)
        /// A task: its owner, or whoever may audit the node it runs on.
        case task(user: String, node: String)
    }

    public typealias Subscriber = @Sendable (Event) -> Void

    private struct State {
        var backlog: [Event] = []
        var next = 1
        var subscribers: [Int: Subscriber] = [:]
        var nextToken = 0
    }

    /// The part of every id that names this process's journal.
    public let journalID: String
    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
        journalID = String(UInt64(Date().timeIntervalSince1970 * 1000), radix: 36)
    }

    public func id(_ sequence: Int) -> String { "\(journalID)-\(sequence)" }

    /// The id of the newest event (the resume point of a client that has seen everything).
    public var lastID: String { id(state.withLock { $0.next - 1 }) }

    /// Records an event and hands it to every subscriber, in order.
    public func append(_ name: String, _ data: JSON, scope: Scope = .everyone) {
        state.withLock { s in
            let event = Event(sequence: s.next, name: name, data: data, scope: scope)
            s.next += 1
            s.backlog.append(event)
            if s.backlog.count > capacity + capacity / 4 { s.backlog.removeFirst(s.backlog.count - capacity) }
            // delivered under the lock, so no subscriber sees two events out of order
            for subscriber in s.subscribers.values { subscriber(event) }
        }
    }

    /// What a subscription starts with.
    public enum Start: Sendable, Equatable {
        /// The events after the resume point follow, then live ones.
        case resumed(missed: Int)
        /// No resume point asked for: live events only.
        case live
        /// The resume point is unknown (another process) or too old: reload, then live events.
        case resync
    }

    /// Subscribes from `since` (an id this journal gave out, or nil): `opening` learns how the
    /// subscription starts and the newest id, then the missed events are handed to `subscriber` before any new one,
    /// with nothing lost in between.
    public func subscribe(since: String?, opening: (Start, String) -> Void, _ subscriber: @escaping Subscriber) -> Int {
        state.withLock { s in
            let token = s.nextToken
            s.nextToken += 1
            var missed: [Event] = []
            if let since {
                let parts = since.split(separator: "-")
                let oldest = (s.backlog.first?.sequence ?? s.next) - 1
                if parts.count == 2, parts[0] == journalID, let sequence = Int(parts[1]), sequence < s.next, sequence >= oldest {
                    missed = s.backlog.filter { $0.sequence > sequence }
                    opening(.resumed(missed: missed.count), id(s.next - 1))
                } else {
                    opening(.resync, id(s.next - 1))
                }
            } else {
                opening(.live, id(s.next - 1))
            }
            for event in missed { subscriber(event) }
            s.subscribers[token] = subscriber
            return token
        }
    }

    public func unsubscribe(_ token: Int) { _ = state.withLock { $0.subscribers.removeValue(forKey: token) } }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }
}

import API
import Schema
import Synchronization
import Testing

/// The journal behind `/events`: ids in order, resuming after a point, and a resync where the point
/// is unknown or no longer kept.
@Suite struct EventJournalTests {
    final class Seen: Sendable {
        let names = Mutex<[String]>([])
        let starts = Mutex<[EventJournal.Start]>([])
    }

    @Test func resumesAfterAPointAndAsksForAReloadWhenItIsGone() {
        let journal = EventJournal(capacity: 8)
        for i in 1...5 { journal.append("e\(i)", .object([:])) }
        let point = journal.lastID
        #expect(point == "\(journal.journalID)-5")
        for i in 6...7 { journal.append("e\(i)", .object([:])) }

        let seen = Seen()
        let token = journal.subscribe(since: point) { start, last in
            seen.starts.withLock { $0.append(start) }
            #expect(last == journal.id(7))
        } _: { event in
            seen.names.withLock { $0.append(event.name) }
        }
        journal.append("e8", .object([:]))
        #expect(seen.starts.withLock { $0 } == [.resumed(missed: 2)])
        #expect(seen.names.withLock { $0 } == ["e6", "e7", "e8"])
        journal.unsubscribe(token)
        journal.append("e9", .object([:]))
        #expect(seen.names.withLock { $0 }.count == 3 && journal.subscriberCount == 0)

        // the backlog keeps about `capacity` events: an older point cannot be resumed from
        for i in 10...40 { journal.append("e\(i)", .object([:])) }
        for since in [point, "otherjournal-3", journal.id(99)] {
            let starts = Seen()
            let t = journal.subscribe(since: since) { start, _ in
                starts.starts.withLock { $0.append(start) }
            } _: { _ in
            }
            #expect(starts.starts.withLock { $0 } == [.resync], "\(since)")
            journal.unsubscribe(t)
        }
        // with no point: live only
        let live = Seen()
        let t = journal.subscribe(since: nil) { start, _ in
            live.starts.withLock { $0.append(start) }
        } _: { event in
            live.names.withLock { $0.append(event.name) }
        }
        journal.append("new", .object([:]))
        #expect(live.starts.withLock { $0 } == [.live] && live.names.withLock { $0 } == ["new"])
        journal.unsubscribe(t)
    }
}

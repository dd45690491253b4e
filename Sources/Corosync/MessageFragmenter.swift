/// Splits messages larger than one CPG send into fragments and joins them again on delivery.
/// CPG keeps each sender's messages in order and all senders in one total order, so a message is
/// complete at its last fragment and takes that fragment's place in the order.
struct MessageFragmenter {
    static let maxFragment = 256 * 1024
    private static let whole: UInt8 = 0, more: UInt8 = 1, last: UInt8 = 2
    private var partial: [CPGMember: [UInt8]] = [:]

    static func fragments(_ message: [UInt8]) -> [[UInt8]] {
        if message.count <= maxFragment { return [[whole] + message] }
        var out: [[UInt8]] = []
        var start = 0
        while start < message.count {
            let end = min(start + maxFragment, message.count)
            out.append([end == message.count ? last : more] + message[start..<end])
            start = end
        }
        return out
    }

    /// The whole message once `fragment` completes it, else nil. Malformed input is dropped.
    mutating func receive(_ fragment: UnsafeRawBufferPointer, from sender: CPGMember) -> [UInt8]? {
        guard let kind = fragment.first else { return nil }
        let body = fragment.dropFirst()
        switch kind {
        case Self.whole:
            partial[sender] = nil
            return Array(body)
        case Self.more:
            partial[sender, default: []].append(contentsOf: body)
            return nil
        case Self.last:
            var message = partial.removeValue(forKey: sender) ?? []
            message.append(contentsOf: body)
            return message
        default:
            return nil
        }
    }

    /// A member that left can never finish its message.
    mutating func forget(_ member: CPGMember) { partial[member] = nil }
    mutating func reset() { partial = [:] }
}

/// The checks behind the named formats, callable on their own (CLI completion, config parsers).
public enum Checks {
    /// `start-address=IP,end-address=IP` (an SDN subnet's DHCP range), both of one family.
    public static func dhcpRange(_ s: String) -> String? {
        var fields: [String: String] = [:]
        for part in s.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2, ["start-address", "end-address"].contains(kv[0]) else {
                return "value '\(s)' is not start-address=IP,end-address=IP"
            }
            fields[kv[0]] = kv[1]
        }
        guard let start = fields["start-address"], let end = fields["end-address"] else { return "a DHCP range needs start-address and end-address" }
        guard IPAddress.isIPv4(start) && IPAddress.isIPv4(end) || IPAddress.isIPv6(start) && IPAddress.isIPv6(end) else {
            return "the range's addresses must be IP addresses of one family"
        }
        return nil
    }

    public static func node(_ s: String) -> String? {
        PatternCache.matches("[a-zA-Z0-9]([a-zA-Z0-9\\-]*[a-zA-Z0-9])?", s) && s.count <= 63
            ? nil : "value '\(s)' does not look like a valid node name"
    }

    public static func vmid(_ s: String) -> String? {
        guard let n = Int64(s), s.first != "0" || s == "0" else { return "value '\(s)' does not look like a valid VM ID" }
        return (100...999_999_999).contains(n) ? nil : "value '\(s)' does not look like a valid VM ID"
    }

    public static func userid(_ s: String) -> String? {
        guard s.utf8.count <= 64, let at = s.lastIndex(of: "@") else { return "value '\(s)' does not look like a valid user name" }
        let name = s[..<at], realm = s[s.index(after: at)...]
        // stricter than PVE's [^\s:/]+: no list separators or control characters either, which
        // would corrupt user.cfg's colon- and comma-separated lines
        guard !name.isEmpty,
            !name.contains(where: {
                ":/!,;".contains($0) || $0.isWhitespace || $0.unicodeScalars.contains { $0.properties.generalCategory == .control }
            }),
            PatternCache.matches("[A-Za-z][A-Za-z0-9\\.\\-_]+", String(realm))
        else { return "value '\(s)' does not look like a valid user name" }
        return nil
    }

    public static func tokenid(_ s: String) -> String? {
        guard let bang = s.lastIndex(of: "!"), userid(String(s[..<bang])) == nil,
            PatternCache.matches("[A-Za-z][A-Za-z0-9\\.\\-_]+", String(s[s.index(after: bang)...]))
        else { return "value '\(s)' does not look like a valid token ID" }
        return nil
    }

    public static func diskSize(_ s: String) -> String? {
        parseSize(s) == nil ? "value '\(s)' is not a valid disk size" : nil
    }

    /// Parses PVE's sizes: a number with an optional K/M/G/T unit (binary), into bytes.
    public static func parseSize(_ s: String) -> UInt64? {
        // by hand: a regex literal is compiled on every call, and every disk of every listed guest has a size
        var digits = Substring(s)
        var shift: Double = 1
        switch digits.last {
        case "K": shift = 1024
        case "M": shift = 1024 * 1024
        case "G": shift = 1024 * 1024 * 1024
        case "T": shift = 1024 * 1024 * 1024 * 1024
        default: break
        }
        if shift != 1 { digits = digits.dropLast() }
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let value = Double(digits)
        else { return nil }
        let bytes = value * shift
        return bytes < 1.8e19 ? UInt64(bytes) : nil
    }

    public static func urlencoded(_ s: String) -> String? {
        var bytes = Array(s.utf8)[...]
        while let b = bytes.first {
            bytes = bytes.dropFirst()
            if b == UInt8(ascii: "%") {
                guard bytes.count >= 2, bytes.prefix(2).allSatisfy({ isHex($0) }) else { return "value is not URL encoded" }
                bytes = bytes.dropFirst(2)
            } else if !(isAlnum(b) || "-_.~+".utf8.contains(b)) {
                return "value is not URL encoded (unescaped character)"
            }
        }
        return nil
    }

    public static func address(_ s: String) -> String? {
        IPAddress.isIP(s) || dnsName(s) == nil ? nil : "value '\(s)' is not a valid address"
    }

    public static func dnsName(_ s: String) -> String? {
        PatternCache.matches("(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9\\-]*[a-zA-Z0-9])?)\\.)*(?:[A-Za-z0-9](?:[A-Za-z0-9\\-]*[A-Za-z0-9])?)", s)
            && s.utf8.count <= 253 ? nil : "value '\(s)' is not a valid DNS name"
    }

    public static func email(_ s: String) -> String? {
        Formats.lookup("email")!.check(s)
    }

    public static func volumeID(_ s: String) -> String? {
        guard let colon = s.firstIndex(of: ":"), colon != s.startIndex,
            PatternCache.matches("[a-z][a-z0-9\\-_.]*[a-z0-9]", String(s[..<colon])),
            s.index(after: colon) < s.endIndex
        else { return "unable to parse volume ID '\(s)'" }
        return nil
    }

    /// A light check of systemd-style calendar events as PVE accepts them; the scheduler issue parses them fully.
    public static func calendarEvent(_ s: String) -> String? {
        let keywords = ["minutely", "hourly", "daily", "weekly", "monthly", "yearly", "annually", "quarterly", "semiannually"]
        if keywords.contains(s) { return nil }
        return PatternCache.matches("[A-Za-z0-9 ,.:/*~\\-]+", s) ? nil : "value '\(s)' is not a valid calendar event"
    }

    static func isHex(_ b: UInt8) -> Bool { (48...57).contains(b) || (65...70).contains(b) || (97...102).contains(b) }
    static func isAlnum(_ b: UInt8) -> Bool { (48...57).contains(b) || (65...90).contains(b) || (97...122).contains(b) }
}

import Foundation

extension NetworkInterfaces {
    /// The file again: unchanged stanzas and every other line exactly as read, changed or new
    /// stanzas in PVE's layout (options indented by a tab, comment lines after them).
    public var text: String {
        var out: [String] = []
        for line in lines {
            switch line {
            case .iface(let name, let index):
                guard let family = stanzas[name]?[safe: index] else { continue }
                if let raw = family.raw {
                    out += raw
                } else {
                    out.append("iface \(name) \(family.family) \(family.method)")
                    out += family.options.map { "\t\($0.key) \($0.value)" }
                    out += family.comments.map { "#\($0)" }
                }
            case .auto(let kind, let names): if !names.isEmpty { out.append(([kind] + names).joined(separator: " ")) }
            case .other(let text): out.append(text)
            }
        }
        var text = out.joined(separator: "\n")
        if !text.hasSuffix("\n") { text += "\n" }
        return text
    }

    /// Replaces an interface's stanzas (one per family) and its `auto` line; a new interface goes
    /// at the end after a blank line, as PVE adds one.
    public mutating func set(_ name: String, families: [Family], autostart: Bool) {
        // existing stanzas are replaced where they are (blank lines between them stay), more go after the last
        let positions = lines.indices.filter { if case .iface(let n, _) = lines[$0] { n == name } else { false } }
        if let last = positions.last {
            for (index, position) in positions.enumerated().reversed() {
                if index < families.count { lines[position] = .iface(name: name, family: index) } else { lines.remove(at: position) }
            }
            if families.count > positions.count {
                let extra = (positions.count..<families.count).map { Line.iface(name: name, family: $0) }
                lines.insert(contentsOf: extra, at: min(last + 1, lines.count))
            }
        } else {
            if !order.contains(name) { order.append(name) }
            while case .other(let text)? = lines.last, text.isEmpty { lines.removeLast() }
            if !lines.isEmpty { lines.append(.other("")) }
            lines += families.indices.map { Line.iface(name: name, family: $0) }
        }
        stanzas[name] = families
        setAutostart(name, autostart)
    }

    public mutating func setAutostart(_ name: String, _ on: Bool) {
        let has = autostart.contains(name)
        if on && !has {
            // an `auto` line right before where the interface's stanzas will be
            if let at = lines.firstIndex(where: { if case .iface(let n, _) = $0 { n == name } else { false } }) {
                lines.insert(.auto(kind: "auto", names: [name]), at: at)
            } else {
                if lines.last.map({ if case .other(let t) = $0 { !t.isEmpty } else { true } }) ?? false { lines.append(.other("")) }
                lines.append(.auto(kind: "auto", names: [name]))
            }
        } else if !on && has {
            lines = lines.compactMap { line in
                guard case .auto(let kind, let names) = line, names.contains(name) else { return line }
                let rest = names.filter { $0 != name }
                return rest.isEmpty ? nil : .auto(kind: kind, names: rest)
            }
        }
    }

    /// Removes an interface: its stanzas and its name on `auto` lines.
    public mutating func remove(_ name: String) {
        setAutostart(name, false)
        lines.removeAll { if case .iface(let n, _) = $0 { n == name } else { false } }
        stanzas[name] = nil
        order.removeAll { $0 == name }
        // no run of blank lines where the stanza was
        var cleaned: [Line] = []
        for line in lines {
            if case .other(let text) = line, text.isEmpty, case .other(let previous)? = cleaned.last, previous.isEmpty { continue }
            cleaned.append(line)
        }
        lines = cleaned
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

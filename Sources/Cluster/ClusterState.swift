import API
import Blocking
import ClusterFS
import Foundation
import Guests
import Nodes
import Peers
import Schema
import Storage
import Synchronization
import Tasks

/// What every node knows of every other without asking it: each node publishes its resource rows
/// (node, guests, storages) on the status channel when they change and every 10 s regardless, and
/// `/cluster/resources` and `/nodes` answer from this node's live rows plus the others' last rows.
/// Guests come from the replicated configuration (`.vmlist`) too, so a guest made on another node
/// is listed as soon as its config exists, and an offline node's guests are listed as `unknown`.
public final class ClusterState: Sendable {
    static let key = "resources"
    static let heartbeat: Double = 10

    let nodeName: String
    let guests: GuestBackends
    let storage: Storage
    let sampler: CPUSampler
    let channel: StatusChannel?
    /// This node's recent tasks (published for `/cluster/tasks` elsewhere).
    let localTasks: @Sendable () -> [JSON]
    private let publishedTasks = Synchronization.Mutex<(bytes: [UInt8], at: Date)?>(nil)
    private let published = Synchronization.Mutex<(bytes: [UInt8], at: Date)?>(nil)
    private let parsed = Synchronization.Mutex<[String: (bytes: [UInt8], rows: [[String: JSON]])]>([:])
    private let timer = Synchronization.Mutex<WatchTimer?>(nil)
    /// This node's guest rows as last computed, and the generation they belong to: a request reuses
    /// them for up to a second unless a local config changed or a task ended since (asking libvirt
    /// and liblxc about hundreds of guests per request is what would make the list slow).
    private let localGuests = Synchronization.Mutex<(rows: [[String: JSON]], at: Date, generation: Int)?>(nil)
    /// Storage figures by storage (type, id, options) and when they were read (`cachedStatus`).
    private let storageStatus = Synchronization.Mutex<[String: (at: Date, status: (total: Int64, used: Int64, available: Int64)?)]>([:])
    private let generation = Atomic<Int>(0)
    private let vmlistCache = Synchronization.Mutex<(bytes: [UInt8], list: [Int: (node: String, type: String)])?>(nil)

    public init(
        nodeName: String, guests: GuestBackends, storage: Storage, sampler: CPUSampler, localTasks: @escaping @Sendable () -> [JSON] = { [] }
    ) {
        self.localTasks = localTasks
        self.nodeName = nodeName
        self.guests = guests
        self.storage = storage
        self.sampler = sampler
        channel = (storage.fs as? ClusterFS)?.status
    }

    // MARK: this node's rows

    public func nodeRow() -> [String: JSON] {
        let memory = NodeStatus.memory(), disk = NodeStatus.filesystem("/")
        return [
            "id": .string("node/\(nodeName)"), "type": "node", "node": .string(nodeName), "status": "online", "level": "",
            "cpu": .number(sampler.fractions().cpu), "maxcpu": JSON(NodeStatus.cpuCount), "mem": JSON(memory.used),
            "maxmem": JSON(memory.total), "disk": JSON(disk.used), "maxdisk": JSON(disk.total), "uptime": JSON(NodeStatus.uptime()),
        ]
    }

    public func guestRows() -> [[String: JSON]] {
        let current = generation.load(ordering: .acquiring)
        let rows = guests.all.flatMap { backend in backend.resourceRows(backend.vmids()) }
        localGuests.withLock { $0 = (rows, Date(), current) }
        return rows
    }

    /// This node's guest rows, reused while fresh (see `localGuests`).
    func cachedGuestRows(maxAge: Double = 1) -> [[String: JSON]] {
        let current = generation.load(ordering: .acquiring)
        if let cached = localGuests.withLock({ $0 }), cached.generation == current {
            let age = Date().timeIntervalSince(cached.at)
            if age < maxAge { return cached.rows }
            // only the moving figures aged: answer with them and refresh behind, so no request waits
            // for a thousand guests' status (what a changed config or an ended task makes stale is
            // asked again at once, below)
            if age < 10 {
                refresh.schedule { [weak self] in _ = self?.guestRows() }
                return cached.rows
            }
        }
        return guestRows()
    }
    private let refresh = CoalescedJob()

    /// Makes the next rows fresh (a guest's state changed without a task or a config write).
    public func invalidateGuests() { generation.add(1, ordering: .releasing) }

    /// Local changes that make cached rows stale: a config of this node written, a task ended.
    public func watch(tasks: TaskManager?) {
        let prefix = "nodes/\(nodeName)/"
        if let fs = storage.fs as? ClusterFS {
            _ = fs.addObserver { [weak self] changes in
                if changes.contains(where: { $0.path.hasPrefix(prefix) }) { self?.generation.add(1, ordering: .releasing) }
            }
        }
        _ = tasks?.addObserver { [weak self] event in
            if case .finished = event { self?.generation.add(1, ordering: .releasing) }
        }
    }

    /// A storage's figures, asked again at most every 10 s (as pvestatd samples): rows are built every
    /// second, and some backends' status is a login to a target (iscsidirect) or a cluster query (rbd).
    func cachedStatus(_ entry: StorageConfig.Entry) -> (total: Int64, used: Int64, available: Int64)? {
        let key = "\(entry.type):\(entry.id):\(entry.options.map { "\($0.key)=\($0.value ?? "")" }.joined(separator: ","))"
        let now = Date()
        if let cached = storageStatus.withLock({ $0[key] }), now.timeIntervalSince(cached.at) < 10 { return cached.status }
        let status = (try? storage.plugin(for: entry)).flatMap { try? $0.status() }
        storageStatus.withLock { cache in
            cache = cache.filter { now.timeIntervalSince($0.value.at) < 60 }
            cache[key] = (now, status)
        }
        return status
    }

    public func storageRows() -> [[String: JSON]] {
        guard let entries = try? storage.config().entries else { return [] }
        return entries.filter { $0.isAvailable(on: nodeName) }.map { entry in
            var item: [String: JSON] = [
                "id": .string("storage/\(nodeName)/\(entry.id)"), "type": "storage", "storage": .string(entry.id), "node": .string(nodeName),
                "plugintype": .string(entry.type), "content": .string(entry.content.sorted().joined(separator: ",")),
                "shared": entry["shared"] == "1" ? 1 : 0, "status": "unknown",
            ]
            if let s = cachedStatus(entry) {
                item["status"] = "available"
                item["disk"] = .int(s.used)
                item["maxdisk"] = .int(s.total)
            }
            return item
        }
    }

    // MARK: publishing

    /// Publishes this node's rows when they changed (or the heartbeat is due). Rows carry no
    /// counters that change every second (cpu is rounded), so an idle node publishes rarely.
    func publish() {
        guard let channel else { return }
        var rows = [nodeRow()] + guestRows() + storageRows()
        for index in rows.indices {
            if let cpu = rows[index]["cpu"]?.doubleValue { rows[index]["cpu"] = .number((cpu * 100).rounded() / 100) }
            rows[index]["uptime"] = nil
            rows[index]["netin"] = nil
            rows[index]["netout"] = nil
            rows[index]["diskread"] = nil
            rows[index]["diskwrite"] = nil
        }
        let bytes = JSON.array(rows.map(JSON.object)).serialized()
        if Self.due(bytes, published) { channel.set(Self.key, bytes) }
        let tasks = JSON.array(localTasks()).serialized()
        if Self.due(tasks, publishedTasks) { channel.set(Self.tasksKey, tasks) }
    }

    static let tasksKey = "tasks"

    /// Whether `bytes` differ from what was last published, or the heartbeat is due.
    private static func due(_ bytes: [UInt8], _ last: borrowing Synchronization.Mutex<(bytes: [UInt8], at: Date)?>) -> Bool {
        last.withLock { last -> Bool in
            guard let previous = last, previous.bytes == bytes, Date().timeIntervalSince(previous.at) < Self.heartbeat else {
                last = (bytes, Date())
                return true
            }
            return false
        }
    }

    /// The other online members' recent tasks, as they last published them.
    public func peerTasks() -> [[String: JSON]] {
        let members = members()
        guard members.count > 1, let channel else { return [] }
        var out: [[String: JSON]] = []
        for (node, bytes) in channel.values(key: Self.tasksKey) where node != nodeName && members[node] == true {
            out += ((try? JSONParser.parse(bytes))?.arrayValue ?? []).compactMap(\.objectValue)
        }
        return out
    }

    public func start(interval: Double = 1) {
        guard channel != nil else { return }
        let source = DispatchSource.makeTimerSource(queue: .global())
        source.schedule(deadline: .now() + 0.2, repeating: interval)
        source.setEventHandler { [weak self] in self?.publish() }
        source.resume()
        timer.withLock { $0 = WatchTimer(source) }
    }

    public func stop() {
        let box = timer.withLock { current -> WatchTimer? in
            defer { current = nil }
            return current
        }
        box?.timer.cancel()
    }

    // MARK: the whole cluster

    /// The configured nodes and whether each is online (this node alone when standalone).
    func members() -> [String: Bool] {
        var out = ClusterForwarder.members(in: storage.fs).mapValues(\.online)
        out[nodeName] = true
        return out
    }

    /// Another node's last published rows.
    func peerRows(_ node: String, _ bytes: [UInt8]) -> [[String: JSON]] {
        if let cached = parsed.withLock({ $0[node] }), cached.bytes == bytes { return cached.rows }
        let rows = ((try? JSONParser.parse(bytes))?.arrayValue ?? []).compactMap(\.objectValue)
        parsed.withLock { $0[node] = (bytes, rows) }
        return rows
    }

    /// Every node's rows of `type` (node, vm, storage; nil for all): this node's live, the others'
    /// as they last published them, offline nodes from what the configuration says.
    /// `guestAge`: how old this node's guest rows may be while nothing marked them stale (a task's
    /// end, a config write, libvirt's word): the moving figures age, the rest does not.
    public func rows(type: String?, guestAge: Double = 1) -> [[String: JSON]] {
        var out: [[String: JSON]] = []
        if type == nil || type == "node" { out.append(nodeRow()) }
        if type == nil || type == "vm" { out += cachedGuestRows(maxAge: guestAge) }
        if type == nil || type == "storage" { out += storageRows() }
        let members = members()
        if type == nil || type == "sdn" { out += sdnRows(nodes: members.count > 1 ? members.keys.sorted() : [nodeName]) }
        guard members.count > 1 else { return out }
        let published = channel?.values(key: Self.key) ?? [:]
        let vmlist = guestList()
        for (node, online) in members.sorted(by: { $0.key < $1.key }) where node != nodeName {
            let rows = online ? published[node].map { peerRows(node, $0) } ?? [] : []
            let known = Set(rows.compactMap { $0["vmid"]?.intValue.map(Int.init) })
            if type == nil || type == "node" {
                out.append(
                    rows.first { $0["type"]?.stringValue == "node" }
                        ?? [
                            "id": .string("node/\(node)"), "type": "node", "node": .string(node), "status": online ? "unknown" : "offline",
                            "level": "",
                        ])
            }
            if type == nil || type == "vm" {
                // the configuration is the truth about which guests exist; the owner's rows about their state
                let configured = vmlist.filter { $0.value.node == node }
                out += rows.filter { row in row["vmid"]?.intValue.map { configured[Int($0)] != nil } ?? false }
                for (vmid, guest) in configured.sorted(by: { $0.key < $1.key }) where !known.contains(vmid) {
                    out.append(configRow(vmid: vmid, type: guest.type, node: node))
                }
            }
            if type == nil || type == "storage" {
                let storages = rows.filter { $0["type"]?.stringValue == "storage" }
                out += storages.isEmpty && !online ? offlineStorageRows(node) : storages
            }
        }
        return out
    }

    /// Guests by VMID with their node and type, from `.vmlist`.
    func guestList() -> [Int: (node: String, type: String)] {
        guard let data = try? storage.fs.read(".vmlist") else { return [:] }
        if let cached = vmlistCache.withLock({ $0 }), cached.bytes == data { return cached.list }
        guard let ids = (try? JSONParser.parse(data))?["ids"]?.objectValue else { return [:] }
        var out: [Int: (node: String, type: String)] = [:]
        for (id, entry) in ids {
            if let vmid = Int(id), let node = entry["node"]?.stringValue, let type = entry["type"]?.stringValue { out[vmid] = (node, type) }
        }
        vmlistCache.withLock { $0 = (data, out) }
        return out
    }

    /// A guest whose node has not said how it is: what its configuration says.
    func configRow(vmid: Int, type: String, node: String) -> [String: JSON] {
        let directory = type == "lxc" ? "lxc" : "qemu-server"
        let text = (try? storage.fs.readString("nodes/\(node)/\(directory)/\(vmid).conf")) ?? ""
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("[") { break }
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        var row: [String: JSON] = [
            "id": .string("\(type)/\(vmid)"), "type": .string(type), "vmid": JSON(vmid), "node": .string(node), "status": "unknown",
            "template": values["template"] == "1" ? 1 : 0,
        ]
        if let name = values["name"] ?? values["hostname"] { row["name"] = .string(name) }
        if let memory = values["memory"].flatMap(Int64.init) { row["maxmem"] = .int(memory * 1024 * 1024) }
        if let tags = values["tags"] { row["tags"] = .string(tags) }
        return row
    }

    func offlineStorageRows(_ node: String) -> [[String: JSON]] {
        guard let entries = try? storage.config().entries else { return [] }
        return entries.filter { $0.isAvailable(on: node) }.map { entry in
            [
                "id": .string("storage/\(node)/\(entry.id)"), "type": "storage", "storage": .string(entry.id), "node": .string(node),
                "plugintype": .string(entry.type), "content": .string(entry.content.sorted().joined(separator: ",")),
                "shared": entry["shared"] == "1" ? 1 : 0, "status": "unknown",
            ]
        }
    }
}

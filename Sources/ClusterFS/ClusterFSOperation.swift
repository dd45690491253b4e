/// One change to the tree, as it travels between nodes. It carries its own time, so applying it
/// gives the same result on every node.
enum ClusterFSOperation: Equatable, Sendable {
    case put(path: [String], data: [UInt8], exclusive: Bool, time: UInt32)
    case mkdir(path: [String], time: UInt32)
    case delete(path: [String])
    case rename(from: [String], to: [String])
    case setMtime(path: [String], time: UInt32)

    func encode(into w: inout WireWriter) {
        switch self {
        case .put(let path, let data, let exclusive, let time):
            w.u8(1); w.path(path); w.data(data); w.bool(exclusive); w.u32(time)
        case .mkdir(let path, let time):
            w.u8(2); w.path(path); w.u32(time)
        case .delete(let path):
            w.u8(3); w.path(path)
        case .rename(let from, let to):
            w.u8(4); w.path(from); w.path(to)
        case .setMtime(let path, let time):
            w.u8(5); w.path(path); w.u32(time)
        }
    }

    init(from r: inout WireReader) throws(WireError) {
        switch try r.u8() {
        case 1: self = .put(path: try r.path(), data: try r.data(), exclusive: try r.bool(), time: try r.u32())
        case 2: self = .mkdir(path: try r.path(), time: try r.u32())
        case 3: self = .delete(path: try r.path())
        case 4: self = .rename(from: try r.path(), to: try r.path())
        case 5: self = .setMtime(path: try r.path(), time: try r.u32())
        default: throw WireError()
        }
    }
}

import API
import Access
import ClusterFS
import Composition
import Foundation
import Tasks

/// The one CLI executable, dispatching on the name it was called by (`pvesh`, and the other PVE tool
/// names as their parts land), or on its first argument when called as `corral`.
public enum MultiCall {
    public static let tools = ["pvesh", "pveum", "qm", "pct", "pveam", "pvecm", "pvesm", "vzdump", "qmrestore", "ha-manager"]

    public static func main(_ argv: [String]) async -> Int32 {
        let invoked = (argv.first ?? "corral").split(separator: "/").last.map(String.init) ?? "corral"
        var tool = invoked
        var arguments = Array(argv.dropFirst())
        if tool == "corral", arguments.first == "clusterfs-bench" { return ClusterFSBench.run(Array(arguments.dropFirst())) }
        if !tools.contains(tool) {
            guard let first = arguments.first, tools.contains(first) else {
                let text = "USAGE: corral <tool> [ARGS]   (tools: \(tools.joined(separator: ", ")); or call a tool by its own name)\n"
                FileHandle.standardError.write(Data(text.utf8))
                return arguments.first.map { $0 == "--help" || $0 == "-h" } == true ? 0 : 2
            }
            tool = first
            arguments.removeFirst()
        }
        let settings: Settings
        do { settings = try nodeSettings() } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return 1
        }
        let dispatcher: Dispatcher
        do {
            dispatcher = try NodeComposition.makeDispatcher(settings: settings) { line in
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("cannot open node state in \(settings.dataDirectory): \(error)\n".utf8))
            return 1
        }
        switch tool {
        case "pveum": return await Pveum(pvesh: Pvesh(dispatcher: dispatcher)).run(arguments)
        case "qm": return await Qm(pvesh: Pvesh(dispatcher: dispatcher), settings: settings).run(arguments)
        case "pct": return await Pct(pvesh: Pvesh(dispatcher: dispatcher), settings: settings).run(arguments)
        case "pveam": return await Pveam(pvesh: Pvesh(dispatcher: dispatcher), node: settings.nodeName).run(arguments)
        case "pvesm":
            return await Pvesm(pvesh: Pvesh(dispatcher: dispatcher), node: settings.nodeName, tree: MountedTree(root: settings.effectiveMountpoint))
                .run(arguments)
        case "pvecm": return await Pvecm(pvesh: Pvesh(dispatcher: dispatcher), settings: settings).run(arguments)
        case "vzdump": return await Vzdump(pvesh: Pvesh(dispatcher: dispatcher), node: settings.nodeName).run(arguments)
        case "ha-manager": return await HaManager(pvesh: Pvesh(dispatcher: dispatcher), node: settings.nodeName).run(arguments)
        case "qmrestore": return await Vzdump(pvesh: Pvesh(dispatcher: dispatcher), node: settings.nodeName).restore(arguments)
        default: return await Pvesh(dispatcher: dispatcher).run(arguments)
        }
    }

    /// The node's settings as corrald reads them: the settings file, then `CORRAL_DATA_DIR` and
    /// `CORRAL_NODENAME` (test nodes and several nodes on one machine).
    static func nodeSettings() throws -> Settings {
        var settings = Settings()
        let environment = ProcessInfo.processInfo.environment
        let path = environment["CORRAL_CONFIG"] ?? "/etc/corral/corrald.conf"
        if FileManager.default.fileExists(atPath: path) { try settings.apply(file: path) }
        if let dir = environment["CORRAL_DATA_DIR"] { settings.dataDirectory = dir }
        if let node = environment["CORRAL_NODENAME"] { settings.nodeName = node }
        if let mount = environment["CORRAL_MOUNTPOINT"] { settings.mountpoint = mount }
        if let prefix = environment["CORRAL_DOMAIN_PREFIX"] { settings.domainPrefix = prefix }
        return settings
    }
}

/// The cluster filesystem as the CLIs see it: through its mount.
enum MountedTreeProvider {
    static func tree(_ settings: Settings) -> MountedTree { MountedTree(root: settings.effectiveMountpoint) }
}

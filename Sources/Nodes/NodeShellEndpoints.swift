import API
import Guests
import Schema
import Tasks

/// The node's shell in the console: `termproxy` issues a one-time ticket for a terminal on a new pty
/// and `vncwebsocket` carries it with PVE's terminal protocol. root@pam gets a root login shell;
/// other users with Sys.Console get the system's login prompt, as on PVE.
enum NodeShellEndpoints {
    static func all(sessions: ConsoleSessions) -> [Endpoint] {
        [
            Endpoint(
                pve: "POST /nodes/{node}/termproxy", description: "A one-time ticket for a shell on the node.",
                returns: .object(["user": .string(), "ticket": .string(), "port": .integer(), "upid": .string()]),
                permission: .privileges(path: "/nodes/{node}", ["Sys.Console"]),
                handler: .blocking { context in
                    let command: [String]
                    switch context.string("cmd") ?? "login" {
                    case "upgrade":
                        guard context.user == "root@pam" else { throw APIError(403, "only root@pam may upgrade the node") }
                        command = ["/bin/bash", "-c", "apt-get dist-upgrade; echo; echo 'done: press Enter to close'; read _"]
                    case "ceph_install": throw APIError(501, "Corral does not install Ceph; install ceph-common with apt and add an rbd storage")
                    default:
                        command = context.user == "root@pam" ? ["/bin/bash", "-c", "cd /root && exec /bin/bash -l"] : ["/bin/login"]
                    }
                    let (ticket, port) = try sessions.issue(user: context.user, vmid: 0, kind: .terminal) {
                        try TerminalProcess.start(["env", "TERM=xterm-256color", "HOME=/root"] + command, name: "node-shell")
                    }
                    let upid = try context.services.tasks.start(type: "vncshell", user: context.user) { log in
                        log.log("shell ticket for port \(port) issued; valid once, for 40 s")
                    }
                    return ["user": .string(context.user), "ticket": .string(ticket), "port": .int(Int64(port)), "upid": .string(upid.description)]
                }),
            Endpoint(
                pve: "GET /nodes/{node}/vncwebsocket", description: "The node shell's WebSocket (PVE's terminal protocol).",
                returns: .object(["port": .string()]), permission: .privileges(path: "/nodes/{node}", ["Sys.Console"]),
                handler: .tunnel { context in
                    try sessions.open(ticket: try context.require("vncticket"), user: context.user, vmid: 0, port: Int(context.int("port") ?? 0))
                }),
        ]
    }
}

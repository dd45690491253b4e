import Foundation
import TestSupport
import Testing

/// Access control over real HTTPS against the real daemon: users made over the API, a login that
/// returns a ticket, the cookie and CSRF header on a write, a 403 for what the ACLs forbid.
@Suite(.serialized) struct AccessHTTPTests {
    func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
    }

    @Test func loginTicketCSRFAndACLsOverHTTPS() throws {
        let node = try NodeProcess(name: "acc1")
        defer { _ = node.terminate() }
        // nothing but login and the realm list without credentials, even from loopback
        #expect(try curl(node, "/api2/json/version", anonymous: true).status == 401)
        #expect(try curl(node, "/api2/json/access/domains", anonymous: true).status == 200)
        // as the administrator: an operator who may manage groups only
        #expect(try curl(node, "/api2/json/access/users", ["-X", "POST", "-d", "userid=op@pve", "-d", "password=op-secret-99"]).status == 200)
        #expect(
            try curl(node, "/api2/json/access/acl", ["-X", "PUT", "-d", "path=/access/groups", "-d", "users=op@pve", "-d", "roles=PVEUserAdmin"])
                .status == 200)
        #expect(try String(contentsOfFile: node.dataDirectory + "/pve/user.cfg", encoding: .utf8).contains("user:op@pve:1:0:"))

        let login = try curl(node, "/api2/json/access/ticket", ["-d", "username=op", "-d", "realm=pve", "-d", "password=op-secret-99"])
        #expect(login.status == 200)
        let data = json(login.body)["data"] as? [String: Any] ?? [:]
        let ticket = try #require(data["ticket"] as? String)
        let csrf = try #require(data["CSRFPreventionToken"] as? String)
        let cookie = "PVEAuthCookie=" + (ticket.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ticket)

        // a write with the cookie needs the CSRF header
        let withoutCSRF = try curl(node, "/api2/json/access/groups", ["-X", "POST", "-b", cookie, "-d", "groupid=team"], anonymous: true)
        #expect(withoutCSRF.status == 401)
        let created = try curl(
            node, "/api2/json/access/groups", ["-X", "POST", "-b", cookie, "-H", "CSRFPreventionToken: \(csrf)", "-d", "groupid=team"],
            anonymous: true)
        #expect(created.status == 200)
        // what PVEUserAdmin does not include
        let role = try curl(
            node, "/api2/json/access/roles", ["-X", "POST", "-b", cookie, "-H", "CSRFPreventionToken: \(csrf)", "-d", "roleid=Mine"], anonymous: true)
        #expect(role.status == 403)
        // the ticket is found among other cookies, and only under its own name
        let listed = try curl(node, "/api2/json/access/groups", ["-b", "lang=en; \(cookie);theme=dark"], anonymous: true)
        #expect(listed.status == 200 && listed.body.contains("team"), "\(listed)")
        let lookalike = try curl(node, "/api2/json/access/groups", ["-b", "X" + cookie], anonymous: true)
        #expect(lookalike.status == 401)
        // a changed ACL counts from the next request on (the parsed user.cfg is cached between changes)
        #expect(
            try curl(
                node, "/api2/json/access/acl",
                ["-X", "PUT", "-d", "path=/access/groups", "-d", "users=op@pve", "-d", "roles=PVEUserAdmin", "-d", "delete=1"]
            )
            .status == 200)
        let revoked = try curl(
            node, "/api2/json/access/groups", ["-X", "POST", "-b", cookie, "-H", "CSRFPreventionToken: \(csrf)", "-d", "groupid=team2"],
            anonymous: true)
        #expect(revoked.status == 403, "\(revoked)")
        // a ticket that does not verify is refused, even from loopback
        let forged = try curl(node, "/api2/json/access/users", ["-b", "PVEAuthCookie=PVE:root@pam:6B49D200::Zm9v"], anonymous: true)
        #expect(forged.status == 401)
        // a wrong password: 401 in PVE's words
        let wrong = try runCommand(
            "/usr/bin/curl",
            ["-s", "-i", "--cacert", node.caFile, "-d", "username=op@pve", "-d", "password=nope-nope", "\(node.url)/api2/json/access/ticket"])
        #expect(wrong.stdout.hasPrefix("HTTP/1.1 401 authentication failure"))
        // secrets stay out of the access log and out of API answers
        let log = try String(contentsOfFile: node.dataDirectory + "/access.log", encoding: .utf8)
        #expect(!log.contains("op-secret-99") && !log.contains(NodeProcess.adminPassword) && !log.contains("nope-nope"))
        #expect(log.contains("POST /api2/json/access/ticket"))
        let users = try curl(node, "/api2/json/access/users?full=1")
        #expect(!users.body.contains("$6$") && !users.body.contains("$y$") && !users.body.contains("op-secret-99"))
    }

    @Test func pveumManagesUsersThroughTheMountedTree() throws {
        let node = try NodeProcess(name: "acc2")
        defer { _ = node.terminate() }
        let env = ["CORRAL_DATA_DIR": node.dataDirectory, "CORRAL_NODENAME": "acc2", "CORRAL_CONFIG": "/dev/null"]
        let corral = NodeProcess.buildDirectory + "/corral"
        func pveum(_ args: [String]) throws -> CommandResult { try runCommand(corral, ["pveum"] + args, environment: env) }
        #expect(try pveum(["group", "add", "ops", "--comment", "operators"]).status == 0)
        #expect(
            try pveum(["user", "add", "carol@pve", "--password", "carol-secret-7", "--groups", "ops", "--email", "carol@example.com"]).status == 0)
        #expect(try pveum(["acl", "modify", "/vms/100", "--groups", "ops", "--roles", "PVEVMUser"]).status == 0)
        #expect(try pveum(["role", "add", "Viewer", "--privs", "VM.Audit,Sys.Audit"]).status == 0)
        let list = try pveum(["user", "list", "--output-format", "json"])
        #expect(list.status == 0 && list.stdout.contains("carol@pve") && list.stdout.contains("carol@example.com"))
        // what pveum wrote is what the daemon serves: carol logs in over HTTPS
        let login = try curl(node, "/api2/json/access/ticket", ["-d", "username=carol@pve", "-d", "password=carol-secret-7"], anonymous: true)
        #expect(login.status == 200)
        let perms = try pveum(["user", "permissions", "carol@pve", "--output-format", "json"])
        #expect(perms.stdout.contains("/vms/100") && perms.stdout.contains("VM.PowerMgmt"))
        // the schema checks pveum's input like the API's
        let bad = try pveum(["user", "add", "bad:name@pve"])
        #expect(bad.status == 2 && bad.stderr.contains("userid"))
        let token = try pveum(["user", "token", "add", "carol@pve", "ci", "--output-format", "json"])
        #expect(token.status == 0 && token.stdout.contains("\"full-tokenid\":\"carol@pve!ci\""))
        #expect(try pveum(["user", "delete", "carol@pve"]).status == 0)
        #expect(!(try String(contentsOfFile: node.mountpoint + "/user.cfg", encoding: .utf8)).contains("carol@pve"))
        #expect(try pveum(["nonsense"]).status == 2)
        // directory realms: added, changed and removed by pveum, the bind password kept apart
        #expect(
            try pveum([
                "realm", "add", "corp", "--type", "ldap", "--server1", "127.0.0.1", "--base_dn", "ou=people,dc=corral,dc=test",
                "--user_attr", "uid", "--bind_dn", "cn=reader,dc=corral,dc=test", "--password", "reader-pw",
            ]).status == 0)
        #expect(try pveum(["realm", "modify", "corp", "--mode", "ldap+starttls", "--comment", "directory"]).status == 0)
        let domains = (try? String(contentsOfFile: node.mountpoint + "/domains.cfg", encoding: .utf8)) ?? ""
        #expect(domains.contains("ldap: corp") && domains.contains("\tmode ldap+starttls") && !domains.contains("reader-pw"), "\(domains)")
        #expect((try? String(contentsOfFile: node.mountpoint + "/priv/realm/corp.pw", encoding: .utf8)) == "reader-pw")
        let noBase = try pveum(["realm", "add", "bad", "--type", "ldap", "--server1", "127.0.0.1", "--user_attr", "uid"])
        #expect(noBase.status != 0 && noBase.stderr.contains("base_dn"), "\(noBase.stderr)")
        #expect(try pveum(["realm", "delete", "corp"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: node.mountpoint + "/priv/realm/corp.pw"))
    }
}

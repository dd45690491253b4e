"""proxmoxer (PyPI) against the node: what its users' scripts call, and what they read back.

proxmoxer builds URLs from attribute access and splits a string argument on '/', so
`nodes(n).storage(s).content('local:iso/x.iso')` sends the volume ID with a raw slash; it turns a
status >= 400 into ResourceException(status, reason, …); its Tasks helper decodes UPIDs (9 fields)
and polls nodes/{node}/tasks/{upid}/status until status == 'stopped'; its Files helper uploads
multipart with checksum and checksum-algorithm and then follows the task.
"""

import re
import time

from harness import expect, expect_eq, need

UPID_RE = re.compile(r"^UPID:[^:]+:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:[^:]+:[^:]*:[^:]+:$")


def run(c, node):
    from proxmoxer import AuthenticationError, ProxmoxAPI, ResourceException
    from proxmoxer.tools import Files, Tasks

    N = node.name

    def raises(fn, status, text=None):
        """fn must fail the way PVE fails it (HTTP status, and a phrase of its message)."""
        try:
            value = fn()
        except ResourceException as e:
            expect(e.status_code == status, f"HTTP {e.status_code} ({e}), PVE answers {status}")
            if text:
                expect(text in str(e), f"message {str(e)!r} lacks PVE's {text!r}")
            return str(e)
        raise AssertionError(f"succeeded with {value!r}; PVE answers HTTP {status}")

    def task_ok(api, upid, what):
        expect(isinstance(upid, str) and UPID_RE.match(upid), f"{what} answered {upid!r}, not a UPID")
        info = Tasks.decode_upid(upid)
        expect_eq(info["node"], N, "UPID node")
        status = Tasks.blocking_status(api, upid, timeout=60, polling_interval=0.2)
        expect(status is not None, f"{what}: task {upid} did not stop within 60 s")
        expect_eq(status.get("exitstatus"), "OK", f"{what}: task exitstatus")
        return status

    # ---------------------------------------------------------------- authentication
    def ticket_login():
        api = ProxmoxAPI(node.host, user=node.USER, password=node.PASSWORD, verify_ssl=node.ca, timeout=30)
        ticket, csrf = api.get_tokens()
        expect(ticket.startswith(f"PVE:{node.USER}:"), f"ticket {ticket[:40]!r} is not PVE:<user>:…")
        expect(re.match(r"^[0-9A-F]{8}:\S+$", csrf or ""), f"CSRFPreventionToken {csrf!r} is not <hex time>:<sig>")
        return api

    ticket = c.check("proxmoxer: ticket login, TLS verified against the cluster CA", ticket_login)

    def bad_password():
        try:
            ProxmoxAPI(node.host, user=node.USER, password="wrong", verify_ssl=False, timeout=30)
        except AuthenticationError as e:
            expect("code: 401" in str(e), f"{e} (PVE answers 401)")
            return
        raise AssertionError("a wrong password logged in")

    c.check("proxmoxer: wrong password refused (401)", bad_password)

    def make_token():
        need(ticket)
        data = ticket.access.users(node.USER).token("ci").post(privsep=0, comment="compat")
        expect_eq(data.get("full-tokenid"), f"{node.USER}!ci", "full-tokenid")
        expect(re.match(r"^[0-9a-f-]{36}$", data.get("value", "")), f"token value {data.get('value')!r} is not a UUID")
        expect_eq(int(data.get("info", {}).get("privsep", -1)), 0, "info.privsep")
        return data["value"]

    secret = c.check("proxmoxer: POST access/users/{userid}/token/{tokenid} (privsep=0)", make_token)
    node.token_secret = secret

    def token_login():
        need(secret)
        api = ProxmoxAPI(node.host, user=node.USER, token_name="ci", token_value=secret, verify_ssl=False, timeout=30)
        expect("version" in api.version.get(), "GET version without 'version'")
        return api

    token = c.check("proxmoxer: API-token auth (PVEAPIToken header)", token_login)

    def bad_token():
        api = ProxmoxAPI(node.host, user=node.USER, token_name="ci", token_value="00000000-0000-0000-0000-000000000000",
                         verify_ssl=False, timeout=30)
        raises(api.version.get, 401)

    c.check("proxmoxer: wrong token secret refused (401)", bad_token)

    # ---------------------------------------------------------------- read-only endpoints, both auths
    for label, api in (("ticket", ticket), ("token", token)):
        read_checks(c, node, label, api, raises)

    api = ticket  # writes go with a ticket: proxmoxer then sends CSRFPreventionToken on each
    tapi = token

    # ---------------------------------------------------------------- access objects and pools
    def missing_user():
        need(api)
        # community.proxmox's proxmox_user decides "create" from this error's text
        return raises(lambda: api.access.users("nobody@pve").get(), 500, "no such user")

    c.check("proxmoxer: GET access/users/{userid} of a missing user → 500 'no such user'", missing_user)

    def group_and_user():
        need(api)
        api.access.groups.post(groupid="compat-px", comment="from proxmoxer")
        api.access.users.post(userid="px@pve", password="px-password-1", groups="compat-px",
                              firstname="Pro", email="px@example.com", comment="c")
        user = api.access.users("px@pve").get()
        expect_eq(user.get("groups"), ["compat-px"], "GET access/users/px@pve groups (an array)")
        expect_eq((user.get("firstname"), user.get("email")), ("Pro", "px@example.com"), "firstname, email")
        expect_eq(int(user.get("enable", 1)), 1, "enable")
        group = api.access.groups("compat-px").get()
        expect_eq(group.get("members"), ["px@pve"], "GET access/groups/compat-px members")
        return True

    made = c.check("proxmoxer: POST access/groups, access/users; GET access/users/{userid}, access/groups/{groupid}",
                   group_and_user)

    def users_full_groups():
        need(made)
        # User.pm index: $entry->{groups} = join(',', …) — a comma list there, an array in read_user
        listed = [u for u in api.access.users.get(full=1) if u["userid"] == "px@pve"]
        expect(listed and listed[0].get("groups") == "compat-px",
               f"GET access/users?full=1 groups {listed[0].get('groups') if listed else None!r}; PVE gives the string 'compat-px'")

    c.check("proxmoxer: GET access/users?full=1 lists a user's groups as a comma list", users_full_groups)

    def acl():
        need(made)
        api.access.acl.put(path="/vms", groups="compat-px", roles="PVEVMUser")
        rows = [a for a in api.access.acl.get() if a["ugid"] == "compat-px"]
        expect(rows and rows[0]["path"] == "/vms" and rows[0]["roleid"] == "PVEVMUser" and rows[0]["type"] == "group",
               f"acl entry for the group: {rows}")
        api.access.acl.put(path="/vms", groups="compat-px", roles="PVEVMUser", delete=1)
        expect(not [a for a in api.access.acl.get() if a["ugid"] == "compat-px"], "acl entry left after delete=1")

    c.check("proxmoxer: PUT access/acl (add, delete=1)", acl)

    def delete_user_group():
        need(made)
        api.access.users("px@pve").delete()
        api.access.groups("compat-px").delete()
        expect(all(g["groupid"] != "compat-px" for g in api.access.groups.get()), "group still listed after DELETE")
        expect(all(u["userid"] != "px@pve" for u in api.access.users.get()), "user still listed after DELETE")

    c.check("proxmoxer: DELETE access/users/{userid}, access/groups/{groupid}", delete_user_group)

    def pools():
        need(api)
        api.pools.post(poolid="compat-px", comment="c")
        listed = [p for p in api.pools.get() if p["poolid"] == "compat-px"]
        expect(listed and listed[0].get("comment") == "c", f"GET pools: {listed}")
        pool = api.pools("compat-px").get()
        expect_eq(pool.get("members"), [], "GET pools/compat-px members")
        api.pools("compat-px").delete()
        expect(all(p["poolid"] != "compat-px" for p in api.pools.get()), "pool still listed after DELETE")

    c.check("proxmoxer: pools create/list/read/delete", pools)

    def missing_pool():
        need(api)
        # pve-manager Pool.pm: die "pool '$poolid' does not exist\n" — a plain die, so HTTP 500
        raises(lambda: api.pools("compat-nopool").get(), 500, "does not exist")

    c.check("proxmoxer: GET pools/{poolid} of a missing pool → 500 'does not exist'", missing_pool)

    # ---------------------------------------------------------------- storage: upload, content, raw '/'
    def upload_iso(tmpdir=node.tmp):
        need(tapi)
        iso = tmpdir / "compat.iso"
        iso.write_bytes(b"CD001" + bytes(65531))
        status = Files(tapi, N, "compat").upload_local_file_to_storage(str(iso), blocking_status=True)
        expect(status is not None, "Files.upload_local_file_to_storage returned None (upload or task failed)")
        expect_eq(status.get("exitstatus"), "OK", "upload task exitstatus")
        content = tapi.nodes(N).storage("compat").content.get(content="iso")
        entry = [e for e in content if e["volid"] == "compat:iso/compat.iso"]
        expect(entry, f"content?content=iso lacks compat:iso/compat.iso: {content}")
        expect_eq(entry[0].get("size"), 65536, "size")
        expect_eq(entry[0].get("format"), "iso", "format")
        return "compat:iso/compat.iso"

    volid = c.check("proxmoxer: Files.upload_local_file_to_storage (multipart + checksum) → task OK → content", upload_iso)

    def volume_raw_slash():
        need(volid, tapi)
        # proxmoxer splits 'compat:iso/compat.iso' on '/', so the slash reaches the server raw
        info = tapi.nodes(N).storage("compat").content(volid).get()
        expect_eq(info.get("format"), "iso", "format")
        expect_eq(info.get("size"), 65536, "size")
        expect(str(info.get("path", "")).endswith("/template/iso/compat.iso"), f"path {info.get('path')!r}")

    c.check("proxmoxer: GET nodes/{node}/storage/{storage}/content/compat:iso/compat.iso (raw '/')", volume_raw_slash)

    def volume_delete_raw_slash():
        need(volid, tapi)
        answer = tapi.nodes(N).storage("compat").content(volid).delete()
        if isinstance(answer, str) and answer.startswith("UPID:"):
            task_ok(tapi, answer, "DELETE content")
        left = [e["volid"] for e in tapi.nodes(N).storage("compat").content.get()]
        expect(volid not in left, f"{volid} still listed after DELETE")

    c.check("proxmoxer: DELETE nodes/{node}/storage/{storage}/content/compat:iso/compat.iso (raw '/')", volume_delete_raw_slash)

    # ---------------------------------------------------------------- a VM, never booted
    state = {}

    def nextid():
        need(api)
        vmid = int(api.cluster.nextid.get())   # PVE answers a string ("100"); scripts int() it
        expect(vmid >= 100, f"nextid {vmid}")
        state["vmid"] = vmid
        return vmid

    vmid = c.check("proxmoxer: GET cluster/nextid", nextid)

    def create_vm():
        need(vmid)
        api.pools.post(poolid="compat-vmpool")
        upid = api.nodes(N).qemu.post(vmid=vmid, name="compat-px", memory=128, cores=1, kvm=0, ostype="l26",
                                      scsihw="virtio-scsi-pci", scsi0="compat:1", net0="virtio,bridge=vmbr0",
                                      pool="compat-vmpool")
        task_ok(api, upid, "POST qemu")
        return vmid

    vm = c.check("proxmoxer: POST nodes/{node}/qemu (kvm=0, 1 GiB disk on a dir storage) → UPID → OK", create_vm)

    def pool_member():
        need(vm)
        # qemu-server create_vm: PVE::AccessControl::add_vm_to_pool($vmid, $pool) if $pool;
        members = api.pools("compat-vmpool").get().get("members", [])
        expect([m.get("id") for m in members] == [f"qemu/{vm}"] and members[0].get("vmid") == vm
               and members[0].get("node") == N and members[0].get("type") == "qemu",
               f"GET pools/compat-vmpool members {members}; PVE lists qemu/{vm}")
        rows = [r for r in api.cluster.resources.get(type="vm") if r.get("vmid") == vm]
        expect(rows and rows[0].get("pool") == "compat-vmpool", f"cluster/resources row has no pool: {rows}")
        # Pool.pm delete_pool: die "pool '$pool' is not empty (contains VM $vmid)\n"
        raises(lambda: api.pools("compat-vmpool").delete(), 500, "not empty")
        return True

    in_pool = c.check("proxmoxer: POST qemu pool=… makes the VM a pool member; DELETE of the pool then refused",
                      pool_member)

    def nextid_taken():
        need(vm)
        raises(lambda: api.cluster.nextid.get(vmid=vm), 400, "already exists")

    c.check("proxmoxer: GET cluster/nextid?vmid=<taken> → 400", nextid_taken)

    def rrddata():
        need(vm)
        # the node's and the VM's history as pvestatd's files give it: a row per step, `time` and the known values
        deadline = time.time() + 25
        rows, guest = [], []
        while time.time() < deadline:
            rows = [r for r in api.nodes(N).rrddata.get(timeframe="hour", cf="AVERAGE") if "memtotal" in r]
            guest = [r for r in api.nodes(N).qemu(vm).rrddata.get(timeframe="hour") if "maxmem" in r]
            if rows and guest:
                break
            time.sleep(1)
        expect(rows and all("time" in r for r in rows) and rows[-1]["memtotal"] > 0, f"node rrddata {rows[-2:]}")
        expect(guest and guest[-1]["maxmem"] == 128 * 1048576 and "cpu" not in guest[-1], f"VM rrddata {guest[-2:]}")
        raises(lambda: api.nodes(N).rrddata.get(timeframe="fortnight"), 400, "timeframe")
        # the older PNG methods: the answer names the drawn file, as PVE's
        drawn = api.nodes(N).qemu(vm).rrd.get(ds="maxmem,mem", timeframe="hour", cf="MAX")
        expect(set(drawn) == {"filename"} and drawn["filename"].endswith(".png"), f"rrd {drawn}")
        with open(drawn["filename"], "rb") as f:
            expect(f.read(8) == b"\x89PNG\r\n\x1a\n", "a PNG")
        raises(lambda: api.nodes(N).rrd.get(ds="nosuch", timeframe="hour"), 400, "ds")
        return True

    c.check("proxmoxer: GET nodes/{node}/rrddata, qemu/{vmid}/rrddata (history of a never-booted VM) and rrd", rrddata)

    def standalone_cluster():
        # a node no cluster was formed on, as PVE answers it: its own row with nodeid 0, no cluster row,
        # no join information; forming a cluster is root@pam's alone
        rows = api.cluster.status.get()
        expect(len(rows) == 1 and rows[0].get("type") == "node" and rows[0].get("nodeid") == 0 and rows[0].get("local") == 1,
               f"cluster/status {rows}")
        raises(lambda: api.cluster.config.join.get(), 500, "not in a cluster")
        expect(isinstance(api.cluster.config.apiversion.get(), int), "cluster/config/apiversion is an integer")
        raises(lambda: api.cluster.config.post(clustername="compat"), 403, "Permission check failed")
        nodes = api.nodes.get()
        expect(len(nodes) == 1 and nodes[0].get("node") == N and nodes[0].get("status") == "online", f"nodes {nodes}")

    c.check("proxmoxer: cluster/status, config/join, config/apiversion and nodes of a standalone node; create is root's", standalone_cluster)

    def config():
        need(vm)
        cfg = api.nodes(N).qemu(vm).config.get()
        expect_eq(cfg.get("name"), "compat-px", "name")
        expect_eq(cfg.get("memory"), 128, "memory")   # numbers are JSON numbers in config
        expect_eq(cfg.get("kvm"), 0, "kvm")
        # the storage's `format qcow2` applies to a disk made without format=
        expect_eq(cfg.get("scsi0"), f"compat:{vm}/vm-{vm}-disk-0.qcow2,size=1G", "scsi0")
        expect(re.match(r"^virtio=([0-9A-F]{2}:){5}[0-9A-F]{2},bridge=vmbr0$", cfg.get("net0", "")), f"net0 {cfg.get('net0')!r}")
        expect(re.match(r"^[0-9a-f]{40}$", cfg.get("digest", "")), f"digest {cfg.get('digest')!r}")
        return cfg["digest"]

    digest = c.check("proxmoxer: GET nodes/{node}/qemu/{vmid}/config", config)

    def set_config():
        need(vm, digest)
        answer = api.nodes(N).qemu(vm).config.put(description="set by proxmoxer", cores=2, digest=digest)
        expect(answer is None, f"PUT config answered {answer!r}; PVE answers null")
        cfg = api.nodes(N).qemu(vm).config.get()
        expect_eq((cfg.get("description"), cfg.get("cores")), ("set by proxmoxer", 2), "description, cores")
        expect(cfg["digest"] != digest, "digest did not change")
        # PVE::Tools::assert_if_modified dies (HTTP 500) when the digest is stale
        raises(lambda: api.nodes(N).qemu(vm).config.put(cores=1, digest=digest), 500, "detected modified configuration")
        upid = api.nodes(N).qemu(vm).config.post(memory=256)   # the async variant answers a UPID
        task_ok(api, upid, "POST config")
        api.nodes(N).qemu(vm).config.put(delete="description")
        cfg = api.nodes(N).qemu(vm).config.get()
        expect_eq(cfg.get("memory"), 256, "memory after POST config")
        expect("description" not in cfg, "description still there after delete=description")

    c.check("proxmoxer: PUT/POST nodes/{node}/qemu/{vmid}/config (digest, delete=)", set_config)

    def pending():
        need(vm)
        rows = {r["key"]: r for r in api.nodes(N).qemu(vm).pending.get()}
        expect("memory" in rows and str(rows["memory"].get("value")) == "256", f"pending memory row {rows.get('memory')}")
        expect(all("pending" not in r for r in rows.values()), "a stopped VM has no pending values")

    c.check("proxmoxer: GET nodes/{node}/qemu/{vmid}/pending", pending)

    def cloudinit():
        need(vm)
        # what Terraform providers and Ansible's proxmox_kvm set: a cloud-init drive and its options
        api.nodes(N).qemu(vm).config.put(ide0="compat:cloudinit", ciuser="ansible", ipconfig0="ip=10.20.30.40/24,gw=10.20.30.1",
                                         nameserver="10.20.30.53", searchdomain="compat.test", cipassword="s3cret")
        cfg = api.nodes(N).qemu(vm).config.get()
        expect_eq(cfg.get("ide0"), f"compat:{vm}/vm-{vm}-cloudinit.qcow2,media=cdrom", "ide0")
        expect_eq(cfg.get("cipassword"), "**********", "cipassword (masked)")
        rows = {r["key"]: r for r in api.nodes(N).qemu(vm).cloudinit.get()}
        expect_eq(rows.get("ciuser", {}).get("value"), "ansible", "cloudinit ciuser row")
        expect_eq(rows.get("cipassword", {}).get("value"), "**********", "cloudinit cipassword row")
        user = api.nodes(N).qemu(vm).cloudinit.dump.get(type="user")
        expect(user.startswith("#cloud-config\nhostname: compat-px\n") and "user: ansible" in user and "password: $5$" in user, user)
        network = api.nodes(N).qemu(vm).cloudinit.dump.get(type="network")
        expect("address: '10.20.30.40'" in network and "netmask: '255.255.255.0'" in network, network)
        expect(api.nodes(N).qemu(vm).cloudinit.dump.get(type="meta").startswith("instance-id: "), "meta-data")
        expect(api.nodes(N).qemu(vm).cloudinit.put() is None, "PUT cloudinit answers null")
        raises(lambda: api.nodes(N).qemu(vm).config.put(ipconfig1="ip=999.1.1.1/24"), 400, "ipconfig1")
        api.nodes(N).qemu(vm).config.put(delete="ide0,ciuser,ipconfig0,nameserver,searchdomain,cipassword")

    c.check("proxmoxer: cloud-init drive, GET/PUT cloudinit, cloudinit/dump, bad ipconfig → 400", cloudinit)

    def backup_restore():
        need(vm)
        upid = api.nodes(N).vzdump.post(vmid=str(vm), storage="local", compress="zstd", mode="stop")
        task_ok(api, upid, "POST vzdump")
        backups = [b for b in api.nodes(N).storage("local").content.get(content="backup", vmid=vm)]
        expect(len(backups) == 1 and backups[0]["volid"].endswith(".vma.zst") and backups[0].get("subtype") == "qemu", f"backups {backups}")
        volid = backups[0]["volid"]
        config = api.nodes(N).vzdump.extractconfig.get(volume=volid)
        expect("#qmdump#map:scsi0:drive-scsi0:compat:qcow2:" in config, config)
        task_ok(api, api.nodes(N).qemu.post(vmid=vm + 50, archive=volid, storage="compat"), "POST qemu archive=")
        cfg = api.nodes(N).qemu(vm + 50).config.get()
        expect(cfg.get("scsi0", "").startswith(f"compat:{vm + 50}/vm-{vm + 50}-disk-0."), f"restored scsi0 {cfg.get('scsi0')}")
        raises(lambda: api.nodes(N).qemu.post(vmid=vm + 50, archive=volid), 500, "already exists")
        task_ok(api, api.nodes(N).qemu(vm + 50).delete(), "DELETE restored VM")
        api.nodes(N).storage("local").content(volid).delete()

    c.check("proxmoxer: POST vzdump (stop mode, zstd), backup content, vzdump/extractconfig, restore with archive=", backup_restore)

    def backup_jobs_and_dedup():
        need(vm)
        # a backup job as Ansible's and Terraform's modules make them, and what the GUI reads about it
        api.cluster.backup.post(id="compat-job", schedule="sat 02:00", vmid=str(vm), storage="local", mode="stop", **{"prune-backups": "keep-last=2"})
        jobs = {j["id"]: j for j in api.cluster.backup.get()}
        expect(jobs.get("compat-job", {}).get("next-run", 0) > time.time(), f"job list {jobs}")
        included = api.cluster.backup("compat-job").included_volumes.get()
        expect([g["id"] for g in included["children"]] == [vm], f"included_volumes {included}")
        uncovered = {g["vmid"] for g in api.cluster("backup-info")("not-backed-up").get()}
        expect(vm not in uncovered, f"not-backed-up {uncovered}")
        runs = api.cluster.jobs("schedule-analyze").get(schedule="sat 02:00", iterations=2)
        expect(len(runs) == 2 and runs[1]["timestamp"] - runs[0]["timestamp"] == 7 * 86400, f"schedule-analyze {runs}")
        api.cluster.backup("compat-job").delete()
        # Corral's deduplicating store: a storage like any other to these clients
        base = api.storage("compat").get()["path"] + "-dedup"
        api.storage.post(storage="compatdd", type="dedup", path=base)
        try:
            task_ok(api, api.nodes(N).vzdump.post(vmid=str(vm), storage="compatdd", mode="stop"), "POST vzdump to dedup")
            backups = api.nodes(N).storage("compatdd").content.get(content="backup")
            expect(len(backups) == 1 and backups[0]["volid"].startswith(f"compatdd:backup/vm/{vm}/") and backups[0]["format"] == "dedup-vm",
                   f"dedup backups {backups}")
            task_ok(api, api.nodes(N).qemu.post(vmid=vm + 51, archive=backups[0]["volid"], storage="compat"), "restore from dedup")
            task_ok(api, api.nodes(N).qemu(vm + 51).delete(), "DELETE restored VM")
            task_ok(api, api.nodes(N).storage("compatdd").verify.post(), "verify")
            api.nodes(N).storage("compatdd").content(backups[0]["volid"]).delete()
            expect(api.nodes(N).storage("compatdd").content.get(content="backup") == [], "backup removed")
        finally:
            api.storage("compatdd").delete()

    c.check("proxmoxer: backup jobs (POST/GET/DELETE cluster/backup, included_volumes, not-backed-up, schedule-analyze); "
            "vzdump into a dedup store, restore, verify, delete", backup_jobs_and_dedup)

    def agent_unconfigured():
        need(vm)
        # the agent endpoints exist; a VM without `agent` gets PVE's error
        raises(lambda: api.nodes(N).qemu(vm).agent("network-get-interfaces").get(), 500, "No QEMU guest agent configured")
        raises(lambda: api.nodes(N).qemu(vm).agent.ping.post(), 500, "No QEMU guest agent configured")
        names = {r["name"] for r in api.nodes(N).qemu(vm).agent.get()}
        expect({"ping", "exec", "file-read", "network-get-interfaces"} <= names, f"agent index {sorted(names)}")

    c.check("proxmoxer: agent index; agent calls to a VM without the agent fail as on PVE", agent_unconfigured)

    def node_system():
        # the test node's resolver file is its own: set, then read back as telegraf and Ansible read it
        expect(api.nodes(N).dns.put(search="compat.test", dns1="10.20.30.53") is None, "PUT dns answers null")
        dns = api.nodes(N).dns.get()
        expect_eq((dns.get("search"), dns.get("dns1")), ("compat.test", "10.20.30.53"), "dns search, dns1")
        before = api.nodes(N).hosts.get()
        api.nodes(N).hosts.post(data="127.0.0.1 localhost\n10.20.30.40 compat-px.compat.test compat-px\n", digest=before["digest"])
        hosts = api.nodes(N).hosts.get()
        expect("10.20.30.40 compat-px" in hosts.get("data", "") and hosts.get("digest") != before["digest"], f"hosts {str(hosts)[:120]}")
        t = api.nodes(N).time.get()
        expect(isinstance(t.get("time"), int) and t.get("timezone"), f"time {t}")
        listed = {s.get("service") for s in api.nodes(N).services.get()}
        expect({"corrald", "corosync", "sshd"} <= listed, f"services {sorted(listed)}")
        expect(api.nodes(N).services("pveproxy").state.get().get("name") == "corrald", "services/pveproxy/state is corrald")
        expect(isinstance(api.nodes(N).disks.list.get(), list), "disks/list")
        expect(isinstance(api.nodes(N).apt.update.get(), list), "apt/update")
        expect("files" in api.nodes(N).apt.repositories.get(), "apt/repositories")
        expect("# hostname" in api.nodes(N).report.get(), "report")
        expect(isinstance(api.nodes(N).journal.get(lastentries=5), list), "journal")

    c.check("proxmoxer: node dns, hosts, time, services, disks/list, apt/update|repositories, report, journal", node_system)

    def node_network():
        # what bridge pickers and inventory scripts read: every row has PVE's keys, the filter narrows
        rows = api.nodes(N).network.get()
        expect(all({"iface", "type", "priority", "families", "method"} <= set(r) for r in rows), f"network rows {rows}")
        expect(all(r["type"] in ("bridge", "OVSBridge") for r in api.nodes(N).network.get(type="any_bridge")), "type=any_bridge")
        if rows:
            one = api.nodes(N).network(rows[0]["iface"]).get()
            expect_eq(one.get("iface"), rows[0]["iface"], "network/{iface}")
        raises(lambda: api.nodes(N).network("nosuch0").get(), 500, "does not exist")

    c.check("proxmoxer: GET nodes/{node}/network (type filter) and network/{iface}", node_network)

    def network_changes():
        # an inventory tool's bridge: pending until applied, then reverted; a missing port is a 400
        raises(lambda: api.nodes(N).network.post(iface="vmbr77", type="bridge", bridge_ports="nosuchport0"), 400, "bridge_ports")
        api.nodes(N).network.post(iface="vmbr77", type="bridge", cidr="10.77.0.1/24", autostart=1)
        row = api.nodes(N).network("vmbr77").get()
        expect_eq((row.get("type"), row.get("cidr"), row.get("autostart")), ("bridge", "10.77.0.1/24", 1), "pending bridge")
        api.nodes(N).network("vmbr77").put(type="bridge", cidr="10.77.0.2/24")
        expect_eq(api.nodes(N).network("vmbr77").get().get("address"), "10.77.0.2", "updated pending bridge")
        api.nodes(N).network.delete()
        expect(all(r["iface"] != "vmbr77" for r in api.nodes(N).network.get()), "revert drops the pending bridge")

    c.check("proxmoxer: POST/PUT nodes/{node}/network, DELETE (revert), a missing port refused", network_changes)

    def firewall():
        # what firewall playbooks do, with the datacenter firewall left off (nothing is loaded here)
        fw = api.cluster.firewall
        expect({"rules", "groups", "ipset", "aliases", "options", "macros", "refs"} <= {d["name"] for d in fw.get()}, "firewall index")
        expect(any(m["macro"] == "SSH" for m in fw.macros.get()), "macros")
        fw.aliases.post(name="compat-net", cidr="192.0.2.0/24", comment="compat")
        fw.ipset.post(name="compat-set")
        fw.ipset("compat-set").post(cidr="192.0.2.10")
        fw.groups.post(group="compat-grp")
        fw.groups("compat-grp").post(type="in", action="ACCEPT", macro="HTTP", enable=1)
        fw.rules.post(type="in", action="ACCEPT", source="+compat-set", proto="tcp", dport="22", enable=1, comment="compat-a")
        fw.rules.post(type="in", action="DROP", source="compat-net", proto="tcp", dport="23", enable=1, comment="compat-b")
        rules = fw.rules.get()
        expect_eq([r.get("comment") for r in rules[:2]], ["compat-b", "compat-a"], "new rules go first")
        fw.rules(1).put(moveto=0, digest=rules[0]["digest"])
        expect_eq([r.get("comment") for r in fw.rules.get()[:2]], ["compat-a", "compat-b"], "moveto")
        raises(lambda: fw.rules.post(type="in", action="ACCEPT", macro="NoSuchMacro"), 400, "macro")
        raises(lambda: fw.rules.post(type="in", action="ACCEPT", source="+nosuchset"), 400, "source")
        refs = {r["ref"] for r in fw.refs.get()}
        expect({"dc/compat-net", "+dc/compat-set"} <= refs, f"refs {refs}")
        expect_eq(fw.ipset("compat-set").get()[0]["cidr"], "192.0.2.10", "ipset entries")
        opts = api.nodes(N).firewall.options.get()
        api.nodes(N).firewall.options.put(log_level_in="info", digest=opts["digest"])
        expect_eq(api.nodes(N).firewall.options.get().get("log_level_in"), "info", "node firewall options")
        api.nodes(N).firewall.options.put(delete="log_level_in")
        expect(isinstance(api.nodes(N).firewall.log.get(limit=10), list), "node firewall log")
        for pos in (1, 0):
            fw.rules(pos).delete()
        fw.groups("compat-grp")(0).delete()
        fw.groups("compat-grp").delete()
        fw.ipset("compat-set").delete(force=1)
        fw.aliases("compat-net").delete()
        expect(not any((r.get("comment") or "").startswith("compat-") for r in fw.rules.get()), "rules removed")
        expect_eq(fw.options.get().get("enable", 0), 0, "datacenter firewall stays off")

    c.check("proxmoxer: cluster firewall rules (pos, moveto), groups, IP sets, aliases, refs, macros; node options and log", firewall)

    def sdn():
        # what SDN playbooks do; the zone runs on another node only, so applying changes nothing on this machine
        sdn = api.cluster.sdn
        expect({"zones", "vnets", "ipams"} <= {d["id"] for d in sdn.get()}, "sdn index")
        raises(lambda: sdn.vnets.post(vnet="compatv", zone="nosuch"), 400, "zone")
        sdn.zones.post(zone="compat", type="simple", ipam="pve", dhcp="dnsmasq", nodes="elsewhere")
        sdn.vnets.post(vnet="compatv", zone="compat", alias="compat")
        raises(lambda: sdn.vnets("compatv").subnets.post(subnet="198.51.100.0/24", type="subnet", gateway="192.0.2.1"), 400, "gateway")
        sdn.vnets("compatv").subnets.post(
            subnet="198.51.100.0/24", type="subnet", gateway="198.51.100.1", **{"dhcp-range": ["start-address=198.51.100.10,end-address=198.51.100.20"]})
        subnet = sdn.vnets("compatv").subnets.get()[0]
        expect_eq((subnet["subnet"], subnet["cidr"], subnet["dhcp-range"][0]["start-address"]),
                  ("compat-198.51.100.0-24", "198.51.100.0/24", "198.51.100.10"), "subnet row")
        expect_eq([z.get("state") for z in sdn.zones.get(pending=1) if z["zone"] == "compat"], ["new"], "pending zone")
        expect("+auto compatv" not in (sdn("dry-run").get(node=N).get("interfaces-diff") or ""), "another node's zone is not this node's")
        sdn.vnets("compatv").ips.post(zone="compat", ip="198.51.100.15", mac="BC:24:11:00:00:15")
        held = {(e["ip"], e.get("mac")) for e in sdn.ipams("pve").status.get()}
        expect({("198.51.100.1", None), ("198.51.100.15", "bc:24:11:00:00:15")} <= held, f"ipam {held}")
        sdn.vnets("compatv").ips.delete(zone="compat", ip="198.51.100.15", mac="BC:24:11:00:00:15")
        task_ok(api, sdn.put(), "PUT cluster/sdn")
        expect(all(not z.get("state") for z in sdn.zones.get(pending=1)), "applied")
        expect(all(z["zone"] != "compat" for z in api.nodes(N).sdn.zones.get()), "not run here")
        token = sdn.lock.post()
        raises(lambda: sdn.zones.post(zone="compat2", type="simple"), 400, "locked")
        sdn.zones("compat").put(mtu=1400, **{"lock-token": token})
        expect_eq(sdn.zones("compat").get(pending=1).get("pending", {}).get("mtu"), 1400, "pending change")
        sdn.rollback.post(**{"lock-token": token})
        expect("mtu" not in sdn.zones("compat").get(), "rollback")
        sdn.vnets("compatv").subnets("compat-198.51.100.0-24").delete()
        sdn.vnets("compatv").delete()
        sdn.zones("compat").delete()
        task_ok(api, sdn.put(), "PUT cluster/sdn (the removal)")
        expect(not [e for e in sdn.ipams("pve").status.get() if e["zone"] == "compat"], "ipam emptied")

    c.check("proxmoxer: SDN zones, vnets, subnets (DHCP ranges), IPAM mappings, pending, dry run, apply, lock, rollback", sdn)

    def guest_firewall():
        need(vm)
        gfw = api.nodes(N).qemu(vm).firewall
        expect({"rules", "ipset", "aliases", "options", "log", "refs"} <= {d["name"] for d in gfw.get()}, "guest firewall index")
        gfw.options.put(enable=1, policy_in="DROP", ipfilter=1)
        expect_eq((gfw.options.get().get("enable"), gfw.options.get().get("policy_in")), (1, "DROP"), "guest options")
        gfw.aliases.post(name="peer", cidr="10.20.30.1")
        gfw.ipset.post(name="ipfilter-net0")
        gfw.ipset("ipfilter-net0").post(cidr="10.20.30.40")
        gfw.rules.post(type="in", action="ACCEPT", source="guest/peer", macro="SSH", enable=1)
        gfw.rules.post(type="out", action="DROP", dest="+guest/ipfilter-net0", proto="udp", enable=0)
        rules = gfw.rules.get()
        expect_eq([(r["type"], r.get("macro"), r["enable"]) for r in rules], [("out", None, 0), ("in", "SSH", 1)], "guest rules")
        raises(lambda: gfw.rules.post(type="forward", action="ACCEPT"), 400, "forward")
        expect({"guest/peer", "+guest/ipfilter-net0"} <= {r["ref"] for r in gfw.refs.get()}, "guest refs")
        expect(isinstance(gfw.log.get(), list), "guest log")
        gfw.rules(0).delete()
        gfw.rules(0).delete()
        gfw.ipset("ipfilter-net0").delete(force=1)
        gfw.aliases("peer").delete()
        gfw.options.put(delete="enable,policy_in,ipfilter")
        expect_eq(gfw.rules.get(), [], "guest rules removed")

    c.check("proxmoxer: guest firewall (options, rules, aliases, ipfilter IP set, refs, log)", guest_firewall)

    def status_current():
        need(vm)
        st = api.nodes(N).qemu(vm).status.current.get()
        expect_eq((st.get("status"), st.get("qmpstatus"), st.get("vmid"), st.get("name")),
                  ("stopped", "stopped", vm, "compat-px"), "status, qmpstatus, vmid, name")
        listed = [v for v in api.nodes(N).qemu.get() if v.get("vmid") == vm]
        expect(listed and listed[0].get("status") == "stopped", f"GET nodes/{{node}}/qemu row {listed}")
        rows = [r for r in api.cluster.resources.get(type="vm") if r.get("id") == f"qemu/{vm}"]
        expect(rows and rows[0].get("node") == N and rows[0].get("template") == 0 and rows[0].get("name") == "compat-px",
               f"cluster/resources?type=vm row {rows}")

    c.check("proxmoxer: status/current, nodes/{node}/qemu and cluster/resources of the VM", status_current)

    def snapshots():
        need(vm)
        feature = api.nodes(N).qemu(vm).feature.get(feature="snapshot")
        expect(feature.get("hasFeature") in (1, True), f"feature?feature=snapshot {feature} (qcow2 can)")
        task_ok(api, api.nodes(N).qemu(vm).snapshot.post(snapname="px1", description="first"), "POST snapshot")
        snaps = api.nodes(N).qemu(vm).snapshot.get()
        names = [s["name"] for s in snaps]
        # proxmox_snap drops the last entry as "current"
        expect(names[-1:] == ["current"] and "px1" in names, f"snapshot list {names} (PVE: snapshots, then 'current' last)")
        px1 = [s for s in snaps if s["name"] == "px1"][0]
        expect(isinstance(px1.get("snaptime"), int) and px1.get("description") == "first", f"px1 entry {px1}")
        expect_eq(snaps[-1].get("parent"), "px1", "current's parent")
        api.nodes(N).qemu(vm).config.put(cores=4)
        task_ok(api, api.nodes(N).qemu(vm).snapshot("px1").rollback.post(), "rollback")
        expect_eq(api.nodes(N).qemu(vm).config.get().get("cores"), 2, "cores after rollback")
        snapcfg = api.nodes(N).qemu(vm).snapshot("px1").config.get()
        expect_eq(snapcfg.get("cores"), 2, "snapshot/px1/config cores")
        task_ok(api, api.nodes(N).qemu(vm).snapshot("px1").delete(), "DELETE snapshot")
        expect_eq([s["name"] for s in api.nodes(N).qemu(vm).snapshot.get()], ["current"], "snapshot list after delete")

    c.check("proxmoxer: snapshot create/list/config/rollback/delete (stopped VM, qcow2)", snapshots)

    def resize():
        need(vm)
        answer = api.nodes(N).qemu(vm).resize.put(disk="scsi0", size="+1G")
        # PVE 8+ answers the UPID of a 'resize' task (returns: string); scripts wait for it
        expect(isinstance(answer, str) and answer.startswith("UPID:"), f"PUT resize answered {answer!r}; PVE answers a UPID")
        task_ok(api, answer, "resize")
        expect_eq(api.nodes(N).qemu(vm).config.get().get("scsi0"), f"compat:{vm}/vm-{vm}-disk-0.qcow2,size=2G", "scsi0 after resize")

    c.check("proxmoxer: PUT nodes/{node}/qemu/{vmid}/resize → UPID", resize)

    def tasks():
        need(vm)
        rows = api.nodes(N).tasks.get(vmid=vm, limit=50)
        types = {r["type"] for r in rows}
        expect({"qmcreate", "qmsnapshot", "qmrollback", "qmdelsnapshot"} <= types, f"task types for the VM: {sorted(types)}")
        for r in rows:
            expect(UPID_RE.match(r.get("upid", "")) and r.get("status") == "OK" and isinstance(r.get("starttime"), int)
                   and isinstance(r.get("endtime"), int), f"task row {r}")
        create = [r for r in rows if r["type"] == "qmcreate"][0]
        log = api.nodes(N).tasks(create["upid"]).log.get()
        expect(log and log[-1].get("t") == "TASK OK" and log[-1].get("n") == len(log), f"task log ends {log[-1:]}")
        expect(api.nodes(N).tasks.get(source="all", typefilter="qmcreate"), "tasks?source=all&typefilter=qmcreate is empty")

    c.check("proxmoxer: GET nodes/{node}/tasks (vmid, source, typefilter) and task log", tasks)

    def delete_vm():
        need(vm)
        task_ok(api, api.nodes(N).qemu(vm).delete(purge=1), "DELETE qemu")
        expect(all(v.get("vmid") != vm for v in api.nodes(N).qemu.get()), "VM still listed")
        raises(lambda: api.nodes(N).qemu(vm).config.get(), 500, "does not exist")

    c.check("proxmoxer: DELETE nodes/{node}/qemu/{vmid} → UPID → gone", delete_vm)

    def pool_after_purge():
        need(vm, in_pool)
        expect_eq(api.pools("compat-vmpool").get().get("members"), [], "members after DELETE qemu purge=1")
        api.pools("compat-vmpool").delete()

    c.check("proxmoxer: DELETE qemu purge=1 leaves the pool empty; DELETE pools/{poolid}", pool_after_purge)

    # ---------------------------------------------------------------- a container, never started
    def template():
        need(tapi)
        listed = tapi.nodes(N).aplinfo.get()
        names = [t["template"] for t in listed if t.get("os") == "busybox"]
        expect(names, f"aplinfo offers no busybox template: {[t.get('template') for t in listed]}")
        task_ok(tapi, tapi.nodes(N).aplinfo.post(storage="compat", template=names[0]), "POST aplinfo")
        volid = f"compat:vztmpl/{names[0]}"
        expect(any(e["volid"] == volid for e in tapi.nodes(N).storage("compat").content.get(content="vztmpl")),
               f"{volid} not in the storage's vztmpl content")
        return volid

    tmpl = c.check("proxmoxer: POST nodes/{node}/aplinfo (busybox template into the storage)", template)

    def create_ct():
        need(tmpl)
        ctid = int(tapi.cluster.nextid.get())
        tapi.pools.post(poolid="compat-ctpool")
        task_ok(tapi, tapi.nodes(N).lxc.post(vmid=ctid, ostemplate=tmpl, hostname="compat-ct", rootfs="compat:0",
                                             memory=64, net0="name=eth0,bridge=vmbr0,ip=dhcp", pool="compat-ctpool"),
                "POST lxc")
        return ctid

    ct = c.check("proxmoxer: POST nodes/{node}/lxc (busybox template, token auth) → UPID → OK", create_ct)

    def ct_config():
        need(ct)
        cfg = tapi.nodes(N).lxc(ct).config.get()
        expect_eq((cfg.get("hostname"), cfg.get("memory"), cfg.get("unprivileged")), ("compat-ct", 64, 1),
                  "hostname, memory, unprivileged")
        net0 = dict(p.split("=", 1) for p in cfg.get("net0", "").split(",") if "=" in p)
        expect(net0.get("name") == "eth0" and net0.get("bridge") == "vmbr0" and net0.get("ip") == "dhcp"
               and re.match(r"^([0-9A-F]{2}:){5}[0-9A-F]{2}$", net0.get("hwaddr", "")), f"net0 {cfg.get('net0')!r}")
        tapi.nodes(N).lxc(ct).config.put(memory=128, description="ct from proxmoxer")
        cfg = tapi.nodes(N).lxc(ct).config.get()
        expect_eq((cfg.get("memory"), cfg.get("description", "").strip()), (128, "ct from proxmoxer"), "memory, description")
        st = tapi.nodes(N).lxc(ct).status.current.get()
        expect_eq((st.get("status"), st.get("vmid"), st.get("name"), st.get("type")), ("stopped", ct, "compat-ct", "lxc"),
                  "status/current")
        rows = [r for r in tapi.cluster.resources.get(type="vm") if r.get("id") == f"lxc/{ct}"]
        expect(rows and rows[0].get("type") == "lxc" and rows[0].get("status") == "stopped", f"cluster/resources row {rows}")
        rows = {r["key"]: r for r in tapi.nodes(N).lxc(ct).pending.get()}
        expect(str(rows.get("memory", {}).get("value")) == "128", f"pending memory row {rows.get('memory')}")

    c.check("proxmoxer: LXC config get/set, pending, status/current, cluster/resources", ct_config)

    def ct_pool_member():
        need(ct)
        # pve-container create_vm: PVE::AccessControl::add_vm_to_pool($vmid, $pool) if $pool;
        members = tapi.pools("compat-ctpool").get().get("members", [])
        expect([m.get("id") for m in members] == [f"lxc/{ct}"], f"GET pools/compat-ctpool members {members}; PVE lists lxc/{ct}")

    c.check("proxmoxer: POST lxc pool=… makes the container a pool member", ct_pool_member)

    def ct_rootfs_volid():
        need(ct)
        rootfs = tapi.nodes(N).lxc(ct).config.get().get("rootfs", "")
        # PVE's dir plugin names a subvolume <vmid>/subvol-<vmid>-disk-N.subvol (alloc_image → find_free_diskname
        # with the format suffix; parse_name_dir only accepts .raw/.qcow2/.vmdk/.subvol)
        expect(rootfs.split(",")[0] == f"compat:{ct}/subvol-{ct}-disk-0.subvol",
               f"rootfs {rootfs!r}; PVE gives compat:{ct}/subvol-{ct}-disk-0.subvol")

    c.check("proxmoxer: LXC rootfs on a dir storage is <vmid>/subvol-<vmid>-disk-0.subvol", ct_rootfs_volid)

    def ct_bulk_and_migrate():
        need(ct)
        # one node, not clustered: nowhere to migrate to, and the precondition check says so
        check = tapi.nodes(N).lxc(ct).migrate.get()
        expect(check.get("allowed_nodes") == [] and "running" in check, f"migrate precondition {check}")
        raises(lambda: tapi.nodes(N).lxc(ct).migrate.post(target="nosuchnode"), 400, "nosuchnode")
        raises(lambda: tapi.nodes(N).lxc(ct).migrate.post(target=N), 400, "local node")
        # bulk start and stop of just this container (force: it is not onboot); its NIC's bridge is not on this host
        tapi.nodes(N).lxc(ct).config.put(delete="net0")
        task_ok(tapi, tapi.nodes(N).startall.post(vms=str(ct), force=1), "startall")
        expect_eq(tapi.nodes(N).lxc(ct).status.current.get().get("status"), "running", "started by startall")
        task_ok(tapi, tapi.nodes(N).stopall.post(vms=str(ct), timeout=10), "stopall")
        expect_eq(tapi.nodes(N).lxc(ct).status.current.get().get("status"), "stopped", "stopped by stopall")

    c.check("proxmoxer: lxc migrate precondition and refusals; startall/stopall of one container", ct_bulk_and_migrate)

    def ct_ha():
        need(ct)
        ha = tapi.cluster.ha
        expect({"resources", "rules", "groups", "status"} <= {d["id"] for d in ha.get()}, "ha index")
        raises(lambda: ha.resources.post(sid="ct:99999"), 400, "sid")
        ha.resources.post(sid=f"ct:{ct}", state="started", max_restart=2, comment="from proxmoxer")
        raises(lambda: ha.resources.post(sid=f"ct:{ct}"), 400, "already defined")
        row = ha.resources(f"ct:{ct}").get()
        expect_eq((row.get("sid"), row.get("type"), row.get("state"), row.get("max_restart")), (f"ct:{ct}", "ct", "started", 2), "resource")

        def service():
            return next((r for r in ha.status.current.get() if r.get("sid") == f"ct:{ct}"), {})

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and tapi.nodes(N).lxc(ct).status.current.get().get("status") != "running":
            time.sleep(0.5)
        expect_eq(tapi.nodes(N).lxc(ct).status.current.get().get("status"), "running", "started by the HA manager")
        expect_eq((service().get("node"), service().get("state")), (N, "started"), "status/current service row")
        expect_eq(tapi.nodes(N).lxc(ct).status.current.get().get("ha", {}).get("managed"), 1, "ha.managed")
        quorum = [r for r in ha.status.current.get() if r.get("type") == "quorum"]
        expect(quorum and quorum[0].get("status") == "OK", f"quorum row {quorum}")
        expect(ha.status.manager_status.get().get("manager_status", {}).get("master_node") == N, "manager_status master")
        raises(lambda: ha.resources(f"ct:{ct}").migrate.post(node="nosuchnode"), 400, "node")
        raises(lambda: ha.rules.post(rule="compat-r", type="node-affinity", resources="ct:99999", nodes=N), 400, "resources")
        ha.rules.post(rule="compat-r", type="node-affinity", resources=f"ct:{ct}", nodes=f"{N}:2", strict=1)
        expect_eq([(r["rule"], r.get("strict")) for r in ha.rules.get(resource=f"ct:{ct}")], [("compat-r", 1)], "rules filter")
        ha.groups.post(group="compat-g", nodes=N)
        expect("compat-g" in [g["group"] for g in ha.groups.get()], "group listed")
        ha.groups("compat-g").delete()
        # a stop through the guest API is a request to HA (hastop), which the manager carries out
        task_ok(tapi, tapi.nodes(N).lxc(ct).status.stop.post(), "stop of an HA container")
        expect_eq(ha.resources(f"ct:{ct}").get().get("state"), "stopped", "requested state")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and tapi.nodes(N).lxc(ct).status.current.get().get("status") != "stopped":
            time.sleep(0.5)
        expect_eq(tapi.nodes(N).lxc(ct).status.current.get().get("status"), "stopped", "stopped by the HA manager")
        ha.resources(f"ct:{ct}").delete()
        expect(not ha.rules.get(), "purge removed the rule naming it")

    c.check("proxmoxer: HA resources, rules, groups, status; the manager starts and stops a container", ct_ha)

    def delete_ct():
        need(ct)
        task_ok(tapi, tapi.nodes(N).lxc(ct).delete(purge=1), "DELETE lxc")
        expect(all(v.get("vmid") != ct for v in tapi.nodes(N).lxc.get()), "CT still listed")

    c.check("proxmoxer: DELETE nodes/{node}/lxc/{vmid} → UPID → gone", delete_ct)


def read_checks(c, node, label, api, raises):
    N = node.name
    p = f"proxmoxer[{label}]:"

    def version():
        need(api)
        v = api.version.get()
        expect(re.match(r"^\d+\.\d+(\.\d+)?$", str(v.get("version"))), f"version {v.get('version')!r}")
        expect(str(v.get("version")).startswith(str(v.get("release"))), f"release {v.get('release')!r} is not version's major.minor")
        expect(re.match(r"^[0-9a-fA-F]{8,64}$", str(v.get("repoid"))), f"repoid {v.get('repoid')!r}")

    c.check(f"{p} GET version", version)

    def nodes():
        need(api)
        rows = api.nodes.get()
        mine = [r for r in rows if r.get("node") == N]
        expect(mine, f"node {N} not listed: {rows}")
        r = mine[0]
        expect_eq((r.get("status"), r.get("type"), r.get("id")), ("online", "node", f"node/{N}"), "status, type, id")
        expect(r.get("maxcpu", 0) > 0 and r.get("maxmem", 0) > 0 and r.get("uptime", 0) > 0, f"maxcpu/maxmem/uptime {r}")
        expect(re.match(r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$", r.get("ssl_fingerprint", "")), f"ssl_fingerprint {r.get('ssl_fingerprint')!r}")

    c.check(f"{p} GET nodes", nodes)

    def node_status():
        need(api)
        st = api.nodes(N).status.get()
        expect(st["memory"]["total"] > 0 and st["cpuinfo"]["cpus"] > 0 and st["uptime"] > 0, "memory/cpuinfo/uptime")
        expect(str(st.get("kversion", "")).startswith("Linux "), f"kversion {st.get('kversion')!r}")
        expect(len(st.get("loadavg", [])) == 3, f"loadavg {st.get('loadavg')!r}")
        # pve-manager: $res->{pveversion} = PVE::pvecfg::package() . "/" . PVE::pvecfg::version_text()
        pv = st.get("pveversion", "")
        expect(re.match(r"^pve-manager/\d+\.\d+(\.\d+)?/[0-9a-f]{8,16}$", pv),
               f"pveversion {pv!r}; PVE gives pve-manager/<version>/<repoid> (tools split it on '/')")

    c.check(f"{p} GET nodes/{{node}}/status (pveversion = pve-manager/<ver>/<build>)", node_status)

    def cluster_status():
        need(api)
        rows = api.cluster.status.get()
        mine = [r for r in rows if r.get("type") == "node"]
        expect(len(mine) == 1, f"cluster/status node entries {rows}")
        r = mine[0]
        expect_eq({k: r.get(k) for k in ("id", "name", "local", "online", "nodeid")},
                  {"id": f"node/{N}", "name": N, "local": 1, "online": 1, "nodeid": 0}, "the standalone node's entry")
        expect("level" in r, f"no 'level' (pve_exporter reads it): {r}")

    c.check(f"{p} GET cluster/status (standalone: one node entry)", cluster_status)

    def resources():
        need(api)
        rows = api.cluster.resources.get()
        ids = {r.get("id"): r for r in rows}
        expect(f"node/{N}" in ids and f"storage/{N}/local" in ids and f"storage/{N}/compat" in ids, f"ids {sorted(ids)}")
        s = ids[f"storage/{N}/compat"]
        expect_eq((s.get("type"), s.get("plugintype"), s.get("status"), s.get("node")), ("storage", "dir", "available", N),
                  "storage row")
        expect(s.get("maxdisk", 0) > 0 and "images" in s.get("content", "").split(","), f"storage row {s}")
        expect(all(r["type"] == "storage" for r in api.cluster.resources.get(type="storage")), "type=storage filter")
        expect(all(r["type"] in ("qemu", "lxc") for r in api.cluster.resources.get(type="vm")), "type=vm filter")

    c.check(f"{p} GET cluster/resources (+type=storage, type=vm)", resources)

    def nextid():
        need(api)
        v = api.cluster.nextid.get()
        expect(int(v) >= 100, f"nextid {v!r}")

    c.check(f"{p} GET cluster/nextid", nextid)

    def storage_config():
        need(api)
        rows = {r["storage"]: r for r in api.storage.get()}
        expect("local" in rows and "compat" in rows, f"storages {sorted(rows)}")
        expect_eq((rows["compat"].get("type"), rows["compat"].get("path")), ("dir", str(node.store)), "compat type, path")
        one = api.storage("compat").get()
        expect_eq((one.get("type"), one.get("format")), ("dir", "qcow2"), "GET storage/compat type, format")
        expect(all(r["type"] == "dir" for r in api.storage.get(type="dir")), "type=dir filter")

    c.check(f"{p} GET storage, storage/{{storage}}", storage_config)

    def node_storage():
        need(api)
        rows = {r["storage"]: r for r in api.nodes(N).storage.get()}
        expect("compat" in rows, f"nodes/{N}/storage {sorted(rows)}")
        s = rows["compat"]
        expect_eq((s.get("active"), s.get("enabled"), s.get("type"), s.get("shared")), (1, 1, "dir", 0), "active, enabled, type, shared")
        expect(s.get("total", 0) > 0 and 0 < s.get("avail", 0) <= s["total"], f"total/avail {s}")
        iso = {r["storage"] for r in api.nodes(N).storage.get(content="iso")}
        expect("compat" in iso, f"content=iso filter {iso}")
        st = api.nodes(N).storage("compat").status.get()
        expect(st.get("active") == 1 and st.get("total", 0) >= st.get("used", -1) >= 0, f"status {st}")
        content = api.nodes(N).storage("compat").content.get()
        expect(isinstance(content, list), f"content {content!r}")

    c.check(f"{p} GET nodes/{{node}}/storage (+content=iso), status, content", node_storage)

    def tasks():
        need(api)
        rows = api.nodes(N).tasks.get(limit=10)
        expect(isinstance(rows, list), f"tasks {rows!r}")
        for r in rows:
            expect(UPID_RE.match(r.get("upid", "")) and r.get("node") == N, f"task row {r}")

    c.check(f"{p} GET nodes/{{node}}/tasks", tasks)

    def access_lists():
        need(api)
        users = {u["userid"]: u for u in api.access.users.get()}
        expect(node.USER in users and "root@pam" in users, f"users {sorted(users)}")
        full = {u["userid"]: u for u in api.access.users.get(full=1)}
        toks = full[node.USER].get("tokens")
        expect(isinstance(toks, list) and any(t.get("tokenid") == "ci" for t in toks), f"full=1 tokens {toks!r}")
        expect(isinstance(api.access.groups.get(), list), "groups")
        roles = {r["roleid"]: r for r in api.access.roles.get()}
        expect({"Administrator", "PVEAdmin", "PVEVMUser", "NoAccess", "PVEAuditor"} <= set(roles), f"roles {sorted(roles)}")
        expect("VM.Allocate" in roles["Administrator"]["privs"].split(",") and roles["Administrator"].get("special") == 1,
               f"Administrator {roles['Administrator']}")
        acl = api.access.acl.get()
        expect(any(a["path"] == "/" and a["ugid"] == node.USER and a["roleid"] == "Administrator" and a["type"] == "user"
                   and a.get("propagate") == 1 for a in acl), f"acl {acl}")

    c.check(f"{p} GET access/users (+full=1), groups, roles, acl", access_lists)

    def domains():
        need(api)
        realms = {d["realm"]: d for d in api.access.domains.get()}
        expect_eq({k: v.get("type") for k, v in realms.items() if k in ("pam", "pve")}, {"pam": "pam", "pve": "pve"}, "realms")
        d = api.access.domains("pve").get()   # proxmox_domain_info(domain=...) calls this
        expect_eq(d.get("type"), "pve", "GET access/domains/pve type")
        d = api.access.domains("pam").get()
        expect_eq(d.get("type"), "pam", "GET access/domains/pam type")

    c.check(f"{p} GET access/domains, access/domains/{{realm}}", domains)

    def pools():
        need(api)
        expect(isinstance(api.pools.get(), list), "pools")

    c.check(f"{p} GET pools", pools)

    def cluster_options():
        from proxmoxer.core import ResourceException
        need(api)
        cfg = node.mount / "datacenter.cfg"
        before = cfg.read_text() if cfg.exists() else ""
        cfg.write_text(before + "# kept by every change\n")
        api.cluster.options.put(keyboard="de", ha="shutdown_policy=migrate",
                                webauthn="rp=Corral,origin=https://127.0.0.1:8006,id=127.0.0.1")
        got = api.cluster.options.get()
        expect_eq((got.get("keyboard"), got.get("ha"), got.get("webauthn", {}).get("rp")),
                  ("de", {"shutdown_policy": "migrate"}, "Corral"), "GET cluster/options parses property strings")
        expect("# kept by every change" in cfg.read_text(), cfg.read_text())
        for params, key in ((dict(keyboard="xx"), "keyboard"), (dict(webauthn="bogus=1"), "webauthn"),
                            (dict(ha="shutdown_policy=sometimes"), "ha")):
            try:
                api.cluster.options.put(**params)
            except ResourceException as e:
                expect(e.status_code == 400 and key in (e.errors or {}), f"{params}: {e.status_code} {e.errors}")
            else:
                raise AssertionError(f"{params} accepted")
        api.cluster.options.put(delete="keyboard,ha,webauthn")
        expect_eq(cfg.read_text(), before + "# kept by every change\n", "datacenter.cfg after deleting what was set")
        cfg.write_text(before)

    c.check(f"{p} GET/PUT cluster/options (datacenter.cfg)", cluster_options)

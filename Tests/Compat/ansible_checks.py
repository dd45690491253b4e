"""Ansible's community.proxmox collection (the `ansible` package from PyPI bundles it) against the
node: the modules in two localhost playbooks (ansible/modules.yml, ansible/cleanup.yml) and, in
between, the inventory plugin listing what the modules made.

Each playbook runs once with the ansible.posix.json stdout callback; every task is one check here,
found by its name, asserting what the module returned (changed, the facts it read, its message).
The modules are proxmoxer underneath (module_utils/proxmox.py): they all call GET /version first,
find guests through GET /cluster/resources?type=vm, wait for tasks through
nodes/{node}/tasks/{upid}/status, and decide "create or leave" from the error text of GET
access/users/{userid} ('does not exist' / 'not found' / 'no such user').
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from harness import expect, expect_eq, need

HERE = Path(__file__).resolve().parent


def collection_dir():
    import ansible_collections.community.proxmox as cp

    path = Path(list(cp.__path__)[0])
    version = json.loads((path / "MANIFEST.json").read_text())["collection_info"]["version"]
    return path.parents[2], version   # the directory holding ansible_collections/


def ansible_home(node):
    home = node.tmp / "ansible"
    home.mkdir(exist_ok=True)
    return home


def ansible_env(node):
    home = ansible_home(node)
    (home / "ansible.cfg").write_text("[defaults]\n")
    colls, _ = collection_dir()
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": str(home / "ansible.cfg"),    # no ansible.cfg of the caller's
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(home / "tmp"),
        "ANSIBLE_COLLECTIONS_PATH": str(colls),           # the collection pip installed, not ~/.ansible's
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,      # modules need this Python's proxmoxer
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_CACHE_PLUGIN": "memory",
    })
    return env


def run_group(cmd, env, timeout):
    """subprocess.run in a process group of its own, ended whole (Ansible's forked workers included)
    on a timeout or when this script is interrupted."""
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def run_playbook(node, playbook, extra_vars, verbose):
    vars_file = ansible_home(node) / "vars.json"
    vars_file.write_text(json.dumps(extra_vars))
    cmd = [sys.executable, "-m", "ansible", "playbook", "-i", "localhost,", "-e", f"@{vars_file}", str(playbook)]
    proc = run_group(cmd, ansible_env(node), timeout=300)
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"ansible-playbook exited {proc.returncode} without JSON: "
                             f"{proc.stdout[-1500:]} {proc.stderr[-1500:]}")
    results = {}
    for play in doc.get("plays", []):
        for task in play.get("tasks", []):
            results[task["task"]["name"]] = task["hosts"].get("localhost", {})
    if verbose and proc.stderr.strip():
        print(proc.stderr[-3000:])
    return results


def run(c, node, verbose=False):
    N = node.name
    colls, version = collection_dir()
    print(f"compat: community.proxmox {version} from {colls}", flush=True)

    def vmid():
        need(getattr(node, "token_secret", None))
        from proxmoxer import ProxmoxAPI

        api = ProxmoxAPI(node.host, user=node.USER, token_name="ci", token_value=node.token_secret, verify_ssl=False)
        return int(api.cluster.nextid.get())

    vm = c.check("ansible: setup (token, a free VMID)", vmid)
    if vm is None:
        return
    extra = {"pve_port": node.port, "pve_user": node.USER, "pve_token_id": "ci", "pve_token_secret": node.token_secret,
             "pve_node": N, "vmid": vm, "storage": "compat"}

    results = c.check("ansible: ansible-playbook ansible/modules.yml runs", run_playbook, node,
                      HERE / "ansible" / "modules.yml", extra, verbose)
    results = results or {}

    passed = set()

    def task(name, assertion, after=(), allow_failed=False):
        """One task's result as a check; `after`: tasks whose effect it relies on (SKIP if one did not pass)."""
        def body():
            need(results.get(name) or None)
            for earlier in after:
                if earlier not in passed:
                    from harness import Prerequisite
                    raise Prerequisite(f"needs task {earlier!r}, which did not pass")
            r = results[name]
            if not allow_failed:
                expect(not r.get("failed"), f"module failed: {r.get('msg')}")
            assertion(r)
            passed.add(name)
            return True
        c.check(f"ansible: {name} ({MODULES[name]})", body)

    def changed(want):
        def a(r):
            expect_eq(bool(r.get("changed")), want, f"changed ({r.get('msg')})")
        return a

    def node_info(r):
        nodes = {n["node"]: n for n in r["proxmox_nodes"]}
        expect(N in nodes and nodes[N]["status"] == "online", f"proxmox_nodes {r['proxmox_nodes']}")

    def storage_info_all(r):
        st = {s["storage"]: s for s in r["proxmox_storages"]}
        expect("compat" in st and st["compat"]["type"] == "dir" and "images" in st["compat"]["content"],
               f"proxmox_storages {r['proxmox_storages']}")

    def storage_info_one(r):
        st = r["proxmox_storages"]
        expect(len(st) == 1 and st[0].get("storage") == "compat" and st[0].get("path") == str(node.store)
               and isinstance(st[0].get("content"), list), f"proxmox_storages {st}")

    def domain_info_all(r):
        realms = {d["realm"] for d in r["proxmox_domains"]}
        expect({"pam", "pve"} <= realms, f"proxmox_domains {r['proxmox_domains']}")

    def domain_info_pve(r):
        d = r["proxmox_domains"]
        expect(len(d) == 1 and d[0].get("realm") == "pve" and d[0].get("type") == "pve", f"proxmox_domains {d}")

    def group_info(r):
        g = r["proxmox_groups"]
        expect(len(g) == 1 and g[0].get("groupid") == "compat-ops" and g[0].get("comment") == "made by ansible",
               f"proxmox_groups {g}")

    def user_info_one(r):
        u = r["proxmox_users"]
        expect(len(u) == 1, f"proxmox_users {u}")
        u = u[0]
        expect_eq((u.get("userid"), u.get("enabled"), u.get("groups"), u.get("comment"), u.get("email"), u.get("firstname")),
                  ("ansible-user@pve", True, ["compat-ops"], "changed by ansible", "ansible@example.com", "Ann"),
                  "userid, enabled, groups, comment, email, firstname")

    def user_info_realm(r):
        ids = {u["userid"] for u in r["proxmox_users"]}
        expect({"ansible-user@pve", node.USER} <= ids and all(i.endswith("@pve") for i in ids), f"users {sorted(ids)}")

    def kvm_create(r):
        expect(r.get("changed") and r.get("vmid") == vm, f"changed/vmid: {r.get('msg')}")
        expect_eq(r.get("devices"), {"scsi0": f"compat:{vm}/vm-{vm}-disk-0.qcow2"}, "devices")
        mac = r.get("mac", {}).get("net0", "")
        expect(len(mac.split(":")) == 6, f"mac {r.get('mac')}")

    def kvm_current(r):
        expect_eq(r.get("status"), "stopped", "status")

    def vm_info(r):
        vms = r["proxmox_vms"]
        expect(len(vms) == 1, f"proxmox_vms {vms}")
        v = vms[0]
        expect_eq((v.get("vmid"), v.get("name"), v.get("node"), v.get("status"), v.get("type"), v.get("template")),
                  (vm, "compat-ansible", N, "stopped", "qemu", False), "vmid, name, node, status, type, template")
        cfg = v.get("config", {})
        expect_eq((str(cfg.get("memory")), cfg.get("description"), cfg.get("kvm")), ("256", "updated by ansible", 0),
                  "config memory, description, kvm")
        expect_eq(set(str(cfg.get("tags", "")).replace(";", ",").split(",")), {"compat", "ansible"}, "config tags")

    def vm_info_ci(r):
        cfg = (r["proxmox_vms"] or [{}])[0].get("config", {})
        expect_eq((cfg.get("ciuser"), cfg.get("ipconfig0"), cfg.get("nameserver"), cfg.get("searchdomain")),
                  ("ansible-ci", "ip=10.30.40.50/24,gw=10.30.40.1", "10.30.40.53", "compat.test"), "cloud-init options")
        expect_eq(cfg.get("ide2"), f"compat:{vm}/vm-{vm}-cloudinit.qcow2,media=cdrom", "cloud-init drive")

    def contents(r):
        vols = [e.get("volid") for e in r["proxmox_storage_content"]]
        # the cloud-init drive's volume is an image of the VM as well (as on PVE)
        expect_eq(sorted(vols), [f"compat:{vm}/vm-{vm}-cloudinit.qcow2", f"compat:{vm}/vm-{vm}-disk-0.qcow2"], "volids")

    def tasks_info(r):
        types = {t.get("type") for t in r["proxmox_tasks"]}
        expect({"qmcreate", "qmsnapshot"} <= types, f"task types {sorted(types)}")
        expect(not any(t.get("failed") for t in r["proxmox_tasks"]), "a task is marked failed (status != OK)")

    task("node_info", node_info)
    task("storage_info_all", storage_info_all)
    task("storage_info_one", storage_info_one)
    task("domain_info_all", domain_info_all)
    task("domain_info_pve", domain_info_pve)
    task("group_create", changed(True))
    task("group_again", changed(False), after=["group_create"])
    task("group_info", group_info, after=["group_create"])
    task("user_create", changed(True), after=["group_create"])
    task("user_again", changed(False), after=["user_create"])
    task("user_update", changed(True), after=["user_create"])
    task("user_info_one", user_info_one, after=["user_update"])
    task("user_info_realm", user_info_realm, after=["user_create"])
    task("acl_create", changed(True), after=["group_create"])
    task("acl_again", changed(False), after=["acl_create"])
    task("pool_create", changed(True))
    task("pool_again", changed(False), after=["pool_create"])
    task("kvm_create", kvm_create, after=["pool_create"])
    task("kvm_again", changed(False), after=["kvm_create"])
    task("kvm_update", changed(True), after=["kvm_create"])
    task("kvm_cloudinit", changed(True), after=["kvm_update"])
    task("vm_info_ci", vm_info_ci, after=["kvm_cloudinit"])
    task("kvm_current", kvm_current, after=["kvm_create"])
    task("kvm_stopped", changed(False), after=["kvm_create"])
    task("vm_info", vm_info, after=["kvm_update"])
    task("storage_contents_info", contents, after=["kvm_create"])
    task("snap_create", changed(True), after=["kvm_create"])
    task("snap_again", changed(False), after=["snap_create"])
    task("tasks_info", tasks_info, after=["snap_create"])

    def zone_info(r):
        zones = {z.get("zone"): z for z in r.get("zones", [])}
        expect("ansz" in zones and zones["ansz"].get("dhcp") == "dnsmasq", f"zones {list(zones)}")

    def vnet_info(r):
        vnets = r.get("vnets", [])
        expect(len(vnets) == 1 and vnets[0].get("zone") == "ansz", f"vnets {vnets}")
        cidrs = [s.get("cidr") for s in vnets[0].get("subnets", [])]
        expect_eq(cidrs, ["203.0.113.0/24"], "the vnet's subnets")

    def ipam_info(r):
        found = json.dumps(r)
        expect("203.0.113.1" in found, f"the subnet's gateway in the IPAM: {found[:300]}")

    def fw_info(r):
        rules = r.get("firewall_rules") or r.get("rules") or []
        sources = [x.get("source") for x in rules]
        expect("192.0.2.1" in sources, f"the rules {rules}")
        expect("ansgrp" in (r.get("groups") or []), f"groups {r.get('groups')}")
        names = {a.get("name") for a in r.get("aliases") or []}
        expect({"ans-a", "ans-b"} <= names, f"aliases {names}")

    task("fw_rules_create", changed(True))
    task("fw_group_create", changed(True))
    task("fw_aliases_create", changed(True))
    task("fw_info", fw_info, after=["fw_rules_create", "fw_group_create", "fw_aliases_create"])
    task("zone_create", changed(True))
    def zone_updated(r):
        # the module updates an existing zone (update defaults to true): PUT with its digest and the lock token, then apply
        expect(r.get("changed") is True and "Updated zone" in str(r.get("msg")), f"proxmox_zone answered {r.get('msg')!r}")

    task("zone_again", zone_updated, after=["zone_create"])
    task("vnet_create", changed(True), after=["zone_create"])
    task("subnet_create", changed(True), after=["vnet_create"])
    task("zone_info", zone_info, after=["zone_create"])
    task("vnet_info", vnet_info, after=["subnet_create"])
    task("ipam_info", ipam_info, after=["subnet_create"])

    # ------------------------------------------------------------ the inventory plugin
    for auth in ("token", "password"):
        c.check(f"ansible: inventory plugin community.proxmox.proxmox ({auth} auth, want_facts"
                f"{', TLS verified' if auth == 'password' else ''}) lists the VM with facts and groups",
                inventory, node, vm, auth)

    results = c.check("ansible: ansible-playbook ansible/cleanup.yml runs", run_playbook, node,
                      HERE / "ansible" / "cleanup.yml", extra, verbose) or {}

    def refused_nonempty(r):
        # proxmox_pool reads GET pools/{poolid} members and refuses while the VM is one
        expect(r.get("failed") and "with members" in str(r.get("msg")),
               f"proxmox_pool answered {r.get('msg')!r} for the pool VM {vm} was created in (pool=compat-pool); "
               "PVE lists the VM as a member, so the module refuses ('… with members')")

    task("snap_remove", changed(True), after=["snap_create"])
    task("pool_remove_nonempty", refused_nonempty, after=["kvm_create", "pool_create"], allow_failed=True)
    task("kvm_remove", changed(True), after=["kvm_create"])
    task("kvm_remove_again", changed(False), after=["kvm_remove"])
    task("pool_remove", changed(True), after=["pool_remove_nonempty", "kvm_remove"])
    task("acl_remove", changed(True), after=["acl_create"])
    task("user_remove", changed(True), after=["user_create"])
    task("user_remove_again", changed(False), after=["user_remove"])
    task("group_remove", changed(True), after=["group_create"])
    task("fw_rule_remove", changed(True), after=["fw_rules_create"])
    task("fw_rule_remove_first", changed(True), after=["fw_rules_create"])
    task("fw_group_remove", changed(True), after=["fw_group_create"])
    task("fw_aliases_remove", changed(True), after=["fw_aliases_create"])
    task("subnet_remove", changed(True), after=["subnet_create"])
    task("vnet_remove", changed(True), after=["vnet_create"])
    task("zone_remove", changed(True), after=["zone_create"])


MODULES = {
    "node_info": "proxmox_node_info",
    "fw_rules_create": "proxmox_firewall level=cluster, two rules",
    "fw_group_create": "proxmox_firewall, a security group",
    "fw_aliases_create": "proxmox_firewall, aliases",
    "fw_info": "proxmox_firewall_info level=cluster",
    "fw_rule_remove": "proxmox_firewall, rule at pos 1 absent",
    "fw_rule_remove_first": "proxmox_firewall, rule at pos 0 absent",
    "fw_group_remove": "proxmox_firewall, group absent",
    "fw_aliases_remove": "proxmox_firewall, aliases absent",
    "zone_create": "proxmox_zone, new simple zone",
    "zone_again": "proxmox_zone again: an update through the SDN lock",
    "vnet_create": "proxmox_vnet, new",
    "subnet_create": "proxmox_subnet with a DHCP range",
    "zone_info": "proxmox_zone_info type=simple",
    "vnet_info": "proxmox_vnet_info vnet=ansv",
    "ipam_info": "proxmox_ipam_info ipam=pve",
    "subnet_remove": "proxmox_subnet, absent",
    "vnet_remove": "proxmox_vnet, absent",
    "zone_remove": "proxmox_zone, absent",
    "storage_info_all": "proxmox_storage_info",
    "storage_info_one": "proxmox_storage_info storage=compat",
    "domain_info_all": "proxmox_domain_info",
    "domain_info_pve": "proxmox_domain_info domain=pve",
    "group_create": "proxmox_group, new",
    "group_again": "proxmox_group, unchanged",
    "group_info": "proxmox_group_info",
    "user_create": "proxmox_user, new with password and groups",
    "user_again": "proxmox_user, unchanged",
    "user_update": "proxmox_user, comment changed",
    "user_info_one": "proxmox_user_info user=… domain=pve",
    "user_info_realm": "proxmox_user_info domain=pve",
    "acl_create": "proxmox_access_acl, new",
    "acl_again": "proxmox_access_acl, unchanged",
    "pool_create": "proxmox_pool, new",
    "pool_again": "proxmox_pool, unchanged",
    "kvm_create": "proxmox_kvm state=present, kvm=false, a disk, a NIC, pool, tags",
    "kvm_again": "proxmox_kvm state=present, exists",
    "kvm_update": "proxmox_kvm update=true",
    "kvm_cloudinit": "proxmox_kvm update=true: a cloud-init drive, ciuser, ipconfig, nameservers, searchdomains",
    "vm_info_ci": "proxmox_vm_info: the cloud-init options and drive as set",
    "kvm_current": "proxmox_kvm state=current",
    "kvm_stopped": "proxmox_kvm state=stopped, already stopped",
    "vm_info": "proxmox_vm_info config=current",
    "storage_contents_info": "proxmox_storage_contents_info content=images vmid=…",
    "snap_create": "proxmox_snap state=present",
    "snap_again": "proxmox_snap state=present, exists",
    "tasks_info": "proxmox_tasks_info",
    "snap_remove": "proxmox_snap state=absent",
    "pool_remove_nonempty": "proxmox_pool state=absent refused while the VM is a member",
    "kvm_remove": "proxmox_kvm state=absent",
    "kvm_remove_again": "proxmox_kvm state=absent, already gone",
    "pool_remove": "proxmox_pool state=absent",
    "acl_remove": "proxmox_access_acl state=absent",
    "user_remove": "proxmox_user state=absent",
    "user_remove_again": "proxmox_user state=absent, already gone",
    "group_remove": "proxmox_group state=absent",
}


def inventory(node, vm, auth):
    need(getattr(node, "token_secret", None))
    N = node.name
    src = ansible_home(node) / f"{auth}.proxmox.yml"   # the plugin only reads files named *proxmox.yml
    cred = (f"token_id: ci\ntoken_secret: {node.token_secret}\n" if auth == "token"
            else f"password: {node.PASSWORD}\n")
    # the plugin sets requests' session.verify = validate_certs, which REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
    # override: with the token it runs unverified (those unset), with the password it verifies the
    # node's certificate against the cluster CA (given through REQUESTS_CA_BUNDLE)
    env = ansible_env(node)
    env.pop("CURL_CA_BUNDLE", None)
    if auth == "token":
        env.pop("REQUESTS_CA_BUNDLE", None)
    else:
        env["REQUESTS_CA_BUNDLE"] = node.ca
    src.write_text(f"plugin: community.proxmox.proxmox\nurl: {node.url}\nuser: {node.USER}\n{cred}"
                   f"validate_certs: {'false' if auth == 'token' else 'true'}\nwant_facts: true\n")
    proc = run_group([sys.executable, "-m", "ansible", "inventory", "-i", str(src), "--list"], env, timeout=120)
    expect(proc.returncode == 0, f"ansible-inventory exited {proc.returncode}: {proc.stderr[-1500:]}")
    expect("Failed to parse" not in proc.stderr and "Skipping" not in proc.stderr,
           f"the plugin did not parse the source: {proc.stderr[-1500:]}")
    inv = unwrap(json.loads(proc.stdout))
    host = inv.get("_meta", {}).get("hostvars", {}).get("compat-ansible")
    expect(host is not None, f"no host compat-ansible; hosts {sorted(inv.get('_meta', {}).get('hostvars', {}))}")
    expect_eq((host.get("proxmox_vmid"), host.get("proxmox_node"), host.get("proxmox_vmtype"),
               host.get("proxmox_status"), host.get("proxmox_qmpstatus")),
              (vm, N, "qemu", "stopped", "stopped"), "vmid, node, vmtype, status, qmpstatus")
    expect_eq(host.get("proxmox_snapshots"), ["compat_snap"], "proxmox_snapshots")
    expect_eq(str(host.get("proxmox_memory")), "256", "proxmox_memory (from config)")
    expect_eq(set(host.get("proxmox_tags_parsed", [])), {"compat", "ansible"}, "proxmox_tags_parsed")
    expect(isinstance(host.get("proxmox_net0"), dict) and host["proxmox_net0"].get("bridge") == "vmbr0",
           f"proxmox_net0 {host.get('proxmox_net0')!r}")

    def members(group):
        return set(inv.get(group, {}).get("hosts", []))

    expect(N in members("proxmox_nodes"), f"node {N} not in proxmox_nodes: {members('proxmox_nodes')}")
    for group in ("proxmox_all_qemu", "proxmox_all_stopped", f"proxmox_{N}_qemu"):
        expect("compat-ansible" in members(group), f"compat-ansible not in group {group}: {members(group)}")
    # GET pools, then GET pools/{poolid} members: proxmox_kvm created the VM with pool=compat-pool
    expect("compat-ansible" in members("proxmox_pool_compat_pool"),
           f"compat-ansible not in group proxmox_pool_compat_pool (members {members('proxmox_pool_compat_pool')}): "
           "GET pools/compat-pool does not list the VM created with pool=compat-pool")


def unwrap(doc):
    """ansible-inventory --list marks strings from the API as {'__ansible_unsafe': '…'}: take the value."""
    if isinstance(doc, dict):
        if set(doc) == {"__ansible_unsafe"}:
            return unwrap(doc["__ansible_unsafe"])
        return {k: unwrap(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [unwrap(v) for v in doc]
    return doc

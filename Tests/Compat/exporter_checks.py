"""prometheus-pve-exporter (PyPI) against the node.

The real exporter process (python -m pve_exporter, gunicorn on a free 127.0.0.1 port) with a config
file using the API token (verify_ssl: false), scraped at /pve?target=127.0.0.1:PORT with its default
collectors, as a Prometheus job would. One failing PVE call makes the exporter answer 500 for the
whole scrape, so each collector is also run on its own, in this process, to name the call that breaks.

What the collectors call (pve_exporter/collector/*.py):
  status      cluster/status (entries of type node/cluster only), cluster/resources?type=vm|storage
  version     version (labels release, repoid, version)
  node        cluster/status (labels id, level, name, nodeid of each node entry)
  cluster     cluster/status (the 'cluster' entry; none on a standalone node)
  resources   cluster/resources (maxdisk, disk, maxmem, mem, cpu, maxcpu, uptime, … per id)
  backup_info cluster/backup-info/not-backed-up, cluster/status[0]['name']
  qdevice     cluster/status (only with a 'cluster' entry)
  subscription nodes/{local node}/subscription (status, level, nextduedate)
  config      nodes/{local node}/qemu, lxc, …/{vmid}/config (onboot)
  replication nodes/{local node}/replication
"""

import re
import subprocess
import sys
import time
import urllib.request

from harness import expect, expect_eq, free_port, need


def run(c, node, verbose=False):
    from prometheus_client.parser import text_string_to_metric_families
    from proxmoxer import ProxmoxAPI
    from proxmoxer.tools import Tasks

    N = node.name
    secret = getattr(node, "token_secret", None)
    state = {}

    def guests():
        need(secret)
        api = ProxmoxAPI(node.host, user=node.USER, token_name="ci", token_value=secret, verify_ssl=False, timeout=30)
        vmid = int(api.cluster.nextid.get())
        upid = api.nodes(N).qemu.post(vmid=vmid, name="compat-exported", memory=192, cores=2, kvm=0, onboot=1,
                                      scsi0="compat:1", tags="metrics")
        st = Tasks.blocking_status(api, upid, timeout=60, polling_interval=0.2)
        expect(st and st.get("exitstatus") == "OK", f"create task {st}")
        state.update(api=api, vmid=vmid)
        return vmid

    vmid = c.check("exporter: setup (a VM with onboot=1 to be exported)", guests)

    def start_exporter(flags=(), tag="exporter"):
        need(secret)
        cfg = node.tmp / "pve.yml"
        cfg.write_text(f"default:\n  user: {node.USER}\n  token_name: ci\n  token_value: {secret}\n"
                       "  verify_ssl: false\n  timeout: 30\n")
        port = free_port()
        log = open(node.tmp / f"{tag}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "pve_exporter", "--config.file", str(cfg),
                                 "--web.listen-address", f"127.0.0.1:{port}", *flags],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        node.children.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        return port
            except OSError:
                pass
            expect(proc.poll() is None, f"exporter exited {proc.returncode}: {exporter_log(node, tag)}")
            time.sleep(0.2)
        raise AssertionError(f"exporter did not answer on 127.0.0.1:{port}: {exporter_log(node, tag)}")

    port = c.check("exporter: pve_exporter starts (token auth, verify_ssl false)", start_exporter)

    def scrape(query, port=port, tag="exporter"):
        need(port)
        url = f"http://127.0.0.1:{port}/pve?target={node.host}{query}"
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                body = r.read().decode()
        except urllib.error.HTTPError as e:
            raise AssertionError(f"GET {url} → HTTP {e.code}; exporter log: {exporter_error(node, tag)}")
        return {f.name: f for f in text_string_to_metric_families(body)}

    def samples(families, name):
        fam = families.get(name)
        expect(fam is not None, f"metric family {name} missing")
        return {tuple(sorted(s.labels.items())): s.value for s in fam.samples if s.name == name}

    def value(families, name, **labels):
        rows = samples(families, name)
        for key, v in rows.items():
            if all(dict(key).get(k) == want for k, want in labels.items()):
                return v, dict(key)
        raise AssertionError(f"{name}{labels} missing; have {[dict(k) for k in rows][:6]}")

    def assert_cluster(f, backup_info=True):
        need(vmid)
        v, _ = value(f, "pve_up", id=f"node/{N}")
        expect_eq(v, 1.0, "pve_up{id=node}")
        v, _ = value(f, "pve_up", id=f"qemu/{vmid}")
        expect_eq(v, 0.0, "pve_up{id=qemu} (stopped)")
        v, _ = value(f, "pve_up", id=f"storage/{N}/compat")
        expect_eq(v, 1.0, "pve_up{id=storage} (available)")
        _, labels = value(f, "pve_node_info", id=f"node/{N}")
        expect_eq((labels.get("name"), labels.get("nodeid")), (N, "0"), "pve_node_info name, nodeid")
        _, labels = value(f, "pve_version_info")
        expect(re.match(r"^\d+\.\d+", labels.get("version", "")) and labels.get("repoid"), f"pve_version_info {labels}")
        _, labels = value(f, "pve_guest_info", id=f"qemu/{vmid}")
        expect_eq((labels.get("name"), labels.get("node"), labels.get("type"), labels.get("template"), labels.get("tags")),
                  ("compat-exported", N, "qemu", "0", "metrics"), "pve_guest_info labels")
        _, labels = value(f, "pve_storage_info", id=f"storage/{N}/compat")
        expect_eq((labels.get("plugintype"), labels.get("storage")), ("dir", "compat"), "pve_storage_info labels")
        expect("images" in labels.get("content", "").split(","), f"pve_storage_info content {labels.get('content')!r}")
        size, _ = value(f, "pve_disk_size_bytes", id=f"storage/{N}/compat")
        used, _ = value(f, "pve_disk_usage_bytes", id=f"storage/{N}/compat")
        expect(size > 0 and 0 <= used <= size, f"storage size {size}, used {used}")
        expect_eq(value(f, "pve_memory_size_bytes", id=f"qemu/{vmid}")[0], 192 * 2**20, "pve_memory_size_bytes{qemu}")
        expect_eq(value(f, "pve_cpu_usage_limit", id=f"qemu/{vmid}")[0], 2.0, "pve_cpu_usage_limit{qemu}")
        expect_eq(value(f, "pve_disk_size_bytes", id=f"qemu/{vmid}")[0], float(2**30), "pve_disk_size_bytes{qemu}")
        expect(value(f, "pve_memory_size_bytes", id=f"node/{N}")[0] > 0, "pve_memory_size_bytes{node}")
        expect(value(f, "pve_uptime_seconds", id=f"node/{N}")[0] > 0, "pve_uptime_seconds{node}")
        expect(0 <= value(f, "pve_cpu_usage_ratio", id=f"node/{N}")[0] <= 1, "pve_cpu_usage_ratio{node}")
        expect_eq(value(f, "pve_lock_state", id=f"qemu/{vmid}", state="backup")[0], 0.0, "pve_lock_state")
        if backup_info:
            expect_eq(value(f, "pve_not_backed_up_info", id=f"qemu/{vmid}")[0], 1.0, "pve_not_backed_up_info{qemu}")
            expect(value(f, "pve_not_backed_up_total")[0] >= 1, "pve_not_backed_up_total")

    def assert_node(f, subscription=True):
        need(vmid)
        v, labels = value(f, "pve_onboot_status", id=f"qemu/{vmid}")
        expect_eq((v, labels.get("node")), (1.0, N), "pve_onboot_status value, node")
        if not subscription:
            return
        _, labels = value(f, "pve_subscription_info", id=f"node/{N}")
        v, _ = value(f, "pve_subscription_status", id=f"node/{N}", status="notfound")
        # a node without a subscription key: PVE answers status 'notfound'
        expect_eq(v, 1.0, "pve_subscription_status{status=notfound}")
        expect("pve_replication_info" in f, "pve_replication_info family missing")

    def full():
        f = scrape("")
        assert_cluster(f)
        assert_node(f)

    c.check("exporter: GET /pve?target=… (default collectors) → 200 with the cluster and node families", full)
    c.check("exporter: GET /pve?target=…&cluster=1&node=0 → pve_up, pve_node_info, pve_version_info, pve_guest_info, "
            "storage sizes", lambda: assert_cluster(scrape("&cluster=1&node=0")))
    c.check("exporter: GET /pve?target=…&cluster=0&node=1 → pve_onboot_status, pve_subscription_*",
            lambda: assert_node(scrape("&cluster=0&node=1")))

    # the collectors whose endpoints Corral may lack switched off, so that the values of the others
    # are still checked through the real process while those are missing
    lacking = ("--no-collector.backup-info", "--no-collector.subscription", "--no-collector.replication")

    def reduced():
        port2 = start_exporter(lacking, tag="exporter-reduced")
        f = scrape("", port=port2, tag="exporter-reduced")
        assert_cluster(f, backup_info=False)
        assert_node(f, subscription=False)

    c.check("exporter: with --no-collector.backup-info/subscription/replication: GET /pve?target=… → 200, "
            "values of pve_up, pve_node_info, pve_version_info, pve_guest_info, pve_storage_info, sizes, onboot", reduced)

    # each collector alone, as collect_pve builds it
    from pve_exporter.collector import cluster as cc, node as nc

    collectors = [("status", cc.StatusCollector, "pve_up"), ("version", cc.VersionCollector, "pve_version_info"),
                  ("node", cc.ClusterNodeCollector, "pve_node_info"), ("cluster", cc.ClusterInfoCollector, None),
                  ("resources", cc.ClusterResourcesCollector, "pve_guest_info"),
                  ("backup_info", cc.BackupInfoCollector, "pve_not_backed_up_total"),
                  ("qdevice", cc.QDeviceCollector, None),
                  ("subscription", nc.SubscriptionCollector, "pve_subscription_info"),
                  ("config", nc.NodeConfigCollector, "pve_onboot_status"),
                  ("replication", nc.NodeReplicationCollector, "pve_replication_info")]
    for name, cls, family in collectors:
        def one(cls=cls, family=family):
            need(secret)
            pve = ProxmoxAPI(node.host, user=node.USER, token_name="ci", token_value=secret, verify_ssl=False, timeout=30)
            names = {m.name for m in cls(pve).collect()}
            if family:
                expect(family in names, f"{family} not produced; got {sorted(names)}")
            return names

        c.check(f"exporter: collector '{name}' alone ({cls.__name__})", one)

    def remove():
        need(vmid)
        api = state["api"]
        st = Tasks.blocking_status(api, api.nodes(N).qemu(vmid).delete(purge=1), timeout=60, polling_interval=0.2)
        expect(st and st.get("exitstatus") == "OK", f"delete task {st}")

    c.check("exporter: teardown (the VM deleted)", remove)


def exporter_log(node, tag="exporter"):
    try:
        return (node.tmp / f"{tag}.log").read_text(errors="replace")[-1500:]
    except OSError:
        return ""


def exporter_error(node, tag="exporter"):
    """The exporter logs the exception behind a 500; its last line names the failed PVE call."""
    lines = [ln for ln in exporter_log(node, tag).splitlines() if "ResourceException" in ln or "Error" in ln]
    return lines[-1] if lines else exporter_log(node, tag)[-400:]

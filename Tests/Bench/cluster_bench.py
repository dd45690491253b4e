#!/usr/bin/env python3
"""Cluster management on a real 3-node Corral cluster (part of `make bench`).

Three standalone nodes (a network namespace each from Tests/Cluster/cluster.sh, prefix `cbench`, subnet
10.213.13; corrald on the node's own address :8006, starting its own corosync) form a cluster: node 1
creates it through the API, node 2 joins through its own API, node 3 with `corral pvecm add`. Then:
  1. join to listed: from issuing the join until node 1's /cluster/status shows the node online and the
     cluster quorate (target < 10 s);
  2. proxied call overhead: GET /nodes/n3/status sent to node 1 (forwarded to n3) against the same call
     to n3 directly, 500 requests each on one keep-alive HTTPS connection after 50 warm-up requests
     (target: p50 at most 2 ms more);
  3. /cluster/resources on node 1 with 3 x 300 guests (configs written on each node's own mount of the
     cluster filesystem): 200 requests after 20 warm-up (target p99 < 50 ms);
  4. HA failover: a busybox container on a shared dir storage under HA runs on node 3; node 3's corrald
     and corosync are killed; measured from the kill until node 3's user-space watchdog has killed the
     container, and until it runs on another node (target < 60 s; PVE's is about 120-180 s);
  5. offline migration of a VM whose 256 MiB disk is on a storage of n1 alone, copied into a storage of n2
     (export, HTTPS upload, import), against `cp` of the same image on this machine;
  6. live migration of the running tiny VM (256 MiB, software emulation, counting on its serial console)
     from n1 to n2 through Corral (libvirt peer to peer, its channels in the cluster's TLS), against bare
     `virsh migrate --live --p2p` of the same domain back (plain TCP between the namespaces): total time,
     and the downtime as the longest pause of the guest's count. Each node has a libvirtd of its own
     (Tests/Guest/libvirt-node.sh).
It measures, it does not assert targets: the exit status is non-zero only if the cluster could not be
formed or a figure could not be taken. Needs root, /dev/fuse and corosync; traffic stays inside the
namespaces (and a veth from here into them). Creating and joining a cluster is root@pam only, so the
script acts as root@pam the way root on a node can: a ticket signed with the node's authkey and a CSRF
token from its pve-www.key, read through the mount (as the integration test's NodeProcess.loginAsRoot).
    python3 Tests/Bench/cluster_bench.py --bin .build/release [--guests 300] [--keep]
"""
import argparse, base64, hashlib, hmac, http.client, json, math, os, shutil, signal, ssl, subprocess, sys, tempfile, threading, time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(REPO, "Tests", "Cluster", "cluster.sh")
PREFIX, SUBNET = "cbench", "10.213.13"
LIVE_VMID = 994
ENV = dict(os.environ, CORRAL_CLUSTER_PREFIX=PREFIX, CORRAL_CLUSTER_SUBNET=SUBNET)
CTX = ssl._create_unverified_context()


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Fatal(Exception):
    """A failure that waiting longer cannot mend (a task that ended with an error, a CLI that failed)."""


class HTTPError(Exception):
    def __init__(self, status, text):
        super().__init__(f"HTTP {status}: {text[:300]}")
        self.status = status


def wait(condition, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            if condition():
                return
        except Fatal:
            raise
        except Exception as error:  # the node restarting, not answering yet, ...
            last = error
        if time.monotonic() >= deadline:
            raise Fatal(f"timed out after {timeout} s waiting for {what}" + (f" (last error: {last})" if last else ""))
        time.sleep(interval)


def pct(values, p):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)]


class Node:
    def __init__(self, i, base, binary):
        self.i, self.name, self.address = i, f"n{i}", f"{SUBNET}.{i}"
        self.base, self.binary = base, binary
        self.data, self.own = f"{base}/d{i}", f"{base}/n{i}"
        self.mount = f"{self.data}/pve"
        self.logfile = f"{base}/d{i}.log"
        self.settings = f"{base}/n{i}.conf"
        self.cookie = self.csrf = None
        self.proc = None
        os.makedirs(self.own, exist_ok=True)
        self.libvirt = f"qemu:///system?socket={self.data}/libvirt/sock/libvirt-sock"
        with open(self.settings, "w") as f:
            f.write(f"corosync-conf: {self.own}/corosync.conf\ncorosync-authkey: {self.own}/authkey\ncorosync-start: direct\n"
                    f"corosync-run-dir: {self.own}/run\ncorosync-state-dir: {self.own}/state\njoin-timeout: 60\n"
                    f"libvirt-uri: {self.libvirt}\ndomain-prefix: corral-cb-n{i}-\n")

    def start(self):
        with open(self.logfile, "w") as err:
            self.proc = subprocess.Popen(
                ["nsenter", f"--net=/run/netns/{PREFIX}n{self.i}", f"{self.binary}/corrald", "--data-dir", self.data, "--listen",
                 f"{self.address}:8006", "--nodename", self.name, "--www", f"{REPO}/www", "--config", self.settings],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, start_new_session=False)

    def wait_listening(self):
        def listening():
            if self.proc.poll() is not None:
                raise Fatal(f"corrald {self.name} exited with status {self.proc.returncode}")
            with open(self.logfile, errors="replace") as f:
                return "(ports " in f.read()
        wait(listening, 90, f"corrald {self.name} listening")

    def login_as_root(self):
        """A root@pam ticket and CSRF token made from the node's keys (read through its mount)."""
        stamp = "%08X" % int(time.time())
        plain = f"PVE:root@pam:{stamp}"
        signed = subprocess.run(["openssl", "dgst", "-sha1", "-sign", f"{self.mount}/priv/authkey.key"], input=plain.encode(),
                                capture_output=True, check=True).stdout
        with open(f"{self.mount}/pve-www.key", "rb") as f:
            www = f.read()
        unpadded = lambda b: base64.b64encode(b).decode().rstrip("=")
        secret = unpadded(hmac.new(www, b"", hashlib.sha256).digest()).encode()
        self.cookie = plain + "::" + base64.b64encode(signed).decode()
        self.csrf = stamp + ":" + unpadded(hmac.new(secret, f"{stamp}:root@pam".encode(), hashlib.sha256).digest())

    def headers(self):
        return {"Cookie": "PVEAuthCookie=" + urllib.parse.quote(self.cookie, safe=""), "CSRFPreventionToken": self.csrf}

    def call(self, method, path, form=None, timeout=15):
        conn = http.client.HTTPSConnection(self.address, 8006, context=CTX, timeout=timeout)
        try:
            body = urllib.parse.urlencode(form or {})
            headers = self.headers()
            url = "/api2/json" + path
            if method == "GET":
                url += ("?" + body) if body else ""
                body = None
            else:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, url, body=body, headers=headers)
            r = conn.getresponse()
            text = r.read().decode(errors="replace")
        finally:
            conn.close()
        if r.status != 200:
            raise HTTPError(r.status, f"{method} {path} on {self.name}: {text}")
        return json.loads(text).get("data")

    def relogin(self, timeout=60):
        """Once the node answers again (after a restart, possibly with the cluster's keys)."""
        def ok():
            self.login_as_root()
            return self.call("GET", "/version") is not None
        wait(ok, timeout, f"{self.name} answering with a root ticket", interval=0.5)

    def task_result(self, upid, timeout=120):
        """The task's exit status once it stopped; logs in again if the node restarted with other keys."""
        path = f"/nodes/{self.name}/tasks/{urllib.parse.quote(upid, safe='')}/status"
        result = {}
        def stopped():
            try:
                status = self.call("GET", path, timeout=5)
            except HTTPError as error:
                if error.status == 401:
                    self.login_as_root()
                raise
            if status.get("status") == "stopped":
                result["exit"] = status.get("exitstatus")
                return True
            return False
        wait(stopped, timeout, f"task {upid}", interval=0.2)
        return result["exit"]

    def cluster_status(self):
        rows = self.call("GET", "/cluster/status", timeout=5)
        cluster = next((r for r in rows if r.get("type") == "cluster"), None)
        nodes = {r.get("name"): r for r in rows if r.get("type") == "node"}
        return cluster, nodes

    def lists(self, name):
        cluster, nodes = self.cluster_status()
        return bool(cluster and cluster.get("quorate") == 1 and nodes.get(name, {}).get("online") == 1)


def timed(conn, path, headers, count):
    out = []
    for _ in range(count):
        t = time.perf_counter()
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        r.read()
        out.append(time.perf_counter() - t)
        if r.status != 200:
            raise Fatal(f"GET {path}: HTTP {r.status}")
    return out


def ms(seconds):
    return f"{seconds * 1000:7.2f} ms"


def verdict(ok):
    return "ok" if ok else "MISSED"


def other_bench_running():
    """A corrald of another cluster_bench run (its data dir is a corral-cbench-* temp dir)."""
    out = subprocess.run(["pgrep", "-af", "corral-cbench-"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "corrald" in line]


def join_node2(n1, n2, fingerprint, token):
    """POST /cluster/config/join on node 2; the task is followed on node 2 in a thread while node 1 is polled."""
    start = time.monotonic()
    upid = n2.call("POST", "/cluster/config/join", {"hostname": n1.address, "fingerprint": fingerprint, "password": token})
    outcome = {}
    def follow():
        try:
            outcome["exit"] = n2.task_result(upid, timeout=90)
        except Exception as error:
            outcome["error"] = str(error)
    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    def listed():
        if "exit" in outcome and outcome["exit"] != "OK":
            raise Fatal(f"join task on n2 ended: {outcome['exit']}")
        return n1.lists("n2")
    wait(listed, 60, "node 2 online on node 1 with the cluster quorate")
    elapsed = time.monotonic() - start
    follower.join(60)
    if outcome.get("exit") != "OK":
        raise Fatal(f"join task {upid} on n2: {outcome}")
    return elapsed


def join_node3(n1, n3, fingerprint, token, base):
    """`corral pvecm add` in node 3's namespace; node 1 polled while it runs."""
    output = open(f"{base}/pvecm-add.log", "w+")
    start = time.monotonic()
    cli = subprocess.Popen(
        ["nsenter", f"--net=/run/netns/{PREFIX}n3", f"{n3.binary}/corral", "pvecm", "add", n1.address, "--fingerprint", fingerprint,
         "--token", token],
        env=dict(os.environ, CORRAL_DATA_DIR=n3.data, CORRAL_NODENAME="n3", CORRAL_CONFIG=n3.settings),
        stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT)
    def failed():
        output.seek(0)
        return Fatal(f"corral pvecm add exited with {cli.returncode}: {output.read().strip()}")
    def listed():
        if cli.poll() not in (None, 0):
            raise failed()
        return n1.lists("n3")
    try:
        wait(listed, 60, "node 3 online on node 1 with the cluster quorate")
        elapsed = time.monotonic() - start
        cli.wait(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    if cli.returncode != 0:
        raise failed()
    return elapsed


HA_VMID = 990
TEMPLATE = "busybox-1.35-corral_1.0-1_amd64.tar.gz"


def ha_failover(nodes, base):
    """Step 4: an HA container on n3, n3 cut; seconds until its copy there dies and until it runs elsewhere."""
    n1, n3 = nodes[0], nodes[2]
    shared = f"{base}/shared-store"
    os.makedirs(shared, exist_ok=True)
    n1.call("POST", "/storage", {"storage": "shared", "type": "dir", "path": shared, "content": "rootdir,vztmpl", "shared": 1})
    if n1.task_result(n1.call("POST", "/nodes/n1/aplinfo", {"storage": "shared", "template": TEMPLATE})) != "OK":
        raise Fatal("template download failed")
    created = n3.call("POST", "/nodes/n3/lxc", {"vmid": HA_VMID, "ostemplate": f"shared:vztmpl/{TEMPLATE}", "rootfs": "shared:0.1"})
    if n3.task_result(created) != "OK":
        raise Fatal("container create failed")
    n1.call("POST", "/cluster/ha/resources", {"sid": f"ct:{HA_VMID}", "state": "started"})

    def status(node, name):
        return node.call("GET", f"/nodes/{name}/lxc/{HA_VMID}/status/current", timeout=5)
    wait(lambda: status(n1, "n3").get("status") == "running", 60, "the HA manager starting the container on n3", interval=0.5)
    pid = status(n1, "n3")["pid"]
    log(f"HA container runs on n3 (init {pid}); cutting n3: killing its corrald and corosync")
    cut = time.monotonic()
    n3.proc.kill()
    subprocess.run(["pkill", "-KILL", "-f", f"corosync -f -c {n3.own}/corosync.conf"])
    result = {}
    def recovered():
        now = time.monotonic() - cut
        if "killed" not in result:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                result["killed"] = now
        rows = n1.call("GET", "/cluster/ha/status/current", timeout=5)
        row = next((r for r in rows if r.get("sid") == f"ct:{HA_VMID}"), {})
        if row.get("node") not in (None, "n3") and status(n1, row["node"]).get("status") == "running":
            result["running"], result["node"] = now, row["node"]
            return True
        return False
    wait(recovered, 120, "the container running on another node", interval=0.25)
    result.setdefault("killed", float("inf"))
    return result


def migration_copy(nodes, base):
    """Step 5: seconds for `qm migrate` with the disk copied, and for `cp` of the same image."""
    n1 = nodes[0]
    for i in (1, 2):
        os.makedirs(f"{base}/only{i}", exist_ok=True)
        n1.call("POST", "/storage", {"storage": f"only{i}", "type": "dir", "path": f"{base}/only{i}", "content": "images", "nodes": f"n{i}"})
    if n1.task_result(n1.call("POST", "/nodes/n1/qemu", {"vmid": 993, "name": "copy", "scsi0": "only1:0.25,format=raw"})) != "OK":
        raise Fatal("VM create failed")
    image = f"{base}/only1/images/993/vm-993-disk-0.raw"
    with open(image, "r+b") as f:  # real bytes, not a sparse file
        for _ in range(256):
            f.write(os.urandom(1 << 20))
    t = time.monotonic()
    subprocess.run(["cp", "--sparse=never", image, f"{base}/cp-peer.raw"], check=True)
    os.sync()
    cp = time.monotonic() - t
    os.unlink(f"{base}/cp-peer.raw")
    t = time.monotonic()
    upid = n1.call("POST", "/nodes/n1/qemu/993/migrate", {"target": "n2", "targetstorage": "only2"})
    if n1.task_result(upid) != "OK":
        lines = n1.call("GET", f"/nodes/n1/tasks/{urllib.parse.quote(upid, safe='')}/log", {"limit": 50})
        raise Fatal("migration failed: " + " | ".join(line.get("t", "") for line in lines))
    return {"migrate": time.monotonic() - t, "cp": cp}


def count_watcher(logs):
    """A thread that notes when each `CORRAL-COUNT n` line of the guest appears in any of `logs`."""
    seen, stop = [], threading.Event()
    def run():
        offsets = {log: 0 for log in logs}
        while not stop.is_set():
            for log in logs:
                try:
                    with open(log, "rb") as f:
                        f.seek(offsets[log])
                        data = f.read()
                except OSError:
                    continue
                end = data.rfind(b"\n")
                if end < 0:
                    continue
                now = time.monotonic()
                for line in data[:end].split(b"\n"):
                    if b"CORRAL-COUNT " in line:
                        digits = line.split(b"CORRAL-COUNT ")[1].split()[0]
                        if digits.isdigit():
                            seen.append((int(digits), now))
                offsets[log] += end + 1
            time.sleep(0.01)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return seen, stop


def longest_pause(seen, since):
    times = [t for _, t in seen if t >= since]
    return max((b - a for a, b in zip(times, times[1:])), default=float("inf"))


def live_migration(nodes, base):
    """Step 6: Corral's live migration n1 -> n2 and bare virsh's n2 -> n1 of the same counting guest."""
    n1, n2 = nodes[0], nodes[1]
    for n in (n1, n2):
        r = subprocess.run(["bash", f"{REPO}/Tests/Guest/libvirt-node.sh", "start", n.data, f"{PREFIX}n{n.i}"], capture_output=True, text=True)
        if r.returncode != 0:
            raise Fatal(f"libvirtd of {n.name}: {r.stdout}{r.stderr}")
    r = subprocess.run(["bash", f"{REPO}/Tests/Guest/tiny-guest.sh", f"{REPO}/.build/tiny-guest"], capture_output=True, text=True)
    if r.returncode != 0:
        raise Fatal(f"tiny guest: {r.stdout}{r.stderr}")
    shared = f"{base}/shared-store"
    os.makedirs(f"{shared}/template/iso", exist_ok=True)
    shutil.copy(f"{REPO}/.build/tiny-guest/tiny.iso", f"{shared}/template/iso/tiny.iso")
    n1.call("PUT", "/storage/shared", {"content": "rootdir,vztmpl,images,iso"})
    created = n1.call("POST", "/nodes/n1/qemu", {"vmid": LIVE_VMID, "memory": 256, "kvm": 0, "scsihw": "virtio-scsi-pci",
                                                 "scsi0": "shared:0.0625,format=raw", "ide2": "shared:iso/tiny.iso,media=cdrom",
                                                 "boot": "order=ide2", "serial0": "socket"})
    if n1.task_result(created) != "OK":
        raise Fatal("VM create failed")
    with open(f"{shared}/images/{LIVE_VMID}/vm-{LIVE_VMID}-disk-0.raw", "r+b") as f:
        f.write(b"CORRAL-COUNT-ME!")
    if n1.task_result(n1.call("POST", f"/nodes/n1/qemu/{LIVE_VMID}/status/start")) != "OK":
        raise Fatal("VM start failed")
    logs = [f"{n.data}/log/{LIVE_VMID}.serial0.log" for n in (n1, n2)]
    seen, stop = count_watcher(logs)
    try:
        wait(lambda: len(seen) >= 20, 120, "the guest counting on its console", interval=0.5)
        time.sleep(2)
        t = time.monotonic()
        upid = n1.call("POST", f"/nodes/n1/qemu/{LIVE_VMID}/migrate", {"target": "n2", "online": 1})
        if n1.task_result(upid, timeout=300) != "OK":
            lines = n1.call("GET", f"/nodes/n1/tasks/{urllib.parse.quote(upid, safe='')}/log", {"limit": 80})
            raise Fatal("live migration failed: " + " | ".join(line.get("t", "") for line in lines))
        ours = time.monotonic() - t
        wait(lambda: seen[-1][1] > time.monotonic() - 0.5 and seen[-1][1] > t + ours, 30, "the count going on on n2", interval=0.2)
        ours_pause = longest_pause(seen, t)
        time.sleep(2)
        # the peer: bare virsh, peer to peer, its memory over plain TCP to n1's address
        domain = f"corral-cb-n2-{LIVE_VMID}"
        t = time.monotonic()
        # an explicit transport: a bare qemu:/// URI opened inside libvirtd is libvirtd's own driver
        desturi = n1.libvirt.replace("qemu://", "qemu+unix://")
        r = subprocess.run(["virsh", "-c", n2.libvirt, "migrate", "--live", "--p2p", "--unsafe", domain, desturi,
                            "--migrateuri", f"tcp://{n1.address}:49300", "--listen-address", n1.address], capture_output=True, text=True)
        peer = time.monotonic() - t
        if r.returncode != 0:
            raise Fatal(f"virsh migrate: {r.stdout}{r.stderr}")
        wait(lambda: seen[-1][1] > t + peer, 30, "the count going on after virsh migrate", interval=0.2)
        peer_pause = longest_pause(seen, t)
        time.sleep(2)
        # the same, paused on arrival and resumed then (what Corral does so the config moves first)
        t = time.monotonic()
        r = subprocess.run(["virsh", "-c", n1.libvirt, "migrate", "--live", "--p2p", "--unsafe", "--suspend", domain,
                            n2.libvirt.replace("qemu://", "qemu+unix://"), "--migrateuri", f"tcp://{n2.address}:49301",
                            "--listen-address", n2.address], capture_output=True, text=True)
        if r.returncode != 0:
            raise Fatal(f"virsh migrate --suspend: {r.stdout}{r.stderr}")
        subprocess.run(["virsh", "-c", n2.libvirt, "resume", domain], capture_output=True, check=True)
        paused_peer = time.monotonic() - t
        wait(lambda: seen[-1][1] > t + paused_peer, 30, "the count going on after virsh migrate --suspend", interval=0.2)
        paused_peer_pause = longest_pause(seen, t)
        subprocess.run(["virsh", "-c", n2.libvirt, "destroy", domain], capture_output=True)
    finally:
        stop.set()
        for n in (n1, n2):
            subprocess.run(["bash", f"{REPO}/Tests/Guest/libvirt-node.sh", "stop", n.data], capture_output=True)
    return {"ours": ours, "ours_pause": ours_pause, "peer": peer, "peer_pause": peer_pause, "paused_peer": paused_peer,
            "paused_peer_pause": paused_peer_pause}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=".build/release", help="directory with corrald and corral (default .build/release)")
    parser.add_argument("--guests", type=int, default=300, help="guest configs per node (default 300)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs) after the run")
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)
    for tool in ("corrald", "corral"):
        if not os.access(f"{binary}/{tool}", os.X_OK):
            sys.exit(f"cluster_bench: {binary}/{tool} not found (build first, or pass --bin)")
    if os.geteuid() != 0:
        sys.exit("cluster_bench: needs root (network namespaces, FUSE, corosync)")
    if other_bench_running():
        sys.exit("cluster_bench: another cluster_bench run is active (corrald with a corral-cbench-* data dir)")
    def terminated(*_):
        raise KeyboardInterrupt("SIGTERM")
    signal.signal(signal.SIGTERM, terminated)  # clean up as on Ctrl-C

    base = tempfile.mkdtemp(prefix="corral-cbench-")
    os.chmod(base, 0o755)
    nodes, written, failed = [], [], False
    try:
        if os.path.exists(f"/run/netns/{PREFIX}br"):
            log(f"removing a stale {PREFIX} network left by an earlier run")
            subprocess.run(["bash", SCRIPT, "down", base], env=ENV, capture_output=True)
        net = subprocess.run(["bash", SCRIPT, "net", "3", base], env=ENV, capture_output=True, text=True)
        if net.returncode != 0:
            raise Fatal(f"cluster.sh net failed: {net.stdout}{net.stderr}")
        nodes = [Node(i, base, binary) for i in (1, 2, 3)]
        n1, n2, n3 = nodes
        for n in nodes:
            n.start()
        for n in nodes:
            n.wait_listening()
            n.login_as_root()
        log("3 standalone nodes up; creating the cluster on n1")

        upid = n1.call("POST", "/cluster/config", {"clustername": "cbench", "link0": n1.address})
        exit_status = n1.task_result(upid)
        if exit_status != "OK":
            raise Fatal(f"cluster create task: {exit_status}")
        time.sleep(1)  # corrald restarts itself into cluster mode
        n1.relogin()
        wait(lambda: (n1.cluster_status()[0] or {}).get("quorate") == 1, 30, "a quorate cluster of one on n1")
        fingerprint = n1.call("GET", "/cluster/config/join")["nodelist"][0]["pve_fp"]

        log("joining n2 through its API")
        token = n1.call("POST", "/cluster/config/join-token")["token"]
        join2 = join_node2(n1, n2, fingerprint, token)
        log(f"n2 listed after {join2:.2f} s; joining n3 with pvecm add")
        token = n1.call("POST", "/cluster/config/join-token")["token"]
        join3 = join_node3(n1, n3, fingerprint, token, base)
        log(f"n3 listed after {join3:.2f} s")
        n2.relogin()
        n3.relogin()
        wait(lambda: all(n1.lists(n.name) for n in nodes), 30, "all 3 nodes online on n1")

        # 2. proxied call overhead, one keep-alive connection each
        log("proxied call overhead: 2 x (50 warm-up + 500) requests")
        path = "/api2/json/nodes/n3/status"
        figures = {}
        for label, node in (("direct to n3", n3), ("via n1", n1)):
            conn = http.client.HTTPSConnection(node.address, 8006, context=CTX, timeout=30)
            timed(conn, path, node.headers(), 50)
            figures[label] = timed(conn, path, node.headers(), 500)
            conn.close()
        overhead = pct(figures["via n1"], 50) - pct(figures["direct to n3"], 50)

        # 3. /cluster/resources with 3 x N guests, each node's configs written on its own mount
        log(f"writing {args.guests} guest configs on each node's mount")
        t = time.monotonic()
        expected = set()
        for n in nodes:
            for k in range(args.guests):
                vmid = 1000 + n.i * 1000 + k
                config = f"{n.mount}/nodes/{n.name}/qemu-server/{vmid}.conf"
                with open(config, "w") as f:
                    f.write(f"name: b{vmid}\nmemory: 64\ncores: 1\n")
                written.append(config)
                expected.add(vmid)
        write_time = time.monotonic() - t
        total = len(expected)
        t = time.monotonic()
        seen = {"rows": 0}
        def published():
            rows = n1.call("GET", "/cluster/resources", {"type": "vm"}, timeout=10)
            seen["rows"] = len(rows)
            seen["ours"] = sum(1 for r in rows if r.get("vmid") in expected)
            return seen["ours"] == total and time.monotonic() - t >= 12
        try:
            wait(published, 60, f"{total} guests in n1's /cluster/resources?type=vm", interval=1)
        except Fatal as error:
            raise Fatal(f"{error}; last count {seen}")
        listed_after = time.monotonic() - t
        log(f"{total} guest rows listed on n1; timing 20 warm-up + 200 requests of /cluster/resources")
        conn = http.client.HTTPSConnection(n1.address, 8006, context=CTX, timeout=30)
        timed(conn, "/api2/json/cluster/resources", n1.headers(), 20)
        resources = timed(conn, "/api2/json/cluster/resources", n1.headers(), 200)
        conn.request("GET", "/api2/json/cluster/resources", headers=n1.headers())
        all_rows = len(json.loads(conn.getresponse().read())["data"])
        conn.close()

        # 4. HA failover (the guest configs of step 3 go first: they would only slow the manager's rounds)
        for path in written:
            try:
                os.unlink(path)
            except OSError:
                pass
        written.clear()
        failover = ha_failover(nodes, base)
        copy = migration_copy(nodes, base)
        live = live_migration(nodes, base)

        load = os.getloadavg()
        print(f"\nCorral cluster-management benchmark: 3 nodes, binaries {args.bin}, {os.cpu_count()} CPUs, "
              f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        print("1. join to listed (node 1's /cluster/status: node online, cluster quorate)")
        print(f"   node 2, POST /cluster/config/join on n2   {join2:6.2f} s     target < 10 s   {verdict(join2 < 10)}")
        print(f"   node 3, corral pvecm add                  {join3:6.2f} s     target < 10 s   {verdict(join3 < 10)}")
        print("2. GET /nodes/n3/status, 500 requests on one keep-alive HTTPS connection (50 warm-up)")
        for label, values in figures.items():
            print(f"   {label:<14} p50 {ms(pct(values, 50))}   p99 {ms(pct(values, 99))}")
        print(f"   proxied overhead p50   {overhead * 1000:+7.2f} ms        target <= +2 ms  {verdict(overhead <= 0.002)}")
        print(f"3. GET /cluster/resources on n1 with 3 x {args.guests} guests ({all_rows} rows; {total} vm rows listed "
              f"{listed_after:.1f} s after {write_time:.1f} s of writing configs), 200 requests (20 warm-up)")
        p99 = pct(resources, 99)
        print(f"   p50 {ms(pct(resources, 50))}   p99 {ms(p99)}      target p99 < 50 ms  {verdict(p99 < 0.05)}")
        print("4. HA failover of a container after its node's corrald and corosync are killed")
        print(f"   the cut node's watchdog killed it after {failover['killed']:6.1f} s   (must come before the start elsewhere)"
              f"   {verdict(failover['killed'] < failover['running'])}")
        print(f"   running on {failover['node']} after         {failover['running']:6.1f} s   target < 60 s (PVE: ~120-180 s)"
              f"   {verdict(failover['running'] < 60)}")
        print("5. offline migration of a VM with a 256 MiB disk on a storage n2 lacks (copied into n2's)")
        print(f"   qm migrate (export, HTTPS, import)   {copy['migrate']:6.2f} s   {256 / copy['migrate']:6.1f} MiB/s")
        print(f"   cp of the same image (peer)           {copy['cp']:6.2f} s   {256 / copy['cp']:6.1f} MiB/s   ratio {copy['migrate'] / copy['cp']:.1f}x")
        print("6. live migration of the running tiny VM (256 MiB, TCG), shared disk; downtime = longest pause of its count")
        print(f"   Corral, n1 -> n2 (TLS tunnels)   total {live['ours']:6.2f} s   downtime {live['ours_pause']:5.2f} s")
        print(f"   bare virsh --live --p2p, n2 -> n1 (plain TCP)   total {live['peer']:6.2f} s   downtime {live['peer_pause']:5.2f} s"
              f"   ratio total {live['ours'] / live['peer']:.2f}x")
        print(f"   bare virsh --suspend, then resume, n1 -> n2   total {live['paused_peer']:6.2f} s   downtime {live['paused_peer_pause']:5.2f} s"
              f"   (paused on arrival, as Corral)")
    except (Exception, KeyboardInterrupt) as error:
        failed = True
        print(f"cluster_bench: FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        for extra in (f"{base}/pvecm-add.log",):
            if os.path.exists(extra):
                print(f"--- {extra}\n" + open(extra, errors="replace").read(), file=sys.stderr)
        for i in (1, 2, 3):
            for path in (f"{base}/d{i}.log", f"{base}/d{i}/corosync.log"):
                if os.path.exists(path):
                    with open(path, errors="replace") as f:
                        print(f"--- {path} (last 30 lines)\n" + "".join(f.readlines()[-30:]), file=sys.stderr)
    finally:
        if written:
            log(f"removing {len(written)} guest configs")
        for path in written:
            try:
                os.unlink(path)
            except OSError:
                pass
        for n in nodes:
            if n.proc and n.proc.poll() is None:
                n.proc.terminate()
        for n in nodes:
            if n.proc:
                try:
                    n.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    n.proc.kill()
                    n.proc.wait()
        for i in (1, 2, 3):
            subprocess.run(["lxc-stop", "-k", "-P", f"{base}/d{i}/lxc", "-n", str(HA_VMID)], capture_output=True)
        subprocess.run(["bash", SCRIPT, "down", base], env=ENV, capture_output=True)
        with open("/proc/mounts") as f:
            for line in f.read().splitlines():
                target = line.split(" ")[1]
                if target.startswith(base + "/"):
                    subprocess.run(["umount", "-l", target])
        if args.keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

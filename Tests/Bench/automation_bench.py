#!/usr/bin/env python3
"""Automation paths through the API against the bare tools doing the same work, in the same run.

Starts its own corrald (--local, temp data dir, loopback port 0, libvirt domain prefix corral-autobench-;
the node of vm_bench.py) and measures, each the median of --rounds rounds after one uncounted warm-up round:
  1. guest agent round trip: a VM booting the tiny guest's ISO under TCG with agent=1 (the guest runs
     Debian's qemu-guest-agent). Each round times --pings sequential `POST .../agent/ping` on one
     authenticated keep-alive HTTPS connection, the same number of bare `virsh qemu-agent-command DOM
     '{"execute":"guest-ping"}'` processes, and the same number of that command sent to one persistent
     `virsh` shell over pipes (no process and no libvirt connection per call: the fairer floor). Per-call
     p50/p99 in ms; the target is API <= bare virsh process + 5 ms. API calls on a new TLS connection
     each (vm_bench's Node.call) are shown for the breakdown.
  2. cloud-init drive: a stopped VM with ide0=local:cloudinit (nocloud, 4 MiB qcow2). `PUT .../cloudinit`
     (synchronous) against bare `genisoimage` + `truncate -s 4M` + `qemu-img convert -n -f raw -O qcow2`
     of the texts `GET .../cloudinit/dump` answers (user-data, network-config, meta-data, empty vendor-data)
     into a pre-created 4 MiB qcow2. ms and API/bare ratio.
  3. import-from: a 1 GiB qcow2 holding 512 MiB of random data imported as a new VM's raw disk
     (`POST /nodes/bench/qemu scsi0=local:0,import-from=/abs/path.qcow2,format=raw`, from the call to its
     task's end, its status polled every 5 ms on one keep-alive connection; host paths are root@pam's, so
     these calls carry a root@pam ticket signed with the node's authkey) against bare `qemu-img convert
     -f qcow2 -O raw` of the same file into the same storage directory. MiB/s of the 1 GiB image and
     API/bare ratio; the VM is destroyed between rounds. Breakdown: bare `qemu-img convert -n` into a raw
     file made first with `qemu-img create` (what corrald runs). A vmdk copy of the image is imported
     once, to show that works (its MiB/s, after one uncounted bare read of the fresh file).
`sync` runs (untimed) before every timed import. Only loopback; needs root and libvirtd
(Tests/Guest/libvirt-up.sh). Writes the figures as JSON (--json).
    python3 Tests/Bench/automation_bench.py --bin .build/release [--rounds 10] [--pings 200] [--json .build/bench/automation_bench.json]
"""
import argparse, base64, contextlib, datetime, hashlib, hmac, http.client, json, os, platform, select, shutil, statistics, struct
import subprocess, sys, tempfile, time, urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vm_bench  # noqa: E402
from vm_bench import CTX, Node, cleanup_domains, virsh  # noqa: E402  (the same throw-away node)
from storage_bench import Paths, run_task, sh, start_node, timed, wait_task  # noqa: E402

vm_bench.PREFIX = "corral-autobench-"  # Node and cleanup_domains read it: this bench's domains only
PING_TARGET_MS = 5.0  # API <= bare virsh + 5 ms
IMAGE_MIB = 1024  # the imported image's virtual size
DATA_MIB = 512  # random data written into it
AGENT_VMID, CLOUDINIT_VMID, IMPORT_VMID, VMDK_VMID = 150, 160, 170, 171
PING = '{"execute":"guest-ping"}'


def log(text):
    print(f"[automation-bench] {text}", file=sys.stderr)


def median(xs):
    return statistics.median(xs) if xs else None


def percentile(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def root_credentials(node):
    """A root@pam ticket and CSRF token made from the node's keys (read through its mount), as root on a node can."""
    mount = os.path.join(node.data, "pve")
    stamp = "%08X" % int(time.time())
    plain = f"PVE:root@pam:{stamp}"
    signed = subprocess.run(["openssl", "dgst", "-sha1", "-sign", os.path.join(mount, "priv", "authkey.key")], input=plain.encode(),
                            capture_output=True, check=True).stdout
    with open(os.path.join(mount, "pve-www.key"), "rb") as f:
        www = f.read()
    unpadded = lambda b: base64.b64encode(b).decode().rstrip("=")
    secret = unpadded(hmac.new(www, b"", hashlib.sha256).digest()).encode()
    return plain + "::" + base64.b64encode(signed).decode(), stamp + ":" + unpadded(hmac.new(secret, f"{stamp}:root@pam".encode(), hashlib.sha256).digest())


@contextlib.contextmanager
def as_root(node):
    saved = node.cookie, node.csrf
    node.cookie, node.csrf = root_credentials(node)
    try:
        yield
    finally:
        node.cookie, node.csrf = saved


class KeepAlive:
    """The node's API on one HTTPS connection, with the Node's ticket and CSRF token on every request."""

    def __init__(self, node):
        self.node, self.reconnects = node, 0
        self.conn = http.client.HTTPSConnection("127.0.0.1", node.port, context=CTX, timeout=30)

    def call(self, method, path, params=None):
        body = urllib.parse.urlencode(params or {})
        url = "/api2/json" + path
        headers = {"Cookie": "PVEAuthCookie=" + urllib.parse.quote(self.node.cookie, safe=""), "CSRFPreventionToken": self.node.csrf}
        if method == "GET":
            url += ("?" + body) if body else ""
            body = None
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (0, 1):
            try:
                self.conn.request(method, url, body=body, headers=headers)
                r = self.conn.getresponse()
                text = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the server closed the idle connection: counted (it would make the figures include a handshake)
                self.conn.close()
                self.reconnects += 1
                if attempt:
                    raise
        if r.status != 200:
            raise RuntimeError(f"{method} {path}: {r.status} {text[:300]!r}")
        return json.loads(text)["data"]

    def task(self, method, path, params=None, timeout=600):
        """Calls an endpoint that answers a UPID and polls the task's status every 5 ms on this connection (a new
        TLS connection per poll would take CPU from the work measured); returns the seconds from the call to its end."""
        return wait_task(self.call, method, path, params, timeout)

    def close(self):
        self.conn.close()


class VirshShell:
    """One `virsh -c qemu:///system` reading commands from a pipe: one process and one libvirt connection
    for every call. Its answers are read from stdout; anything on stderr is an error."""

    def __init__(self):
        self.p = subprocess.Popen(["virsh", "-c", "qemu:///system"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out, self.err = b"", b""

    def _line(self, deadline):
        while b"\n" not in self.out:
            left = deadline - time.monotonic()
            ready = select.select([self.p.stdout, self.p.stderr], [], [], max(0, left))[0] if left > 0 else []
            if not ready:
                raise RuntimeError("persistent virsh: no answer within the timeout")
            for f in ready:
                chunk = os.read(f.fileno(), 65536)
                if not chunk:
                    raise RuntimeError(f"persistent virsh exited ({self.p.poll()}): {self.err.decode(errors='replace').strip()}")
                if f is self.p.stderr:
                    self.err += chunk
                else:
                    self.out += chunk
            if b"\n" in self.err:
                raise RuntimeError(f"persistent virsh: {self.err.decode(errors='replace').strip()}")
        line, self.out = self.out.split(b"\n", 1)
        return line

    def command(self, line, timeout=15):
        """Sends one command and returns the first line of its answer that is JSON (the prompt and the
        echoed command line, which readline writes to stdout, are skipped)."""
        self.p.stdin.write(line.encode() + b"\n")
        self.p.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            text = self._line(deadline).strip()
            if text.startswith(b"{"):
                return text.decode()

    def close(self):
        try:
            self.p.stdin.write(b"quit\n")
            self.p.stdin.close()
            self.p.wait(5)
        except Exception:
            self.p.kill()
            self.p.wait()


def serial_log(node, vmid):
    try:
        with open(os.path.join(node.data, "log", f"{vmid}.serial0.log"), encoding="latin-1") as f:
            return f.read()
    except OSError:
        return ""


def wait_agent(node, vmid, timeout=240):
    deadline = time.monotonic() + timeout
    while "CORRAL-AGENT-STARTED" not in serial_log(node, vmid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the guest agent never started; serial log tail:\n{serial_log(node, vmid)[-1500:]}")
        time.sleep(0.2)
    last = None
    while time.monotonic() < deadline:
        try:
            return node.call("POST", f"/nodes/bench/qemu/{vmid}/agent/ping")
        except RuntimeError as e:
            last = e
            time.sleep(0.2)
    raise RuntimeError(f"agent/ping never answered 200: {last}")


def per_call(samples):
    return {"p50_ms": percentile(samples, 50) * 1000, "p99_ms": percentile(samples, 99) * 1000}


def bench_agent(node, tmp, rounds, pings):
    iso_dir = os.path.join(node.data, "vz", "template", "iso")
    os.makedirs(iso_dir, exist_ok=True)
    shutil.copy(".build/tiny-guest/tiny.iso", iso_dir)
    vmid, domain = AGENT_VMID, f"{vm_bench.PREFIX}{AGENT_VMID}"
    run_task(node, "POST", "/nodes/bench/qemu", {
        "vmid": vmid, "kvm": 0, "memory": 256, "ide2": "local:iso/tiny.iso,media=cdrom", "boot": "order=ide2",
        "serial0": "socket", "agent": 1, "net0": "virtio"})
    run_task(node, "POST", f"/nodes/bench/qemu/{vmid}/status/start")
    shell = client = None
    try:
        t = time.monotonic()
        answer = wait_agent(node, vmid)
        if answer != {"result": {}}:
            raise RuntimeError(f"agent/ping answered {answer!r}, not {{'result': {{}}}}")
        boot = time.monotonic() - t
        log(f"agent answers {boot:.1f} s after the start task ended")
        r = virsh("qemu-agent-command", domain, PING)
        if r.returncode != 0 or '"return"' not in r.stdout:
            raise RuntimeError(f"virsh qemu-agent-command {domain}: {r.returncode} {r.stdout.strip()} {r.stderr.strip()}")
        client, shell = KeepAlive(node), VirshShell()
        rows = {"api": [], "api_new_connection": [], "virsh_process": [], "virsh_shell": []}
        path = f"/nodes/bench/qemu/{vmid}/agent/ping"
        for i in range(rounds + 1):  # round 0 warms up and is not counted
            samples = {k: [] for k in rows}
            for _ in range(pings):
                t = time.perf_counter()
                answer = client.call("POST", path)
                samples["api"].append(time.perf_counter() - t)
                if answer != {"result": {}}:
                    raise RuntimeError(f"agent/ping answered {answer!r}")
            for _ in range(pings):
                t = time.perf_counter()
                node.call("POST", path)
                samples["api_new_connection"].append(time.perf_counter() - t)
            for _ in range(pings):
                t = time.perf_counter()
                r = subprocess.run(["virsh", "-c", "qemu:///system", "qemu-agent-command", domain, PING], capture_output=True, text=True)
                samples["virsh_process"].append(time.perf_counter() - t)
                if r.returncode != 0 or '"return"' not in r.stdout:
                    raise RuntimeError(f"virsh qemu-agent-command: {r.returncode} {r.stdout.strip()} {r.stderr.strip()}")
            command = f"qemu-agent-command {domain} '{PING}'"
            for _ in range(pings):
                t = time.perf_counter()
                answer = shell.command(command)
                samples["virsh_shell"].append(time.perf_counter() - t)
                if '"return"' not in answer:
                    raise RuntimeError(f"persistent virsh answered {answer!r}")
            figures = {k: per_call(v) for k, v in samples.items()}
            log(f"agent {'warm-up' if i == 0 else f'round {i}/{rounds}'} (p50 ms): " +
                ", ".join(f"{k} {v['p50_ms']:.2f}" for k, v in figures.items()))
            if i > 0:
                for k in rows:
                    rows[k].append(figures[k])
        out = {"pings_per_round": pings, "rounds": rounds, "agent_up_after_start_s": round(boot, 1), "keepalive_reconnects": client.reconnects}
        for k, per_round in rows.items():
            out[k] = {"p50_ms": median([r["p50_ms"] for r in per_round]), "p99_ms": median([r["p99_ms"] for r in per_round]),
                      "rounds": per_round}
        out["api_minus_virsh_process_ms"] = out["api"]["p50_ms"] - out["virsh_process"]["p50_ms"]
        out["api_minus_virsh_shell_ms"] = out["api"]["p50_ms"] - out["virsh_shell"]["p50_ms"]
        out["target"] = f"API p50 <= bare virsh process p50 + {PING_TARGET_MS:g} ms"
        out["met"] = out["api_minus_virsh_process_ms"] <= PING_TARGET_MS
        return out
    finally:
        if shell:
            shell.close()
        if client:
            client.close()
        try:
            run_task(node, "POST", f"/nodes/bench/qemu/{vmid}/status/stop")
            run_task(node, "DELETE", f"/nodes/bench/qemu/{vmid}", {"purge": 1})
        except Exception as e:
            log(f"could not stop and remove VM {vmid}: {e}")


def ssh_key():
    """A syntactically valid ssh-ed25519 public key (random key bytes)."""
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + os.urandom(32)
    return "ssh-ed25519 " + base64.b64encode(blob).decode() + " bench@corral"


def bench_cloudinit(node, tmp, rounds):
    vmid = CLOUDINIT_VMID
    run_task(node, "POST", "/nodes/bench/qemu", {
        # net0: ipconfig0 only reaches network-config for a VM that has that NIC (as in PVE)
        "vmid": vmid, "memory": 64, "net0": "virtio", "ide0": "local:cloudinit", "ciuser": "bench", "ipconfig0": "ip=10.9.9.9/24,gw=10.9.9.1",
        "nameserver": "10.9.9.53", "sshkeys": urllib.parse.quote(ssh_key(), safe="")})
    try:
        drive = node.call("GET", f"/nodes/bench/qemu/{vmid}/config")["ide0"]
        volid = drive.split(",")[0]
        local = node.call("GET", "/storage/local")["path"]
        volume = os.path.join(local, "images", volid.split(":", 1)[1])
        if not os.path.isfile(volume):
            raise RuntimeError(f"ide0 is '{drive}', expected its volume at {volume}, there is none")
        # the bare side: the same texts, in the files a nocloud drive holds
        files = os.path.join(tmp, "ci-files")
        os.makedirs(files)
        texts = {}
        for kind, name in (("user", "user-data"), ("network", "network-config"), ("meta", "meta-data")):
            texts[name] = node.call("GET", f"/nodes/bench/qemu/{vmid}/cloudinit/dump?type={kind}")
            with open(os.path.join(files, name), "w") as f:
                f.write(texts[name])
        open(os.path.join(files, "vendor-data"), "w").close()
        if "ssh-ed25519 " not in texts["user-data"] or "10.9.9.9" not in texts["network-config"]:
            raise RuntimeError(f"the dumped texts miss the key or the address:\n{texts['user-data']}\n{texts['network-config']}")
        iso, qcow2 = os.path.join(tmp, "ci.iso"), os.path.join(tmp, "ci.qcow2")
        sh("qemu-img", "create", "-q", "-f", "qcow2", qcow2, "4M")
        client = KeepAlive(node)
        api, bare = [], []
        try:
            for i in range(rounds + 1):  # round 0 warms up and is not counted
                before = os.stat(volume).st_mtime_ns
                t = time.perf_counter()
                answer = client.call("PUT", f"/nodes/bench/qemu/{vmid}/cloudinit")
                a = time.perf_counter() - t
                if answer is not None or os.stat(volume).st_mtime_ns == before:
                    raise RuntimeError(f"PUT cloudinit answered {answer!r}; volume rewritten: {os.stat(volume).st_mtime_ns != before}")
                t = time.perf_counter()
                sh("genisoimage", "-quiet", "-iso-level", "3", "-J", "-R", "-V", "cidata", "-o", iso, files)
                sh("truncate", "-s", "4M", iso)
                sh("qemu-img", "convert", "-n", "-f", "raw", "-O", "qcow2", iso, qcow2)
                b = time.perf_counter() - t
                os.unlink(iso)
                log(f"cloud-init {'warm-up' if i == 0 else f'round {i}/{rounds}'}: API {a * 1000:.1f} ms, bare {b * 1000:.1f} ms")
                if i > 0:
                    api.append(a), bare.append(b)
        finally:
            client.close()
        # the API's volume holds an ISO labelled cidata, as the bare one does
        check = os.path.join(tmp, "ci-check.raw")
        sh("qemu-img", "convert", "-f", "qcow2", "-O", "raw", volume, check)
        with open(check, "rb") as f:
            f.seek(0x8028)
            label = f.read(32).decode(errors="replace").strip()
        os.unlink(check)
        if label != "cidata":
            raise RuntimeError(f"the API's cloud-init volume has the ISO label '{label}', not 'cidata'")
        a, b = median(api), median(bare)
        return {"rounds": rounds, "api_ms": a * 1000, "bare_ms": b * 1000, "ratio": a / b,
                "api_seconds": api, "bare_seconds": bare, "files_bytes": {k: len(v.encode()) for k, v in texts.items()}}
    finally:
        try:
            run_task(node, "DELETE", f"/nodes/bench/qemu/{vmid}", {"purge": 1})
        except Exception as e:
            log(f"could not remove VM {vmid}: {e}")


def bench_import(node, tmp, rounds):
    paths = Paths(node)
    random_raw, source, vmdk = os.path.join(tmp, "random.raw"), os.path.join(tmp, "import-source.qcow2"), os.path.join(tmp, "import-source.vmdk")
    sh("dd", "if=/dev/urandom", f"of={random_raw}", "bs=1M", f"count={DATA_MIB}", "status=none")
    sh("qemu-img", "create", "-q", "-f", "qcow2", source, f"{IMAGE_MIB}M")
    sh("qemu-img", "convert", "-n", "-f", "raw", "-O", "qcow2", random_raw, source)
    os.unlink(random_raw)
    local = node.call("GET", "/storage/local")["path"]
    os.makedirs(os.path.join(local, "images"), exist_ok=True)
    bare_copy = os.path.join(local, "images", "bench-bare-import.raw")

    client = KeepAlive(node)

    def create(vmid, path):
        return client.task("POST", "/nodes/bench/qemu", {"vmid": vmid, "memory": 64, "scsi0": f"local:0,import-from={path},format=raw"})

    def destroy(vmid):
        client.task("DELETE", f"/nodes/bench/qemu/{vmid}", {"purge": 1})

    api, bare, bare_n = [], [], []
    out = {"image_mib": IMAGE_MIB, "data_mib": DATA_MIB, "rounds": rounds}
    with as_root(node):  # import-from with a host path is root@pam's
        try:
            for i in range(rounds + 1):  # round 0 warms up and is not counted
                sh("sync")
                a = create(IMPORT_VMID, source)
                storage, disk = paths.disk(IMPORT_VMID)
                size = os.path.getsize(disk)
                if storage != "local" or size != IMAGE_MIB << 20:
                    raise RuntimeError(f"the imported disk is {disk} on '{storage}', {size} bytes")
                if i == 0:  # once: the volume holds what the image holds
                    sh("qemu-img", "compare", "-q", "-f", "qcow2", "-F", "raw", source, disk, timeout=300)
                destroy(IMPORT_VMID)
                if os.path.exists(disk):
                    raise RuntimeError(f"VM {IMPORT_VMID} destroyed, its disk {disk} is still there")
                sh("sync")
                b = timed("qemu-img", "convert", "-f", "qcow2", "-O", "raw", source, bare_copy)
                os.unlink(bare_copy)
                # breakdown: what corrald runs, into a volume it allocated (qemu-img create -f raw) first
                sh("qemu-img", "create", "-q", "-f", "raw", bare_copy, f"{IMAGE_MIB}M")
                sh("sync")
                n = timed("qemu-img", "convert", "-n", "-f", "qcow2", "-O", "raw", source, bare_copy)
                os.unlink(bare_copy)
                log(f"import {'warm-up' if i == 0 else f'round {i}/{rounds}'}: API {a:.3f} s, bare {b:.3f} s, bare -n {n:.3f} s")
                if i > 0:
                    api.append(a), bare.append(b), bare_n.append(n)
            a, b, n = median(api), median(bare), median(bare_n)
            out.update(api_seconds=api, bare_seconds=bare, bare_into_existing_seconds=bare_n, api_mib_s=IMAGE_MIB / a, bare_mib_s=IMAGE_MIB / b,
                       ratio=b / a, bare_into_existing_mib_s=IMAGE_MIB / n, ratio_into_existing=n / a)
            # a vmdk source, once; the first read of a freshly written image is slow (~1 s more on ext4 with
            # discard, bare or not), so one uncounted bare convert warms it up first
            sh("qemu-img", "convert", "-f", "qcow2", "-O", "vmdk", source, vmdk, timeout=300)
            sh("sync")
            timed("qemu-img", "convert", "-f", "vmdk", "-O", "raw", vmdk, bare_copy)
            os.unlink(bare_copy)
            sh("sync")
            a = create(VMDK_VMID, vmdk)
            storage, disk = paths.disk(VMDK_VMID)
            sh("qemu-img", "compare", "-q", "-f", "vmdk", "-F", "raw", vmdk, disk, timeout=300)
            destroy(VMDK_VMID)
            sh("sync")
            b = timed("qemu-img", "convert", "-f", "vmdk", "-O", "raw", vmdk, bare_copy)
            os.unlink(bare_copy)
            log(f"import vmdk once: API {a:.3f} s, bare {b:.3f} s")
            out["vmdk"] = {"api_seconds": a, "api_mib_s": IMAGE_MIB / a, "bare_seconds": b, "bare_mib_s": IMAGE_MIB / b}
            return out
        finally:
            for vmid in (IMPORT_VMID, VMDK_VMID):
                try:
                    node.call("GET", f"/nodes/bench/qemu/{vmid}/config")
                except RuntimeError:
                    continue  # not there
                try:
                    destroy(vmid)
                except Exception as e:
                    log(f"could not remove VM {vmid}: {e}")
            client.close()
            for path in (bare_copy, source, vmdk):
                if os.path.exists(path):
                    os.unlink(path)


def report(results):
    print(f"\nAutomation benchmark, median of {results['rounds']} rounds after a warm-up; corrald {results['corrald']}; "
          f"{results['host']['cpus']} CPUs, {results['host']['kernel']}")
    print(f"{'':40}{'corral API':>12}{'peer':>12}{'API-peer':>10}{'ratio':>8}   target")
    g = results["agent"]
    if "skipped" in g:
        print(f"{'guest-ping ms/call':40}  skipped: {g['skipped']}")
    else:
        api = g["api"]["p50_ms"]
        print(f"guest-ping, {g['pings_per_round']} sequential calls per round, per-call p50 ms")
        print(f"{'  vs bare virsh process per call':40}{api:12.2f}{g['virsh_process']['p50_ms']:12.2f}{g['api_minus_virsh_process_ms']:+10.2f}"
              f"{api / g['virsh_process']['p50_ms']:8.2f}   API <= bare + {PING_TARGET_MS:g} ms {'ok' if g['met'] else 'MISSED'}")
        print(f"{'  vs persistent virsh shell':40}{api:12.2f}{g['virsh_shell']['p50_ms']:12.2f}{g['api_minus_virsh_shell_ms']:+10.2f}"
              f"{api / g['virsh_shell']['p50_ms']:8.2f}   (one process, one libvirt connection)")
        print(f"{'  API, new TLS connection per call':40}{g['api_new_connection']['p50_ms']:12.2f}{'':12}{'':10}{'':8}   (vm_bench's Node.call)")
        print(f"  p99 ms: API {g['api']['p99_ms']:.2f}, bare virsh {g['virsh_process']['p99_ms']:.2f}, persistent virsh {g['virsh_shell']['p99_ms']:.2f}, "
              f"API new connection {g['api_new_connection']['p99_ms']:.2f}; agent answered {g['agent_up_after_start_s']} s after start"
              + (f"; {g['keepalive_reconnects']} keep-alive reconnects" if g["keepalive_reconnects"] else ""))
    c = results["cloudinit"]
    if "skipped" in c:
        print(f"{'cloud-init drive (PUT cloudinit) ms':40}  skipped: {c['skipped']}")
    else:
        print(f"{'cloud-init drive (PUT cloudinit) ms':40}{c['api_ms']:12.1f}{c['bare_ms']:12.1f}{c['api_ms'] - c['bare_ms']:+10.1f}"
              f"{c['ratio']:8.2f}   (API/bare time)")
        print("  bare: genisoimage -quiet -iso-level 3 -J -R -V cidata + truncate -s 4M + qemu-img convert -n -f raw -O qcow2 "
              "into a 4 MiB qcow2; the API also runs qemu-img info for the volume's size")
    m = results["import"]
    if "skipped" in m:
        print(f"{'import-from qcow2 MiB/s':40}  skipped: {m['skipped']}")
    else:
        print(f"{'import-from qcow2 -> raw MiB/s':40}{m['api_mib_s']:12.1f}{m['bare_mib_s']:12.1f}{'':10}{m['ratio']:8.2f}   (API/bare MiB/s)")
        print(f"{'  bare convert -n into a created raw':40}{'':12}{m['bare_into_existing_mib_s']:12.1f}{'':10}{m['ratio_into_existing']:8.2f}"
              f"   (what corrald runs after allocating the volume)")
        v = m["vmdk"]
        print(f"{'import-from vmdk -> raw MiB/s (once)':40}{v['api_mib_s']:12.1f}{v['bare_mib_s']:12.1f}{'':10}"
              f"{v['api_mib_s'] / v['bare_mib_s']:8.2f}")
        print(f"  ({IMAGE_MIB} MiB image, {DATA_MIB} MiB random data, the vmdk import a single run; median seconds {median(m['api_seconds']):.3f} API "
              f"(POST /nodes/bench/qemu to task end) vs {median(m['bare_seconds']):.3f} bare qemu-img convert -f qcow2 -O raw)")
    if results.get("json"):
        print(f"figures written to {results['json']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=".build/release")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--pings", type=int, default=200, help="agent pings per method and round")
    ap.add_argument("--json", default=".build/bench/automation_bench.json", help="where the figures go ('' for nowhere)")
    args = ap.parse_args()
    for tool in ("qemu-img", "openssl", "dd", "sync", "virsh", "genisoimage", "truncate"):
        if not shutil.which(tool):
            raise SystemExit(f"required tool '{tool}' not found")
    if os.geteuid() != 0:
        raise SystemExit("run as root (libvirt, the node's mount, root@pam's ticket)")
    subprocess.run(["bash", "Tests/Guest/libvirt-up.sh"], check=True)
    subprocess.run(["bash", "Tests/Guest/tiny-guest.sh", ".build/tiny-guest"], check=True, stdout=subprocess.DEVNULL)
    cleanup_domains()
    binary, results, tmp, node = start_node(args, "automation", "corral-autobench-")
    failed = []
    try:
        started = time.monotonic()
        for key, run in (("agent", lambda: bench_agent(node, tmp, args.rounds, args.pings)),
                         ("cloudinit", lambda: bench_cloudinit(node, tmp, args.rounds)),
                         ("import", lambda: bench_import(node, tmp, args.rounds))):
            try:
                results[key] = run()
            except Exception as e:
                failed.append(key)
                results[key] = {"skipped": f"failed: {e}"}
        results["seconds"] = round(time.monotonic() - started, 1)
    finally:
        cleanup_domains()
        node.stop()
        node.log.seek(0)
        corrald_log = node.log.readlines()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
        results["json"] = args.json
    report(results)
    if failed:
        print(f"\n[automation-bench] failed: {', '.join(failed)}; last lines of corrald.log:\n" + "".join(corrald_log[-20:]), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

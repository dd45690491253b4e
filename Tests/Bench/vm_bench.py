#!/usr/bin/env python3
"""VM start and stop through the API against bare `virsh create` / `virsh destroy` of the same
domain XML, in the same run; then 8 VMs started in parallel through the API (lock failures counted).

Starts its own corrald (--local, temp data dir, loopback port 0, its own libvirt domain prefix), boots
the tiny guest's ISO under software emulation. "start" is from the API call to its task's end (the
domain runs); virsh's is `virsh create` returning. Only loopback; needs libvirtd (Tests/Guest/libvirt-up.sh).
    python3 Tests/Bench/vm_bench.py --bin .build/release [--rounds 10]
"""
import argparse, json, os, shutil, ssl, statistics, subprocess, sys, tempfile, threading, time, urllib.parse, urllib.request

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE
PREFIX = "corral-bench-"


class Node:
    def __init__(self, binary, tmp):
        self.data = os.path.join(tmp, "node")
        os.makedirs(self.data)
        os.chmod(tmp, 0o755)
        self.log = open(os.path.join(tmp, "corrald.log"), "w+")
        self.proc = subprocess.Popen([binary, "--local", "--config", "/dev/null", "--data-dir", self.data, "--listen", "127.0.0.1:0",
                                      "--nodename", "bench", "--set", f"domain-prefix={PREFIX}"], stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            self.log.seek(0)
            text = self.log.read()
            if "(ports " in text:
                self.port = int(text.split("(ports ")[1].split(")")[0].split(",")[0])
                break
            time.sleep(0.1)
        else:
            raise SystemExit("corrald did not start:\n" + text)
        pve = os.path.join(self.data, "pve")
        with open(os.path.join(pve, "user.cfg"), "w") as f:
            f.write("user:bench@pve:1:0::::::\nacl:1:/:bench@pve:Administrator:\n")
        hashed = subprocess.run(["openssl", "passwd", "-6", "bench-pw"], capture_output=True, text=True).stdout.strip()
        with open(os.path.join(pve, "priv", "shadow.cfg"), "w") as f:
            f.write(f"bench:{hashed}:\n")
        r = self.call("POST", "/access/ticket", {"username": "bench@pve", "password": "bench-pw"}, auth=False)
        self.cookie, self.csrf = r["ticket"], r["CSRFPreventionToken"]

    def call(self, method, path, params=None, auth=True):
        data = urllib.parse.urlencode(params or {}).encode() if method != "GET" else None
        url = f"https://127.0.0.1:{self.port}/api2/json{path}"
        req = urllib.request.Request(url, data=data, method=method)
        if auth:
            req.add_header("Cookie", "PVEAuthCookie=" + urllib.parse.quote(self.cookie, safe=""))
            req.add_header("CSRFPreventionToken", self.csrf)
        try:
            with urllib.request.urlopen(req, context=CTX) as resp:
                return json.load(resp)["data"]
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:300]}")

    def task(self, method, path, params=None):
        upid = self.call(method, path, params)
        while True:
            s = self.call("GET", f"/nodes/bench/tasks/{urllib.parse.quote(upid)}/status")
            if s["status"] == "stopped":
                return s.get("exitstatus")
            time.sleep(0.005)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        subprocess.run(["umount", "-l", os.path.join(self.data, "pve")], stderr=subprocess.DEVNULL)


def virsh(*args):
    return subprocess.run(["virsh", "-c", "qemu:///system", *args], capture_output=True, text=True)


def cleanup_domains():
    for name in virsh("list", "--name").stdout.split():
        if name.startswith(PREFIX):
            virsh("destroy", name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=".build/release")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--parallel", type=int, default=8)
    args = ap.parse_args()
    subprocess.run(["bash", "Tests/Guest/libvirt-up.sh"], check=True)
    subprocess.run(["bash", "Tests/Guest/tiny-guest.sh", ".build/tiny-guest"], check=True, stdout=subprocess.DEVNULL)
    cleanup_domains()
    tmp = tempfile.mkdtemp(prefix="corral-vmbench-")
    node = Node(os.path.abspath(os.path.join(args.bin, "corrald")), tmp)
    try:
        iso_dir = os.path.join(node.data, "vz", "template", "iso")
        os.makedirs(iso_dir)
        shutil.copy(".build/tiny-guest/tiny.iso", iso_dir)
        base = {"memory": "256", "kvm": "0", "ide2": "local:iso/tiny.iso,media=cdrom", "boot": "order=ide2", "serial0": "socket"}
        assert node.task("POST", "/nodes/bench/qemu", {"vmid": "100", **base}) == "OK"
        env = dict(os.environ, CORRAL_DATA_DIR=node.data, CORRAL_NODENAME="bench", CORRAL_DOMAIN_PREFIX=PREFIX)
        xml = subprocess.run([os.path.join(args.bin, "corral"), "qm", "showcmd", "100"], capture_output=True, text=True, env=env, check=True).stdout
        xml = xml.replace(f"<name>{PREFIX}100</name>", f"<name>{PREFIX}virsh</name>")
        xml = "\n".join(line for line in xml.splitlines() if "<uuid>" not in line and "<genid>" not in line)
        xml_path = os.path.join(tmp, "virsh.xml")
        with open(xml_path, "w") as f:
            f.write(xml)
        api_start, api_stop, v_start, v_stop = [], [], [], []
        for _ in range(args.rounds):
            t = time.perf_counter(); assert node.task("POST", "/nodes/bench/qemu/100/status/start") == "OK"; api_start.append(time.perf_counter() - t)
            time.sleep(0.3)
            t = time.perf_counter(); assert node.task("POST", "/nodes/bench/qemu/100/status/stop") == "OK"; api_stop.append(time.perf_counter() - t)
            t = time.perf_counter(); r = virsh("create", xml_path); v_start.append(time.perf_counter() - t); assert r.returncode == 0, r.stderr
            time.sleep(0.3)
            t = time.perf_counter(); r = virsh("destroy", f"{PREFIX}virsh"); v_stop.append(time.perf_counter() - t); assert r.returncode == 0, r.stderr
        for vmid in range(101, 101 + args.parallel):
            assert node.task("POST", "/nodes/bench/qemu", {"vmid": str(vmid), **base}) == "OK"
        results, threads = {}, []
        def start(vmid):
            try:
                results[vmid] = node.task("POST", f"/nodes/bench/qemu/{vmid}/status/start")
            except Exception as e:
                results[vmid] = str(e)
        t = time.perf_counter()
        for vmid in range(101, 101 + args.parallel):
            threads.append(threading.Thread(target=start, args=(vmid,))); threads[-1].start()
        for th in threads: th.join()
        parallel = time.perf_counter() - t
        failures = [f"{k}: {v}" for k, v in results.items() if v != "OK"]
        # the same 8 starts with bare virsh, in parallel too
        xmls = []
        for i in range(args.parallel):
            path = os.path.join(tmp, f"virsh{i}.xml")
            with open(path, "w") as f:
                f.write(xml.replace(f"<name>{PREFIX}virsh</name>", f"<name>{PREFIX}virsh{i}</name>").replace("/100.", f"/9{i:02d}."))
            xmls.append(path)
        t = time.perf_counter()
        procs = [subprocess.Popen(["virsh", "-c", "qemu:///system", "create", x], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for x in xmls]
        virsh_failures = sum(1 for p in procs if p.wait() != 0)
        virsh_parallel = time.perf_counter() - t
        med = statistics.median
        print(f"\nVM start/stop, {args.rounds} rounds, tiny guest under TCG (median seconds)")
        print(f"{'':28}{'corral API':>12}{'bare virsh':>12}{'ratio':>8}   target <= 1.2x")
        print(f"{'start -> running':28}{med(api_start):12.3f}{med(v_start):12.3f}{med(api_start)/med(v_start):8.2f}")
        print(f"{'stop':28}{med(api_stop):12.3f}{med(v_stop):12.3f}{med(api_stop)/med(v_stop):8.2f}")
        print(f"{args.parallel} VMs started in parallel: API {parallel:.2f} s ({len(failures)} failures), bare virsh {virsh_parallel:.2f} s ({virsh_failures} failures), ratio {parallel / virsh_parallel:.2f}")
        for f in failures: print("  ", f)
        return 1 if failures else 0
    finally:
        cleanup_domains()
        node.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

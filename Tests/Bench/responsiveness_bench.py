#!/usr/bin/env python3
"""The node under blocking load: login latency and `/version` p50/p99 on an idle node, then the
same while two full clones of a template whose disk holds 1.5 GiB of data run (qemu-img on the
blocking executor). Targets: login < 0.5 s and `/version` p99 < 20 ms under load.

`/version` is timed on one keep-alive connection (as a console's poll); each login is a new
connection. Starts its own corrald (--local, temp data dir, loopback port 0). Only loopback.
    python3 Tests/Bench/responsiveness_bench.py --bin .build/release
"""
import argparse, http.client, os, shutil, ssl, statistics, subprocess, sys, tempfile, threading, time, urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from vm_bench import CTX, Node  # noqa: E402

GIB_AND_A_HALF = 1610612736


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def version_latencies(node, seconds):
    conn = http.client.HTTPSConnection("127.0.0.1", node.port, context=CTX)
    headers = {"Cookie": "PVEAuthCookie=" + urllib.parse.quote(node.cookie, safe="")}
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.perf_counter()
        conn.request("GET", "/api2/json/version", headers=headers)
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status
        out.append(time.perf_counter() - t)
    conn.close()
    return out


def login_latency(node):
    t = time.perf_counter()
    node.call("POST", "/access/ticket", {"username": "bench@pve", "password": "bench-pw"}, auth=False)
    return time.perf_counter() - t


def measure(node, seconds, logins):
    versions = []
    poller = threading.Thread(target=lambda: versions.extend(version_latencies(node, seconds)))
    poller.start()
    times = []
    for _ in range(logins):
        times.append(login_latency(node))
        time.sleep(seconds / (logins + 1))
    poller.join()
    return times, versions


def report(label, logins, versions):
    print(f"{label:>13}: login median {statistics.median(logins) * 1000:7.1f} ms, max {max(logins) * 1000:7.1f} ms | "
          f"/version p50 {pct(versions, 50) * 1000:6.2f} ms, p99 {pct(versions, 99) * 1000:6.2f} ms ({len(versions)} requests)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=".build/release")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="corral-rsp-bench-")
    node = Node(os.path.abspath(os.path.join(args.bin, "corrald")), tmp)
    try:
        assert node.task("POST", "/nodes/bench/qemu", {"vmid": 950, "memory": 128, "kvm": 0, "scsi0": "local:2,format=raw"}) == "OK"
        disk = os.path.join(node.data, "vz/images/950/vm-950-disk-0.raw")
        subprocess.run(["bash", "-c", f"yes corral-data | head -c {GIB_AND_A_HALF} | dd of='{disk}' bs=4M conv=notrunc status=none"], check=True)
        assert node.task("POST", "/nodes/bench/qemu/950/template") == "OK"
        idle = measure(node, 3, 5)
        started = time.monotonic()
        upids = [node.call("POST", "/nodes/bench/qemu/950/clone", {"newid": n, "full": 1}) for n in (951, 952)]
        loaded = measure(node, 4, 5)
        for upid in upids:
            while (s := node.call("GET", f"/nodes/bench/tasks/{urllib.parse.quote(upid)}/status"))["status"] != "stopped":
                time.sleep(0.1)
            assert s["exitstatus"] == "OK", s
        print(f"responsiveness bench: two full clones of 1.5 GiB took {time.monotonic() - started:.1f} s")
        report("idle", *idle)
        report("during clones", *loaded)
        ok = max(loaded[0]) < 0.5 and pct(loaded[1], 99) < 0.020
        print(f"targets (login < 500 ms, /version p99 < 20 ms under load): {'met' if ok else 'MISSED'}")
    finally:
        node.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Container start through the API against bare `lxc-start` of the same container, in the same run.

Starts its own corrald (--local, temp data dir, loopback port 0), builds the busybox template through
the API (POST /nodes/{node}/aplinfo, offline), creates an unprivileged container without network, then
alternates: API start (call → task end, the container RUNNING) + API stop, and `lxc-start` of the
configuration corrald generated + `lxc-stop -k`. Target: API start ≤ bare + 20 ms (issue 22).
    python3 Tests/Bench/ct_bench.py --bin .build/release [--rounds 10]
"""
import argparse, os, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vm_bench import Node  # noqa: E402  (the same throw-away node)

TEMPLATE = "busybox-1.35-corral_1.0-1_amd64.tar.gz"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="corral-ctbench-")
    node = Node(os.path.join(args.bin, "corrald"), tmp)
    lxcpath = os.path.join(node.data, "lxc")
    try:
        assert node.task("POST", "/nodes/bench/aplinfo", {"storage": "local", "template": TEMPLATE}) == "OK"
        assert node.task("POST", "/nodes/bench/lxc", {"vmid": 400, "ostemplate": f"local:vztmpl/{TEMPLATE}", "rootfs": "local:0.25"}) == "OK"
        api, bare = [], []
        for _ in range(args.rounds):
            t = time.perf_counter()
            assert node.task("POST", "/nodes/bench/lxc/400/status/start") == "OK"
            api.append(time.perf_counter() - t)
            assert node.task("POST", "/nodes/bench/lxc/400/status/stop") == "OK"
            t = time.perf_counter()
            r = subprocess.run(["lxc-start", "-P", lxcpath, "-n", "400"], capture_output=True, text=True)
            bare.append(time.perf_counter() - t)
            if r.returncode != 0:
                raise SystemExit("lxc-start failed: " + r.stderr)
            subprocess.run(["lxc-stop", "-k", "-P", lxcpath, "-n", "400"], capture_output=True)
        a, b = statistics.median(api), statistics.median(bare)
        print(f"container start (median of {args.rounds}): API {a * 1000:.0f} ms, bare lxc-start {b * 1000:.0f} ms, "
              f"ratio {a / b:.2f}x, difference {(a - b) * 1000:+.0f} ms (target ≤ +20 ms)")
        assert node.task("DELETE", "/nodes/bench/lxc/400") == "OK"
    finally:
        subprocess.run(["lxc-stop", "-k", "-P", lxcpath, "-n", "400"], capture_output=True)
        node.stop()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The web console with 1,000 guests: how long one resource update takes to render the tree.

Starts a corrald as the browser test does (--local, a throw-away data directory, a free loopback
port), creates --guests VMs without disks through the API (POST /nodes/{node}/qemu with vmid, name,
memory; --parallel requests at a time, each task followed to its end), opens the console in
headless Chromium and logs in. Then it asks for fresh /cluster/resources --rounds times of each kind
and reads the page's User Timing entries (www/js/main.js):
  corral:tree-update   the script's work for one update (tree.setResources and the title)
  corral:tree-frame    from the update to the frame after it (style, layout and paint too)
Kinds: "same" (nothing the rows show changed: tooltips only) and "rename" (one guest renamed between
polls, so the rows change). Prints median and p95 in ms for each, and the page's JS heap.
No guest is started; the VMs go with the daemon's data directory.

    python3 Tests/Bench/console_bench.py --bin .build/release [--guests 1000] [--rounds 30]
"""

import argparse
import statistics
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Browser"))
import console_test as ct  # noqa: E402  (the browser test's daemon, browser and login)

SAMPLE = """
const done = arguments[arguments.length - 1];
(async () => {
  const { loadResources } = await import('/js/resources.js');
  performance.clearMeasures('corral:tree-frame');
  await loadResources({ maxAge: 0 });
  for (let i = 0; i < 100 && !performance.getEntriesByName('corral:tree-frame').length; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const u = performance.getEntriesByName('corral:tree-update').pop();
  const f = performance.getEntriesByName('corral:tree-frame').pop();
  done({ update: u ? u.duration : null, frame: f ? f.duration : null,
         rows: document.querySelectorAll('#tree li[role=treeitem]').length,
         heap: performance.memory ? performance.memory.usedJSHeapSize : null });
})().catch((e) => done({ error: String(e) }));
"""


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def create_guests(daemon, auth, count, parallel):
    first = int(daemon.call("GET", "/cluster/nextid", **auth))

    def one(vmid):
        upid = daemon.call("POST", f"/nodes/{ct.NODE}/qemu", **auth, vmid=vmid, name=f"bench-{vmid}", memory=128)
        status = daemon.wait_task(upid, auth, timeout=300)
        if status != "OK":
            raise RuntimeError(f"creating VM {vmid}: {status}")

    began = time.monotonic()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, range(first, first + count)))
    took = time.monotonic() - began
    print(f"created {count} VMs in {took:.1f} s ({count / took:.0f}/s, {parallel} at a time)")
    return first


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=".build/release")
    ap.add_argument("--guests", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--www", default=str(ct.REPO / "www"))
    ap.add_argument("--artifacts", default="/tmp/console-bench")
    args = ap.parse_args()

    daemon = console = None
    try:
        daemon = ct.Daemon(args.bin, args.www)
        auth = daemon.login()
        first = create_guests(daemon, auth, args.guests, args.parallel)
        console = ct.Console(args.artifacts, ct.ALWAYS_OPTIONAL)
        console.d.set_script_timeout(60)
        console.d.get(daemon.url)
        ct.log_in(console)
        console.wait(lambda: len(console.d.find_elements(ct.By.CSS_SELECTOR, "#tree li[role=treeitem]")) > args.guests,
                     f"{args.guests} guests in the tree", 120)
        results = {}
        for kind in ("same", "rename"):
            samples = []
            for i in range(args.rounds):
                if kind == "rename":
                    vmid = first + (i * 37) % args.guests
                    daemon.call("PUT", f"/nodes/{ct.NODE}/qemu/{vmid}/config", **auth, name=f"renamed-{i}-{vmid}")
                r = console.d.execute_async_script(SAMPLE)
                if r.get("error") or r.get("update") is None or r.get("frame") is None:
                    raise ct.Failure(f"no timing from the page: {r}")
                samples.append(r)
            results[kind] = samples
        console.shot("tree-1000")
        console.collect_logs()
        for kind, samples in results.items():
            up = [s["update"] for s in samples]
            fr = [s["frame"] for s in samples]
            print(f"{kind:7s} update: median {statistics.median(up):7.1f} ms  p95 {pct(up, 95):7.1f} ms   "
                  f"to next frame: median {statistics.median(fr):7.1f} ms  p95 {pct(fr, 95):7.1f} ms   ({len(samples)} rounds)")
        last = results["rename"][-1]
        print(f"tree rows: {last['rows']}; JS heap: {last['heap'] / 2**20:.1f} MiB" if last["heap"] else f"tree rows: {last['rows']}")
        if console.problems:
            print("browser console problems:\n  " + "\n  ".join(console.problems))
            return 1
        return 0
    finally:
        if console:
            console.quit()
        if daemon:
            daemon.stop()


if __name__ == "__main__":
    sys.exit(main())

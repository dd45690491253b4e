#!/usr/bin/env python3
"""Storage operations through the API against the bare tools doing the same work, in the same run.

Starts its own corrald (--local, temp data dir, loopback port 0; the node of vm_bench.py) and measures,
each the median of --rounds rounds after one uncounted warm-up round:
  1. offline disk move: a stopped VM's 1 GiB raw disk (512 MiB of it random data) moved between two dir
     storages on the same file system (POST .../qemu/{vmid}/move_disk delete=1, from the call to its
     task's end) against bare `qemu-img convert -p -f raw -O raw` of the same image between the same
     directories. MiB/s of the 1 GiB image. Since delete=1 also frees the source, the target (API/bare >= 0.9)
     is checked against bare convert + removing the copy: the same work (on ext4 mounted with discard that
     removal alone is ~0.1 s); the convert-only ratio is shown too.
  2. btrfs, on a 2 GiB loop file system: a VM snapshot (POST .../snapshot, the VM stopped, its disk on a
     btrfs storage) against bare `btrfs subvolume snapshot -r`, and a linked clone of a template (POST
     .../clone full=0) against a bare writable `btrfs subvolume snapshot`, of a subvolume holding the same
     1 GiB file (the same extents, reflinked). The API figures include the HTTP call, the task and the
     5 ms polling of its status. Needs root and btrfs-progs; skipped, with the reason, when corrald has
     no btrfs storage type (the bare figures are still taken).
`sync` runs (untimed) before every timed operation. Only loopback. Writes the figures as JSON (--json).
    python3 Tests/Bench/storage_bench.py --bin .build/release [--rounds 15] [--json .build/bench/storage_bench.json]
"""
import argparse, datetime, json, os, platform, shutil, statistics, subprocess, sys, tempfile, time, urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vm_bench import Node  # noqa: E402  (the same throw-away node)

IMAGE_MIB = 1024  # the VM disk: local:1 / bt:1
DATA_MIB = 512  # random data written into it
MOVE_TARGET = 0.9


def wait_task(call, method, path, params=None, timeout=120):
    """Calls an endpoint that returns a UPID through `call` and polls the task every 5 ms; returns the
    seconds from the call to its end (the task's last log lines in the error if it failed)."""
    t = time.perf_counter()
    upid = call(method, path, params)
    quoted = urllib.parse.quote(upid, safe="")
    deadline = time.monotonic() + timeout
    while True:
        s = call("GET", f"/nodes/bench/tasks/{quoted}/status")
        if s["status"] == "stopped":
            elapsed = time.perf_counter() - t
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{method} {path}: task {upid} still running after {timeout} s")
        time.sleep(0.005)
    if s.get("exitstatus") != "OK":
        lines = []
        try:
            lines = [l["t"] for l in call("GET", f"/nodes/bench/tasks/{quoted}/log")][-10:]
        except Exception:
            pass
        raise RuntimeError(f"{method} {path} {params or ''}: task ended '{s.get('exitstatus')}'\n  " + "\n  ".join(lines))
    return elapsed


def run_task(node, method, path, params=None, timeout=120):
    """A task through the node's own calls (see wait_task)."""
    return wait_task(node.call, method, path, params, timeout)


def start_node(args, benchmark, prefix):
    """The figures' header and a throw-away node in a fresh temp directory: (binary, results, tmp, node)."""
    binary = os.path.abspath(os.path.join(args.bin, "corrald"))
    results = {
        "benchmark": benchmark, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "corrald": binary, "rounds": args.rounds, "host": {"cpus": os.cpu_count(), "kernel": platform.release()},
    }
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        node = Node(binary, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return binary, results, tmp, node


def sh(*cmd, timeout=120):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}: {(r.stderr or r.stdout).strip()[-400:]}")
    return r.stdout


def timed(*cmd):
    """Runs a bare command (output discarded) and returns its wall time in seconds."""
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300)
    elapsed = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()[-400:]}")
    return elapsed


def fill(path):
    """DATA_MIB of random data at the start of a raw image, its size kept."""
    sh("dd", "if=/dev/urandom", f"of={path}", "bs=1M", f"count={DATA_MIB}", "conv=notrunc,fsync", "status=none")


class Paths:
    """A disk's file from the VM config and the storage's path (dir: images/VMID/NAME, btrfs: images/VMID/STEM/disk.raw)."""

    def __init__(self, node):
        self.node = node

    def disk(self, vmid, key="scsi0"):
        volid = self.node.call("GET", f"/nodes/bench/qemu/{vmid}/config")[key].split(",")[0]
        storage, name = volid.split(":", 1)
        entry = self.node.call("GET", f"/storage/{storage}")
        name = name.split("/")[-2] + "/" + name.split("/")[-1]  # a linked clone's volume is BASE/.../VMID/NAME
        if entry["type"] == "btrfs":
            path = os.path.join(entry["path"], "images", name[: -len(".raw")], "disk.raw")
        else:
            path = os.path.join(entry["path"], "images", name)
        if not os.path.isfile(path):
            raise RuntimeError(f"{volid}: expected its file at {path}, there is none")
        return storage, path


def median(xs):
    return statistics.median(xs) if xs else None


def bench_live_move(node, rounds):
    """A running VM's 1 GiB disk mirrored between the two dir storages by libvirt (move_disk while it runs)."""
    paths = Paths(node)
    run_task(node, "POST", "/nodes/bench/qemu", {"vmid": 110, "memory": 64, "kvm": 0, "scsi0": "local:1"})
    fill(paths.disk(110)[1])
    run_task(node, "POST", "/nodes/bench/qemu/110/status/start")
    times = []
    try:
        for i in range(rounds):
            storage, _ = paths.disk(110)
            other = "dir2" if storage == "local" else "local"
            t = run_task(node, "POST", "/nodes/bench/qemu/110/move_disk", {"disk": "scsi0", "storage": other, "delete": 1}, timeout=300)
            print(f"[storage-bench] live move round {i + 1}/{rounds}: {t:.3f} s", file=sys.stderr)
            times.append(t)
    finally:
        run_task(node, "POST", "/nodes/bench/qemu/110/status/stop")
        run_task(node, "DELETE", "/nodes/bench/qemu/110", {"purge": 1})
    return {"image_mib": IMAGE_MIB, "data_mib": DATA_MIB, "seconds": times, "median_s": median(times)}


def bench_move(node, tmp, rounds):
    paths = Paths(node)
    dirs = {"local": node.call("GET", "/storage/local")["path"], "dir2": os.path.join(tmp, "dir2")}
    os.makedirs(dirs["dir2"])
    node.call("POST", "/storage", {"storage": "dir2", "type": "dir", "path": dirs["dir2"], "content": "images"})
    run_task(node, "POST", "/nodes/bench/qemu", {"vmid": 100, "memory": 64, "scsi0": "local:1"})
    storage, path = paths.disk(100)
    fill(path)
    api, bare, bare_rm = [], [], []
    for i in range(rounds + 1):  # round 0 warms up and is not counted
        storage, path = paths.disk(100)
        other = "dir2" if storage == "local" else "local"
        # bare: the same image, the same two directories, the same direction
        copy = os.path.join(dirs[other], "bench-bare-copy.raw")
        sh("sync")
        b = timed("qemu-img", "convert", "-p", "-f", "raw", "-O", "raw", path, copy)
        sh("sync")
        t = time.perf_counter()
        os.unlink(copy)  # what delete=1 does to the source, for the breakdown
        rm = time.perf_counter() - t
        sh("sync")
        a = run_task(node, "POST", "/nodes/bench/qemu/100/move_disk", {"disk": "scsi0", "storage": other, "delete": 1}, timeout=300)
        moved_to, new_path = paths.disk(100)
        if moved_to != other or os.path.exists(path):
            raise RuntimeError(f"move_disk round {i}: disk on '{moved_to}' ({new_path}), source {path} still there: {os.path.exists(path)}")
        print(f"[storage-bench] move {'warm-up' if i == 0 else f'round {i}/{rounds}'}: API {a:.3f} s, bare {b:.3f} s (+ rm {rm:.3f} s)",
              file=sys.stderr)
        if i > 0:
            api.append(a), bare.append(b), bare_rm.append(b + rm)
    a, b, brm = median(api), median(bare), median(bare_rm)
    fstype = sh("findmnt", "-n", "-o", "FSTYPE", "-T", dirs["dir2"]).strip()
    return {
        "image_mib": IMAGE_MIB, "data_mib": DATA_MIB, "rounds": rounds, "filesystem": fstype,
        "api_seconds": api, "bare_seconds": bare, "bare_with_rm_seconds": bare_rm,
        "api_mib_s": IMAGE_MIB / a, "bare_mib_s": IMAGE_MIB / b, "ratio": b / a,
        "bare_with_rm_mib_s": IMAGE_MIB / brm, "ratio_with_rm": brm / a,
        "target": f">= {MOVE_TARGET} against convert + rm", "met": brm / a >= MOVE_TARGET,
    }


class LoopBtrfs:
    """A btrfs on a 2 GiB sparse file through a loop device; always unmounted and detached on exit."""

    def __init__(self, tmp):
        self.image, self.mnt, self.dev, self.mounted = os.path.join(tmp, "btrfs.img"), os.path.join(tmp, "btrfs"), None, False

    def __enter__(self):
        try:
            sh("truncate", "-s", "2G", self.image)
            self.dev = sh("losetup", "--find", "--show", self.image).strip()
            sh("mkfs.btrfs", "-q", "-f", self.dev)
            os.makedirs(self.mnt)
            sh("mount", self.dev, self.mnt)
            self.mounted = True
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.mounted:
            subprocess.run(["sync"])
            if subprocess.run(["umount", self.mnt], capture_output=True).returncode != 0:
                print(f"[storage-bench] umount {self.mnt} failed, unmounting lazily", file=sys.stderr)
                subprocess.run(["umount", "-l", self.mnt], capture_output=True)
            self.mounted = False
        if self.dev:
            r = subprocess.run(["losetup", "-d", self.dev], capture_output=True, text=True)
            if r.returncode != 0:
                print(f"[storage-bench] losetup -d {self.dev}: {r.stderr.strip()}", file=sys.stderr)
            self.dev = None
        return False


def bench_btrfs(node, tmp, rounds):
    missing = [t for t in ("mkfs.btrfs", "btrfs", "losetup") if not shutil.which(t)]
    if missing:
        return {"skipped": f"{', '.join(missing)} not found (apt-get install btrfs-progs)"}
    if os.geteuid() != 0:
        return {"skipped": "needs root (loop device, mount)"}
    paths = Paths(node)
    out = {"note": "API figures include the HTTP call, task creation and 5 ms status polling; "
                   "corrald's snapshot also runs a global sync() (the benchmark syncs before every timed step)"}
    with LoopBtrfs(tmp) as fs:
        # the bare subvolume: a 1 GiB file with DATA_MIB of random data; the VMs' disks get the same extents (reflink)
        bare = os.path.join(fs.mnt, "bench-bare")
        sh("btrfs", "subvolume", "create", bare)
        bare_disk = os.path.join(bare, "disk.raw")
        sh("truncate", "-s", f"{IMAGE_MIB}M", bare_disk)
        fill(bare_disk)
        api_reason = None
        try:
            node.call("POST", "/storage", {"storage": "bt", "type": "btrfs", "path": fs.mnt, "content": "images,rootdir"})
        except RuntimeError as e:
            api_reason = f"corrald has no btrfs storage: {str(e)[:300]}"
        if api_reason is None:
            for vmid in (200, 201):
                run_task(node, "POST", "/nodes/bench/qemu", {"vmid": vmid, "memory": 64, "scsi0": "bt:1"})
                storage, disk = paths.disk(vmid)
                sh("cp", "--reflink=always", bare_disk, disk)
            run_task(node, "POST", "/nodes/bench/qemu/201/template")
        snap_api, snap_bare, clone_api, clone_bare = [], [], [], []
        keep = lambda samples, i, x: samples.append(x) if i > 0 else None  # round 0 warms up and is not counted
        for i in range(rounds + 1):
            if api_reason is None:
                sh("sync")
                keep(snap_api, i, run_task(node, "POST", "/nodes/bench/qemu/200/snapshot", {"snapname": f"s{i}"}))
            sh("sync")
            keep(snap_bare, i, timed("btrfs", "subvolume", "snapshot", "-r", bare, f"{bare}@s{i}"))
            if api_reason is None:
                sh("sync")
                keep(clone_api, i, run_task(node, "POST", "/nodes/bench/qemu/201/clone", {"newid": 300 + i, "full": 0}))
            sh("sync")
            keep(clone_bare, i, timed("btrfs", "subvolume", "snapshot", bare, os.path.join(fs.mnt, f"bench-clone-{i}")))
        if api_reason is None:
            # the clones really are linked: their disks are subvolumes on bt sharing the base's extents
            storage, disk = paths.disk(300)
            if storage != "bt":
                raise RuntimeError(f"the linked clone 300 has its disk on '{storage}', not on bt")
        for name, api, bare_s in (("snapshot", snap_api, snap_bare), ("linked_clone", clone_api, clone_bare)):
            row = {"bare_ms": median(bare_s) * 1000, "bare_seconds": bare_s}
            if api_reason is None:
                row.update(api_ms=median(api) * 1000, api_seconds=api, ratio=median(api) / median(bare_s))
            out[name] = row
        if api_reason:
            out["api_skipped"] = api_reason
        # the VMs on bt go before the file system does
        if api_reason is None:
            for vmid in [300 + i for i in range(rounds + 1)] + [200, 201]:
                try:
                    run_task(node, "DELETE", f"/nodes/bench/qemu/{vmid}")
                except Exception as e:
                    print(f"[storage-bench] could not remove VM {vmid}: {e}", file=sys.stderr)
    return out


def report(results):
    m = results["move_disk"]
    print(f"\nStorage benchmark, median of {results['rounds']} rounds; corrald {results['corrald']}; "
          f"{results['host']['cpus']} CPUs, {results['host']['kernel']}")
    print(f"{'':34}{'corral API':>12}{'bare':>12}{'ratio':>8}   target")
    if "skipped" in m:
        print(f"{'move_disk dir->dir MiB/s':34}  skipped: {m['skipped']}")
    else:
        print(f"{'move_disk dir->dir MiB/s':34}{m['api_mib_s']:12.1f}{m['bare_with_rm_mib_s']:12.1f}{m['ratio_with_rm']:8.2f}   "
              f">= {MOVE_TARGET} vs convert + rm (the same work) {'ok' if m['met'] else 'MISSED'}")
        print(f"{'  bare convert alone':34}{'':12}{m['bare_mib_s']:12.1f}{m['ratio']:8.2f}   "
              f"(without freeing the source)")
        print(f"  ({IMAGE_MIB} MiB raw image, {DATA_MIB} MiB random data, both dirs on {m['filesystem']}; bare: qemu-img convert "
              f"-p -f raw -O raw; median seconds {statistics.median(m['api_seconds']):.3f} API vs {statistics.median(m['bare_seconds']):.3f})")
    lm = results.get("live_move", {})
    if "skipped" in lm:
        print(f"{'live move_disk (running VM)':34}  skipped: {lm['skipped']}")
    elif lm:
        print(f"{'live move_disk (running VM) s':34}{lm['median_s']:12.2f}   ({IMAGE_MIB} MiB disk, {DATA_MIB} MiB data, libvirt block mirror)")
    b = results["btrfs"]
    if "skipped" in b:
        print(f"{'btrfs snapshot ms':34}  skipped: {b['skipped']}")
        print(f"{'btrfs linked clone ms':34}  skipped: {b['skipped']}")
    else:
        for key, label in (("snapshot", "btrfs VM snapshot ms"), ("linked_clone", "btrfs linked clone ms")):
            row = b[key]
            api = f"{row['api_ms']:12.1f}" if "api_ms" in row else f"{'skipped':>12}"
            ratio = f"{row['ratio']:8.2f}" if "ratio" in row else f"{'':8}"
            print(f"{label:34}{api}{row['bare_ms']:12.1f}{ratio}   (API/bare time; API includes task overhead)")
        if "api_skipped" in b:
            print(f"  btrfs API rows skipped: {b['api_skipped']}")
        else:
            print(f"  bare: btrfs subvolume snapshot [-r] of a subvolume with the same 1 GiB file; {b['note']}")
    if results.get("json"):
        print(f"figures written to {results['json']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=".build/release")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--json", default=".build/bench/storage_bench.json", help="where the figures go ('' for nowhere)")
    args = ap.parse_args()
    for tool in ("qemu-img", "openssl", "dd", "sync"):
        if not shutil.which(tool):
            raise SystemExit(f"required tool '{tool}' not found")
    binary, results, tmp, node = start_node(args, "storage", "corral-storagebench-")
    failed = False
    try:
        started = time.monotonic()
        try:
            results["move_disk"] = bench_move(node, tmp, args.rounds)
        except Exception as e:
            failed = True
            results["move_disk"] = {"skipped": f"failed: {e}"}
        try:
            results["live_move"] = bench_live_move(node, min(args.rounds, 5))
        except Exception as e:
            failed = True
            results["live_move"] = {"skipped": f"failed: {e}"}
        try:
            results["btrfs"] = bench_btrfs(node, tmp, args.rounds)
        except Exception as e:
            failed = True
            results["btrfs"] = {"skipped": f"failed: {e}"}
        results["seconds"] = round(time.monotonic() - started, 1)
    finally:
        node.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
        results["json"] = args.json
    report(results)
    if failed:
        node.log.seek(0)
        print("\n[storage-bench] a measurement failed; last lines of corrald.log:\n" + "".join(node.log.readlines()[-20:]), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""ClusterFS through FUSE against floors measured in the same run: a minimal C FUSE filesystem
(Tests/Bench/minfuse.c, libfuse3 defaults, single-threaded) and tmpfs in /dev/shm.

Starts its own corrald (--local, temp data dir, loopback port 0), then times, through the mount and
through tmpfs: 1 KiB config create-write-close, reads of a 1 KiB file, write-temp-then-rename updates, and
one 512 KiB file written in 512 B chunks. Prints a table with ratios. Only local files; no network.
"""
import argparse, os, random, re, shutil, signal, subprocess, sys, tempfile, time


def bench_ops(directory, seconds):
    results = {}
    payload = b"x" * 1024
    # create-write-close of new 1 KiB files
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        with open(os.path.join(directory, f"c{n}.cfg"), "wb") as f:
            f.write(payload)
        n += 1
    results["create-write-close 1 KiB /s"] = n / (time.perf_counter() - start)
    # write-temp-then-rename updates of one file (how PVE tools replace configs)
    target = os.path.join(directory, "update.cfg")
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        tmp = target + ".tmp"
        with open(tmp, "wb") as f:
            f.write(payload)
        os.rename(tmp, target)
        n += 1
    results["write+rename 1 KiB /s"] = n / (time.perf_counter() - start)
    # reads
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        with open(target, "rb") as f:
            f.read()
        n += 1
    results["read 1 KiB /s"] = n / (time.perf_counter() - start)
    # one 512 KiB file in 512 B chunks
    start = time.perf_counter()
    with open(os.path.join(directory, "chunks.cfg"), "wb", buffering=0) as f:
        for _ in range(1024):
            f.write(b"y" * 512)
    results["512 KiB in 512 B chunks (ms)"] = (time.perf_counter() - start) * 1000
    return results


def many_files(directory, count, samples):
    """Writes `count` 1 KiB files (flat: the minimal filesystem has no subdirectories), then times
    `samples` open-read-close calls of files chosen at random. Returns (p50, p99) in microseconds."""
    payload = b"z" * 1024
    for n in range(count):
        with open(os.path.join(directory, f"m{n}.cfg"), "wb") as f:
            f.write(payload)
    # what the writes left to the kernel (ClusterFS's database, dirty pages) is written out first, so
    # the reads are timed on a quiet machine for every filesystem alike
    os.sync()
    time.sleep(2)
    rng = random.Random(7)
    times = []
    for _ in range(samples):
        path = os.path.join(directory, f"m{rng.randrange(count)}.cfg")
        start = time.perf_counter_ns()
        with open(path, "rb") as f:
            data = f.read()
        times.append(time.perf_counter_ns() - start)
        if len(data) != 1024:
            raise SystemExit(f"short read of {path}: {len(data)} bytes")
    times.sort()
    return times[len(times) // 2] / 1000, times[len(times) * 99 // 100] / 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--corrald", default=".build/release/corrald")
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "5")))
    parser.add_argument("--files", type=int, default=int(os.environ.get("BENCH_FILES", "100000")),
                        help="files for the random open-read-close row (0 skips it)")
    parser.add_argument("--samples", type=int, default=20000)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="corral-cfs-bench.")
    here = os.path.dirname(os.path.abspath(__file__))
    minfuse_bin = work + "/minfuse"
    minfuse_mount = work + "/minfuse-mnt"
    os.makedirs(minfuse_mount)
    subprocess.run(["gcc", "-O2", "-o", minfuse_bin, here + "/minfuse.c"] +
                   subprocess.run(["pkg-config", "--cflags", "--libs", "fuse3"], capture_output=True, text=True).stdout.split(),
                   check=True)
    minfuse = subprocess.Popen([minfuse_bin, "-f", "-s", minfuse_mount])
    floor = tempfile.mkdtemp(prefix="corral-cfs-floor.", dir="/dev/shm")
    proc = subprocess.Popen([args.corrald, "--local", "--data-dir", work + "/node", "--listen", "127.0.0.1:0",
                             "--nodename", "bench", "--config", "/dev/null"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            if re.search(r"\(ports \d+\)", line):
                break
        mount = work + "/node/pve"
        if not os.path.ismount(mount):
            print("clusterfs bench: corrald did not mount", mount, file=sys.stderr)
            return 1
        for _ in range(100):
            if os.path.ismount(minfuse_mount):
                break
            time.sleep(0.05)
        fuse = bench_ops(mount, args.seconds)
        minimal = bench_ops(minfuse_mount, args.seconds)
        tmp = bench_ops(floor, args.seconds)
        many = {}
        if args.files:
            for name, directory in (("ClusterFS", mount), ("min FUSE", minfuse_mount), ("tmpfs", floor)):
                many[name] = many_files(directory, args.files, args.samples)
        versions = open(mount + "/.version").read()
        print()
        print(f"{'ClusterFS metric':34} {'ClusterFS':>10} {'min FUSE':>10} {'tmpfs':>10} {'ratio':>7}   target")
        for key in fuse:
            lower_is_better = key.endswith("(ms)")
            ratio = (minimal[key] / fuse[key]) if lower_is_better else (fuse[key] / minimal[key])
            target = {"create-write-close 1 KiB /s": ">= 0.8", "write+rename 1 KiB /s": ">= 0.9", "read 1 KiB /s": ">= 1.3"}.get(key, "")
            print(f"{key:34} {fuse[key]:10.1f} {minimal[key]:10.1f} {tmp[key]:10.1f} {ratio:7.3f}   {target}")
        if many:
            key = f"random open-read-close of {args.files} files"
            for i, label in ((0, "p50 (us)"), (1, "p99 (us)")):
                values = [many[name][i] for name in ("ClusterFS", "min FUSE", "tmpfs")]
                target = "ClusterFS < 100 us" if i == 0 else ""
                print(f"{key + ', ' + label:34} {values[0]:10.1f} {values[1]:10.1f} {values[2]:10.1f} {values[1] / values[0]:7.3f}   {target}")
        print("(ratio: ClusterFS relative to the minimal FUSE filesystem; for the ms and us rows, its time / ours)")
        print("global version after the run:", re.search(r'"vmlist": (\d+)', versions).group(1))
        return 0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        subprocess.run(["umount", "-l", work + "/node/pve"], stderr=subprocess.DEVNULL)
        minfuse.terminate()
        subprocess.run(["fusermount3", "-u", minfuse_mount], stderr=subprocess.DEVNULL)
        try:
            minfuse.wait(timeout=5)
        except subprocess.TimeoutExpired:
            minfuse.kill()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(floor, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

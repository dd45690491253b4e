#!/usr/bin/env python3
"""Backup and restore through the API against the bare tools doing the same work, in the same run.

Starts its own corrald (--local, temp data dir, loopback port 0, libvirt domain prefix corral-backupbench-;
the node of vm_bench.py) and measures, each the median of --rounds rounds after one uncounted warm-up round:
  1. vzdump of a stopped VM: its 1 GiB qcow2 disk holds 512 MiB of random data (imported with
     `POST /nodes/bench/qemu scsi0=local:0,import-from=/abs/path.qcow2,format=qcow2` as root@pam).
     `POST /nodes/bench/vzdump vmid=N storage=local compress=zstd mode=stop`, from the call to its task's
     end (status polled every 5 ms on one keep-alive connection), against bare `qemu-img convert -f qcow2
     -O raw disk tmp.raw && zstd -q -T0 tmp.raw -o tmp.raw.zst` (timed together) and bare `zstd -q -T0`
     alone of a raw copy made beforehand (the compression floor). Also `compress=0` against bare
     `qemu-img convert -f qcow2 -O raw` alone. MiB/s of the 1 GiB disk and API/peer ratios.
  2. restore: `POST /nodes/bench/qemu vmid=M archive=local:backup/<the .vma.zst>` (task) against bare
     `zstd -d -c archive > /dev/null` plus `qemu-img convert -f raw -O qcow2 tmp.raw new.qcow2`, timed
     together. The restored VM is destroyed between rounds. MiB/s and ratio.
  3. the archive's size against the 512 MiB of random data, and the zero share the vzdump task log reports
     (`backup is sparse: …`).
`sync` runs (untimed) before every timed step; archives and temp files are removed between rounds. Only
loopback; needs root (root@pam's ticket for the host-path import), qemu-img and zstd. Writes the figures
as JSON (--json).
    python3 Tests/Bench/backup_bench.py --bin .build/release [--rounds 3] [--json .build/bench/backup_bench.json]
"""
import argparse, datetime, glob, json, os, platform, re, shutil, subprocess, sys, tempfile, time, urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vm_bench  # noqa: E402
from vm_bench import Node, cleanup_domains  # noqa: E402  (the same throw-away node)
from storage_bench import Paths, sh, start_node, timed  # noqa: E402
from automation_bench import KeepAlive, as_root, median  # noqa: E402

vm_bench.PREFIX = "corral-backupbench-"  # Node and cleanup_domains read it: this bench's domains only
IMAGE_MIB = 1024  # the VM disk's virtual size
DATA_MIB = 512  # random data written into it
BACKUP_VMID, RESTORE_VMID = 180, 181


def log(text):
    print(f"[backup-bench] {text}", file=sys.stderr)


class Client(KeepAlive):
    """KeepAlive that remembers the last non-GET answer (a task's UPID) for reading its log afterwards."""

    def call(self, method, path, params=None):
        data = super().call(method, path, params)
        if method != "GET":
            self.last = data
        return data

    def task_log(self, upid):
        quoted = urllib.parse.quote(upid, safe="")
        return [line["t"] for line in self.call("GET", f"/nodes/bench/tasks/{quoted}/log", {"limit": 10000})]


def mib_s(seconds):
    return IMAGE_MIB / seconds


def archives(dump, vmid, suffix):
    return sorted(glob.glob(os.path.join(dump, f"vzdump-qemu-{vmid}-*{suffix}")))


def remove_backups(dump, vmid):
    """Every file vzdump left for this VM (archive, .log, .notes), removed."""
    for path in glob.glob(os.path.join(dump, f"vzdump-qemu-{vmid}-*")):
        os.unlink(path)


def unlink(*paths):
    for path in paths:
        if os.path.exists(path):
            os.unlink(path)


def vzdump(client, dump, compress, suffix):
    """One timed vzdump of the backup VM; returns (seconds, archive path, task log lines)."""
    remove_backups(dump, BACKUP_VMID)
    sh("sync")
    seconds = client.task("POST", "/nodes/bench/vzdump",
                          {"vmid": BACKUP_VMID, "storage": "local", "compress": compress, "mode": "stop"}, timeout=600)
    lines = client.task_log(client.last)
    found = archives(dump, BACKUP_VMID, suffix)
    if len(found) != 1:
        raise RuntimeError(f"vzdump compress={compress}: expected one vzdump-qemu-{BACKUP_VMID}-*{suffix} in {dump}, "
                           f"found {os.listdir(dump)}")
    return seconds, found[0], lines


def sparse_line(lines):
    """'backup is sparse: 512.00 MiB (50%) total zero data' -> (the text, the percentage)."""
    for line in lines:
        if "backup is sparse:" in line:
            m = re.search(r"\((\d+)%\)", line)
            return line.split("backup is sparse:", 1)[1].strip(), int(m.group(1)) if m else None
    return None, None


def bench_backup(node, tmp, rounds):
    paths = Paths(node)
    local = node.call("GET", "/storage/local")["path"]
    dump = os.path.join(local, "dump")
    os.makedirs(dump, exist_ok=True)
    random_raw, source = os.path.join(tmp, "random.raw"), os.path.join(tmp, "backup-source.qcow2")
    sh("dd", "if=/dev/urandom", f"of={random_raw}", "bs=1M", f"count={DATA_MIB}", "status=none")
    sh("qemu-img", "create", "-q", "-f", "qcow2", source, f"{IMAGE_MIB}M")
    sh("qemu-img", "convert", "-n", "-f", "raw", "-O", "qcow2", random_raw, source)
    os.unlink(random_raw)
    # the bare side's files, next to the archives (the same file system and directory)
    peer_raw, peer_zst = os.path.join(dump, "bench-peer.raw"), os.path.join(dump, "bench-peer.raw.zst")
    floor_raw, floor_zst = os.path.join(dump, "bench-floor.raw"), os.path.join(dump, "bench-floor.raw.zst")
    peer_qcow2 = os.path.join(dump, "bench-peer-restore.qcow2")
    client = Client(node)
    out = {"image_mib": IMAGE_MIB, "data_mib": DATA_MIB, "rounds": rounds}
    with as_root(node):  # import-from with a host path is root@pam's
        try:
            client.task("POST", "/nodes/bench/qemu",
                        {"vmid": BACKUP_VMID, "memory": 64, "scsi0": f"local:0,import-from={source},format=qcow2"}, timeout=600)
            os.unlink(source)
            storage, disk = paths.disk(BACKUP_VMID)
            info = json.loads(sh("qemu-img", "info", "--output=json", disk))
            if storage != "local" or info["format"] != "qcow2" or info["virtual-size"] != IMAGE_MIB << 20:
                raise RuntimeError(f"the imported disk is {disk} on '{storage}': {info['format']}, {info['virtual-size']} bytes")
            sh("qemu-img", "convert", "-f", "qcow2", "-O", "raw", disk, floor_raw, timeout=300)

            # 1. vzdump compress=zstd against convert + zstd, and zstd alone
            api, peer, floor, sizes, zero = [], [], [], [], []
            kept = None
            for i in range(rounds + 1):  # round 0 warms up and is not counted
                a, archive, lines = vzdump(client, dump, "zstd", ".vma.zst")
                size = os.path.getsize(archive)
                text, percent = sparse_line(lines)
                if i == 0:  # once: the archive holds the disk's data (the restore below checks the disk)
                    sh("zstd", "-q", "-t", archive, timeout=300)
                kept = os.path.join(tmp, "kept.vma.zst")  # the last archive, restored below
                shutil.move(archive, kept)
                remove_backups(dump, BACKUP_VMID)
                sh("sync")
                t = time.perf_counter()
                sh("qemu-img", "convert", "-f", "qcow2", "-O", "raw", disk, peer_raw, timeout=300)
                sh("zstd", "-q", "-T0", peer_raw, "-o", peer_zst, timeout=300)
                b = time.perf_counter() - t
                unlink(peer_raw, peer_zst)
                sh("sync")
                f = timed("zstd", "-q", "-T0", floor_raw, "-o", floor_zst)
                floor_size = os.path.getsize(floor_zst)
                unlink(floor_zst)
                log(f"vzdump zstd {'warm-up' if i == 0 else f'round {i}/{rounds}'}: API {a:.3f} s, convert+zstd {b:.3f} s, "
                    f"zstd alone {f:.3f} s; archive {size / 2**20:.1f} MiB, sparse: {text}")
                if i > 0:
                    api.append(a), peer.append(b), floor.append(f), sizes.append(size), zero.append(percent)
            a, b, f = median(api), median(peer), median(floor)
            out["zstd"] = {"api_seconds": api, "peer_seconds": peer, "zstd_only_seconds": floor,
                           "api_mib_s": mib_s(a), "peer_mib_s": mib_s(b), "zstd_only_mib_s": mib_s(f),
                           "ratio": b / a, "ratio_zstd_only": f / a}
            out["archive"] = {"bytes": sizes[-1], "mib": sizes[-1] / 2**20, "vs_data": sizes[-1] / (DATA_MIB << 20),
                              "zero_percent": zero[-1], "sparse_line": text, "bare_zstd_of_raw_mib": floor_size / 2**20}
            shutil.move(kept, os.path.join(dump, os.path.basename(archive)))
            archive = os.path.join(dump, os.path.basename(archive))

            # 1b. vzdump compress=0 against qemu-img convert alone
            api0, peer0 = [], []
            for i in range(rounds + 1):
                sh("sync")
                a, vma, _ = vzdump_keep(client, dump, archive)
                unlink(vma)
                sh("sync")
                b = timed("qemu-img", "convert", "-f", "qcow2", "-O", "raw", disk, peer_raw)
                unlink(peer_raw)
                log(f"vzdump compress=0 {'warm-up' if i == 0 else f'round {i}/{rounds}'}: API {a:.3f} s, qemu-img convert {b:.3f} s")
                if i > 0:
                    api0.append(a), peer0.append(b)
            a, b = median(api0), median(peer0)
            out["uncompressed"] = {"api_seconds": api0, "peer_seconds": peer0, "api_mib_s": mib_s(a), "peer_mib_s": mib_s(b), "ratio": b / a}

            # 2. restore against zstd -d + qemu-img convert -f raw -O qcow2
            volid = "local:backup/" + os.path.basename(archive)
            apir, peerr = [], []
            for i in range(rounds + 1):
                sh("sync")
                a = client.task("POST", "/nodes/bench/qemu", {"vmid": RESTORE_VMID, "archive": volid}, timeout=600)
                storage, restored = paths.disk(RESTORE_VMID)
                if i == 0:  # once: the restored disk holds what the backed-up disk holds
                    sh("qemu-img", "compare", "-q", disk, restored, timeout=300)
                    out["restored_format"] = json.loads(sh("qemu-img", "info", "--output=json", restored))["format"]
                client.task("DELETE", f"/nodes/bench/qemu/{RESTORE_VMID}", {"purge": 1})
                if os.path.exists(restored):
                    raise RuntimeError(f"VM {RESTORE_VMID} destroyed, its disk {restored} is still there")
                sh("sync")
                t = time.perf_counter()
                timed("zstd", "-q", "-d", "-c", archive)  # its stdout to /dev/null
                sh("qemu-img", "convert", "-f", "raw", "-O", "qcow2", floor_raw, peer_qcow2, timeout=300)
                b = time.perf_counter() - t
                unlink(peer_qcow2)
                log(f"restore {'warm-up' if i == 0 else f'round {i}/{rounds}'}: API {a:.3f} s, zstd -d + qemu-img convert {b:.3f} s")
                if i > 0:
                    apir.append(a), peerr.append(b)
            a, b = median(apir), median(peerr)
            out["restore"] = {"api_seconds": apir, "peer_seconds": peerr, "api_mib_s": mib_s(a), "peer_mib_s": mib_s(b), "ratio": b / a}
            return out
        finally:
            for vmid in (RESTORE_VMID, BACKUP_VMID):
                try:
                    node.call("GET", f"/nodes/bench/qemu/{vmid}/config")
                except RuntimeError:
                    continue  # not there
                try:
                    client.task("DELETE", f"/nodes/bench/qemu/{vmid}", {"purge": 1})
                except Exception as e:
                    log(f"could not remove VM {vmid}: {e}")
            client.close()
            remove_backups(dump, BACKUP_VMID)
            unlink(source, random_raw, peer_raw, peer_zst, floor_raw, floor_zst, peer_qcow2, os.path.join(tmp, "kept.vma.zst"))


def vzdump_keep(client, dump, keep):
    """vzdump compress=0 with the .vma.zst kept for the restore rounds aside: (seconds, the .vma, log lines)."""
    seconds = client.task("POST", "/nodes/bench/vzdump",
                          {"vmid": BACKUP_VMID, "storage": "local", "compress": 0, "mode": "stop"}, timeout=600)
    lines = client.task_log(client.last)
    found = archives(dump, BACKUP_VMID, ".vma")
    if len(found) != 1:
        raise RuntimeError(f"vzdump compress=0: expected one vzdump-qemu-{BACKUP_VMID}-*.vma in {dump}, found {os.listdir(dump)}")
    for extra in glob.glob(os.path.join(dump, f"vzdump-qemu-{BACKUP_VMID}-*")):
        if extra not in (found[0], keep):
            os.unlink(extra)  # this run's .log
    return seconds, found[0], lines


def report(results):
    print(f"\nBackup benchmark, median of {results['rounds']} rounds after a warm-up; corrald {results['corrald']}; "
          f"{results['host']['cpus']} CPUs, {results['host']['kernel']}")
    print(f"{'':44}{'corral API':>12}{'peer':>12}{'ratio':>8}   (MiB/s of the {IMAGE_MIB} MiB disk; ratio API/peer MiB/s)")
    b = results["backup"]
    if "skipped" in b:
        print(f"{'vzdump / restore':44}  skipped: {b['skipped']}")
    else:
        z, u, r, a = b["zstd"], b["uncompressed"], b["restore"], b["archive"]
        print(f"{'vzdump zstd (stopped VM) vs convert+zstd':44}{z['api_mib_s']:12.1f}{z['peer_mib_s']:12.1f}{z['ratio']:8.2f}   "
              f"peer: qemu-img convert -f qcow2 -O raw && zstd -q -T0")
        print(f"{'  vs zstd -T0 alone of a raw copy':44}{'':12}{z['zstd_only_mib_s']:12.1f}{z['ratio_zstd_only']:8.2f}   (the compression floor)")
        print(f"{'vzdump compress=0 vs qemu-img convert':44}{u['api_mib_s']:12.1f}{u['peer_mib_s']:12.1f}{u['ratio']:8.2f}   "
              f"peer: qemu-img convert -f qcow2 -O raw")
        print(f"{'restore .vma.zst vs zstd -d + convert':44}{r['api_mib_s']:12.1f}{r['peer_mib_s']:12.1f}{r['ratio']:8.2f}   "
              f"peer: zstd -d -c >/dev/null + qemu-img convert -f raw -O qcow2")
        print(f"  archive {a['mib']:.1f} MiB for {DATA_MIB} MiB of random data ({a['vs_data']:.3f}x; bare zstd of the raw disk "
              f"{a['bare_zstd_of_raw_mib']:.1f} MiB); task log: backup is sparse: {a['sparse_line']} (zero share {a['zero_percent']}%)")
        print(f"  median seconds: vzdump zstd {median(z['api_seconds']):.3f} vs {median(z['peer_seconds']):.3f} "
              f"(zstd alone {median(z['zstd_only_seconds']):.3f}); compress=0 {median(u['api_seconds']):.3f} vs {median(u['peer_seconds']):.3f}; "
              f"restore {median(r['api_seconds']):.3f} vs {median(r['peer_seconds']):.3f} (restored disk: {b.get('restored_format')})")
    if results.get("json"):
        print(f"figures written to {results['json']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=".build/release")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default=".build/bench/backup_bench.json", help="where the figures go ('' for nowhere)")
    args = ap.parse_args()
    for tool in ("qemu-img", "zstd", "openssl", "dd", "sync"):
        if not shutil.which(tool):
            raise SystemExit(f"required tool '{tool}' not found")
    if os.geteuid() != 0:
        raise SystemExit("run as root (the node's mount, root@pam's ticket)")
    if shutil.which("virsh"):
        cleanup_domains()
    binary, results, tmp, node = start_node(args, "backup", "corral-backupbench-")
    failed = []
    try:
        started = time.monotonic()
        try:
            results["backup"] = bench_backup(node, tmp, args.rounds)
        except Exception as e:
            failed.append("backup")
            results["backup"] = {"skipped": f"failed: {e}"}
        results["seconds"] = round(time.monotonic() - started, 1)
    finally:
        if shutil.which("virsh"):
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
    errors = [line for line in corrald_log if re.search(r"error|fail|warn", line, re.I)]
    if errors:
        print(f"\n[backup-bench] corrald.log lines naming an error or warning ({len(errors)}):\n" + "".join(errors[-20:]), file=sys.stderr)
    if failed:
        print(f"\n[backup-bench] failed: {', '.join(failed)}; last lines of corrald.log:\n" + "".join(corrald_log[-20:]), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

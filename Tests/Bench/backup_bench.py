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
  4. incremental forever, into a deduplicating store (`POST /storage storage=dedupbenchN type=dedup path=<dir>
     content=backup`; 4 MiB chunks by SHA-256, each zstd-compressed, in <dir>/.chunks/xx/<sha256>). Runs after
     1-3 (it changes the disk), with a fresh store every round, --rounds rounds after one uncounted warm-up,
     like the others (estimated 15-25 s a round on a 2-core VM: under 2 minutes with --rounds 3). Each round:
     a. a full backup (`POST /nodes/bench/vzdump vmid=N storage=dedupbenchN mode=stop remove=0`, from the
        call to its task's end) against bare `zstd -q -T0` of the raw copy of the same disk (the compression
        floor of section 1), timed in the same round: MiB/s of the 1 GiB disk and API/peer ratio (the target
        is >= 0.9), and the bytes the store's .chunks holds afterwards (the sum of its files' sizes).
     b. 13 chunks of 4 MiB (52 MiB, 5 % of the disk), at offsets spread over the random half, overwritten
        with fresh random data through `qemu-io -f qcow2 -c 'write -s FILE OFFSET 4M'` (the VM stopped; a
        different file per chunk, else the store would see one chunk 13 times; the raw copy gets the same
        bytes, so the peer keeps compressing the disk's data). A qemu-io whose write has no -s gets a
        different `-P` pattern per chunk instead (compressible: the store then grows by far less than
        52 MiB; results name the method). Then an incremental backup into the same store: MiB/s, the growth
        of .chunks in bytes, against the disk and against the full backup's stored bytes (the zero half
        of the disk is never stored, so that share is about 10 %, not 5 %), and `newBytes` of its manifest.
     c. `POST /nodes/bench/qemu vmid=M archive=dedupbenchN:backup/vm/N/<time>` of the incremental (task):
        MiB/s alone (no bare peer), and `qemu-img compare -f qcow2 -F <fmt>` of the changed source disk
        and the restored one: not identical fails the section.
     The restored VM is destroyed and the storage removed (`DELETE /storage/dedupbenchN`, its directory
     deleted) at the end of every round.
`sync` runs (untimed) before every timed step; archives and temp files are removed between rounds. Only
loopback; needs root (root@pam's ticket for the host-path import), qemu-img and zstd (and qemu-io for
section 4). Writes the figures as JSON (--json); a section that fails is reported as skipped with its reason.
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
DEDUP_STORAGE = "dedupbench"  # section 4's storage ID, the round's number appended
CHUNK_MIB = 4  # the dedup store's fixed chunk size for disks
CHANGED_CHUNKS = 13  # 13 x 4 MiB = 52 MiB: 5 % of the 1 GiB disk
DEDUP_TARGET = 0.9  # a full backup into the dedup store at >= 0.9x the MiB/s of zstd -T0 of the same data


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

            # 4. incremental forever into a dedup store: last, as it changes the disk (and the raw copy with it).
            # Its own section: a failure here keeps 1-3's figures (main() moves this to results["dedup"]).
            try:
                out["dedup"] = bench_dedup(client, paths, disk, floor_raw, floor_zst, tmp, rounds)
            except Exception as e:
                log(f"dedup section failed: {e}")
                out["dedup"] = {"skipped": f"failed: {e}"}
                if isinstance(e, NotIdentical):
                    out["dedup"]["identical"] = False
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


def changed_offsets():
    """CHANGED_CHUNKS chunk-aligned offsets spread evenly over the random data (the disk's first DATA_MIB)."""
    slots = DATA_MIB // CHUNK_MIB
    return [(i * slots // CHANGED_CHUNKS) * (CHUNK_MIB << 20) for i in range(CHANGED_CHUNKS)]


def chunk_bytes(store):
    """The sum of the sizes of the files in the store's .chunks (what the chunks take, without directories)."""
    total = 0
    for root, _, files in os.walk(os.path.join(store, ".chunks")):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_size
    return total


def qemu_io_writes_from_file():
    """Whether qemu-io's write takes -s source_file (QEMU 7.2's does)."""
    r = subprocess.run(["qemu-io", "-c", "help write"], capture_output=True, text=True, timeout=30)
    return "-s source_file" in r.stdout or re.search(r"^\s*-s,", r.stdout, re.M) is not None


def change_disk(disk, raw_copy, tmp, from_file, salt):
    """Overwrites the CHANGED_CHUNKS chunks at changed_offsets() of the (stopped) VM's qcow2 through qemu-io, and
    the same bytes in the raw copy, which so stays the disk's content. Fresh random data, a file per chunk (one
    file for all would be a single chunk to the store); without `write -s`, a different -P pattern per chunk
    and round (`salt`). Returns the bytes changed."""
    size = CHUNK_MIB << 20
    commands, files = [], []
    try:
        with open(raw_copy, "r+b") as raw:
            for n, offset in enumerate(changed_offsets()):
                if from_file:
                    data = os.urandom(size)
                    path = os.path.join(tmp, f"dedup-change-{n}.bin")
                    with open(path, "wb") as f:
                        f.write(data)
                    files.append(path)
                    commands += ["-c", f"write -q -s {path} {offset} {CHUNK_MIB}M"]
                else:
                    pattern = 1 + (salt * CHANGED_CHUNKS + n) % 255  # never 0 (a zero chunk is not stored)
                    data = bytes([pattern]) * size
                    commands += ["-c", f"write -q -P {pattern} {offset} {CHUNK_MIB}M"]
                raw.seek(offset)
                raw.write(data)
        sh("qemu-io", "-f", "qcow2", *commands, disk, timeout=300)
    finally:
        unlink(*files)
    return CHANGED_CHUNKS * size


def dedup_backups(client, storage, expected):
    """The backup VM's volids on the dedup storage, oldest first (their time stamps sort as text)."""
    content = client.call("GET", f"/nodes/bench/storage/{storage}/content", {"content": "backup"})
    volids = sorted(v["volid"] for v in content if v.get("vmid") == BACKUP_VMID or f"/vm/{BACKUP_VMID}/" in v["volid"])
    if len(volids) != expected:
        raise RuntimeError(f"expected {expected} backup(s) of VM {BACKUP_VMID} on '{storage}', the content lists {volids}")
    return volids


def dedup_manifest(store, volid):
    """<path>/vm/<vmid>/<time>/index.json of a volid <storage>:backup/vm/<vmid>/<time>."""
    path = os.path.join(store, volid.split(":", 1)[1][len("backup/"):], "index.json")
    with open(path) as f:
        return json.load(f)


def dedup_log(lines):
    """The vzdump task log's `backup of … stored … new in …` line (from `backup of`) and the chunk counts of its
    `N chunks were in the store already, K new (…)` line: (text, reused, new); None for what is not there."""
    text = reused = new = None
    for line in lines:
        m = re.search(r"backup of .* stored .* new in .*", line)
        if m:
            text = m.group(0).strip()
        m = re.search(r"(\d+) chunks were in the store already, (\d+) new", line)
        if m:
            reused, new = int(m.group(1)), int(m.group(2))
    return text, reused, new


def dedup_vzdump(client, storage):
    """One timed vzdump of the backup VM into the dedup storage: (seconds, task log lines). remove=0: no prune
    (a storage's prune-backups could otherwise remove the full backup and collect its chunks)."""
    sh("sync")
    seconds = client.task("POST", "/nodes/bench/vzdump", {"vmid": BACKUP_VMID, "storage": storage, "mode": "stop", "remove": 0},
                          timeout=600)
    return seconds, client.task_log(client.last)


def remove_dedup_storage(client, storage, store):
    try:
        client.call("DELETE", f"/storage/{storage}")
    finally:
        shutil.rmtree(store, ignore_errors=True)


class NotIdentical(RuntimeError):
    """The disk restored from the dedup store differs from the source (section 4 fails, reporting identical: false)."""


def bench_dedup(client, paths, disk, raw_copy, raw_zst, tmp, rounds):
    """Section 4 (see the module's docstring): full backup, 5 % changed, incremental backup, restore and compare,
    with a fresh dedup store each round; --rounds rounds after an uncounted warm-up."""
    if not shutil.which("qemu-io"):
        raise RuntimeError("qemu-io not found (it changes the disk between the full and the incremental backup)")
    from_file = qemu_io_writes_from_file()
    if not from_file:
        log("qemu-io's write has no -s source_file: the changed chunks get -P patterns (compressible) instead of random data")
    full, floor, incr, restore = [], [], [], []
    current = None  # (storage ID, directory) while a round's store exists
    try:
        for i in range(rounds + 1):  # round 0 warms up and is not counted
            storage = f"{DEDUP_STORAGE}{i}"
            # a fresh store, in the temp dir: the file system of local's dump/ (the peer's files)
            store = os.path.join(tmp, f"dedup-store-{i}")
            shutil.rmtree(store, ignore_errors=True)
            client.call("POST", "/storage", {"storage": storage, "type": "dedup", "path": store, "content": "backup"})
            current = (storage, store)

            # a. full backup against zstd -T0 of the raw copy (the same data)
            a, lines = dedup_vzdump(client, storage)
            full_end = time.time()
            full_text, full_reused, full_new = dedup_log(lines)
            full_stored = chunk_bytes(store)
            full_manifest = dedup_manifest(store, dedup_backups(client, storage, 1)[0])
            sh("sync")
            f = timed("zstd", "-q", "-T0", raw_copy, "-o", raw_zst)
            unlink(raw_zst)

            # b. 5 % of the disk changed, then an incremental backup into the same store
            changed = change_disk(disk, raw_copy, tmp, from_file, i)
            # a backup's name is its start time to the second: the full one started before full_end
            time.sleep(max(0.0, 1.05 - (time.time() - full_end)))
            b, lines = dedup_vzdump(client, storage)
            incr_text, incr_reused, incr_new = dedup_log(lines)
            grown = chunk_bytes(store) - full_stored
            volid = dedup_backups(client, storage, 2)[-1]
            manifest = dedup_manifest(store, volid)

            # c. restore of the incremental, checked against the changed source disk
            sh("sync")
            r = client.task("POST", "/nodes/bench/qemu", {"vmid": RESTORE_VMID, "archive": volid}, timeout=600)
            _, restored = paths.disk(RESTORE_VMID)
            restored_format = json.loads(sh("qemu-img", "info", "--output=json", restored))["format"]
            compared = subprocess.run(["qemu-img", "compare", "-f", "qcow2", "-F", restored_format, disk, restored],
                                      capture_output=True, text=True, timeout=300)
            if compared.returncode not in (0, 1):  # 0 identical, 1 different, else an error
                raise RuntimeError(f"qemu-img compare exited {compared.returncode}: {(compared.stderr or compared.stdout).strip()[-400:]}")
            identical = compared.returncode == 0
            client.task("DELETE", f"/nodes/bench/qemu/{RESTORE_VMID}", {"purge": 1})
            if os.path.exists(restored):
                raise RuntimeError(f"VM {RESTORE_VMID} destroyed, its disk {restored} is still there")
            remove_dedup_storage(client, storage, store)
            current = None
            if not identical:
                raise NotIdentical(f"round {i}: the disk restored from {volid} is not identical to the changed source "
                                   f"(qemu-img compare: {compared.stdout.strip()[-300:]})")
            log(f"dedup {'warm-up' if i == 0 else f'round {i}/{rounds}'}: full {a:.3f} s, zstd alone {f:.3f} s, "
                f"stored {full_stored / 2**20:.1f} MiB; incremental {b:.3f} s, +{grown / 2**20:.1f} MiB "
                f"(newBytes {manifest.get('newBytes', 0) / 2**20:.1f} MiB); restore {r:.3f} s, identical {identical}")
            if i > 0:
                full.append(a), floor.append(f), incr.append(b), restore.append(r)
    finally:
        if current:
            try:
                remove_dedup_storage(client, *current)
            except Exception as e:
                log(f"could not remove storage {current[0]}: {e}")
    # the byte figures are the last round's (they hardly vary: random data does not compress)
    a, f, b, r = median(full), median(floor), median(incr), median(restore)
    disk_bytes = IMAGE_MIB << 20
    return {
        "rounds": rounds, "store": "fresh each round",
        "change_method": "qemu-io write -s (random data, a file per chunk)" if from_file else "qemu-io write -P (a pattern per chunk)",
        "changed_chunks": CHANGED_CHUNKS, "changed_bytes": changed, "changed_mib": changed / 2**20, "changed_vs_disk": changed / disk_bytes,
        "full": {"api_seconds": full, "peer_seconds": floor, "api_mib_s": mib_s(a), "peer_mib_s": mib_s(f), "ratio": f / a,
                 "target_ratio": DEDUP_TARGET, "meets_target": f / a >= DEDUP_TARGET,
                 "stored_bytes": full_stored, "stored_mib": full_stored / 2**20, "stored_vs_data": full_stored / (DATA_MIB << 20),
                 "manifest_new_bytes": full_manifest.get("newBytes"), "manifest_new_chunks": full_manifest.get("newChunks"),
                 "reused_chunks": full_reused, "new_chunks": full_new, "log": full_text},
        "incremental": {"api_seconds": incr, "api_mib_s": mib_s(b),
                        "growth_bytes": grown, "growth_mib": grown / 2**20, "growth_vs_disk": grown / disk_bytes,
                        "growth_vs_full_stored": grown / full_stored if full_stored else None,
                        "manifest_new_bytes": manifest.get("newBytes"), "manifest_new_mib": (manifest.get("newBytes") or 0) / 2**20,
                        "manifest_new_chunks": manifest.get("newChunks"), "reused_chunks": incr_reused, "new_chunks": incr_new,
                        "log": incr_text},
        "restore": {"api_seconds": restore, "api_mib_s": mib_s(r), "identical": identical, "restored_format": restored_format,
                    "volid": volid},
    }


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
    d = results.get("dedup")
    if d and "skipped" in d:
        print(f"{'dedup store (incremental forever)':44}  skipped: {d['skipped']}")
    elif d:
        fu, inc, rs = d["full"], d["incremental"], d["restore"]
        print(f"{'dedup full backup vs zstd -T0 of a raw copy':44}{fu['api_mib_s']:12.1f}{fu['peer_mib_s']:12.1f}{fu['ratio']:8.2f}   "
              f"target >= {fu['target_ratio']:.2f}x: {'met' if fu['meets_target'] else 'NOT met'} (peer: zstd -q -T0 of the same data)")
        print(f"{'dedup incremental, 5 % of the disk changed':44}{inc['api_mib_s']:12.1f}{'':12}{'':8}   (no peer)")
        print(f"{'dedup restore of the incremental':44}{rs['api_mib_s']:12.1f}{'':12}{'':8}   "
              f"(no peer) identical to the changed source (qemu-img compare): {str(rs['identical']).lower()}")
        print(f"  full: .chunks holds {fu['stored_mib']:.1f} MiB for {DATA_MIB} MiB of random data ({fu['stored_vs_data']:.3f}x; zero chunks "
              f"are not stored), {fu['manifest_new_chunks']} chunks; task log: {fu['log']}")
        growth_full = "n/a" if inc["growth_vs_full_stored"] is None else f"{inc['growth_vs_full_stored'] * 100:.1f} %"
        print(f"  5 %: {d['changed_chunks']} chunks changed, {d['changed_mib']:.0f} MiB ({d['changed_vs_disk'] * 100:.1f} % of the disk; "
              f"{d['change_method']}): .chunks grew {inc['growth_mib']:.1f} MiB = {inc['growth_vs_disk'] * 100:.1f} % of the disk, "
              f"{growth_full} of the full backup's stored bytes; manifest newBytes {inc['manifest_new_mib']:.1f} MiB; "
              f"{inc['new_chunks']} chunks new, {inc['reused_chunks']} were in the store")
        print(f"  median seconds: full {median(fu['api_seconds']):.3f} vs zstd alone {median(fu['peer_seconds']):.3f}; "
              f"incremental {median(inc['api_seconds']):.3f}; restore {median(rs['api_seconds']):.3f} "
              f"(restored disk: {rs['restored_format']}); a fresh store each round")
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
        # section 4 runs inside bench_backup (it needs its VM and raw copy) but is a section of its own
        results["dedup"] = results["backup"].pop("dedup", None) or {"skipped": "not run: the backup section failed before it"}
        if "backup" not in failed and "skipped" in results["dedup"]:
            failed.append("dedup")
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

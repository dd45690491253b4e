#!/usr/bin/env python3
"""SDN apply time: a node builds --vnets vnets (a bridge with its gateway each) from a new running configuration,
against bare `ip -batch` doing the same in the same run.

Starts its own corrald (--local, a temp data directory) in a network namespace with a sysfs of its own, so the
bridges it makes never touch the machine's. Each round, medians of --rounds:
  1. create: `sdn/.running-config` with --vnets vnets in a simple zone is written through the node's mount, until
     the node publishes that version in nodes/<node>/sdn-status.json (corrald sees the event, plans, runs one
     `ip -batch`, publishes); against the same 3 commands per vnet through bare `ip -batch` in a fresh namespace,
     and through one `ip` process per command (what a naive apply costs);
  2. change one: one subnet's gateway changes, until the new version is published (one bridge changed in place);
  3. remove all: an empty configuration, until published and the bridges are gone; against bare `ip -batch`
     deleting the same bridges (the kernel's own cost of removing a bridge dominates both).
Writes the figures as JSON (--json).
    python3 Tests/Bench/sdn_bench.py --bin .build/release [--vnets 200] [--rounds 3]
"""
import argparse, datetime, json, os, platform, shutil, statistics, subprocess, sys, tempfile, time

NS, PEER = "sdnbench-node", "sdnbench-peer"
NODE = "sdnb"


def log(text):
    print(f"[sdn-bench] {text}", file=sys.stderr)


def sh(cmd, check=True, **kw):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd}: {r.returncode} {r.stderr.strip()[-400:]}")
    return r.stdout


def running(version, vnets, gateway_of=lambda i: f"10.240.{i}.1"):
    ids = {f"bn{i}": {"type": "vnet", "zone": "bz"} for i in range(vnets)}
    subnets = {f"bz-10.240.{i}.0-24": {"type": "subnet", "vnet": f"bn{i}", "gateway": gateway_of(i)} for i in range(vnets)}
    zones = {"bz": {"type": "simple", "ipam": "pve"}} if vnets else {}
    return json.dumps({"version": version, "zones": {"ids": zones}, "vnets": {"ids": ids}, "subnets": {"ids": subnets},
                       "controllers": {"ids": {}}, "ipams": {"ids": {"pve": {"type": "pve"}}}})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True)
    p.add_argument("--vnets", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", default=".build/bench/sdn_bench.json")
    args = p.parse_args()
    if args.vnets > 250:
        sys.exit("--vnets: at most 250 (one /24 each in 10.240.0.0/16)")
    binary_dir = os.path.abspath(args.bin)
    results = {"benchmark": "sdn", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "vnets": args.vnets, "rounds": args.rounds, "host": {"cpus": os.cpu_count(), "kernel": platform.release()}}
    sh(f"ip netns del {NS} 2>/dev/null; ip netns del {PEER} 2>/dev/null; ip netns add {NS}; ip -n {NS} link set lo up", check=False)
    data = tempfile.mkdtemp(prefix="corral-sdnbench-")
    sh(f"mount --bind {data} {data} && mount --make-shared {data}")
    daemon = subprocess.Popen(
        ["nsenter", f"--net=/run/netns/{NS}", "unshare", "--mount", "--propagation", "unchanged", "sh", "-c",
         'mount --make-private /sys && mount -t sysfs sysfs /sys && exec "$0" "$@"', os.path.join(binary_dir, "corrald"),
         "--local", "--data-dir", data, "--listen", "127.0.0.1:0", "--nodename", NODE, "--config", "/dev/null"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        mount = os.path.join(data, "pve")
        deadline = time.time() + 30
        while not os.path.exists(os.path.join(mount, ".version")) and time.time() < deadline:
            time.sleep(0.1)
        os.makedirs(os.path.join(mount, "sdn"), exist_ok=True)
        status = os.path.join(mount, "nodes", NODE, "sdn-status.json")
        version = [0]

        def apply(text_of_version):
            version[0] += 1
            t = time.perf_counter()
            with open(os.path.join(mount, "sdn", ".running-config"), "w") as f:
                f.write(text_of_version(version[0]))
            while time.perf_counter() - t < 120:
                try:
                    got = json.load(open(status))
                    if got.get("version") == version[0]:
                        elapsed = time.perf_counter() - t
                        errors = {z: e for z, e in got.get("zones", {}).items() if e}
                        if errors or got.get("error"):
                            raise RuntimeError(f"the node reports errors: {got}")
                        return elapsed
                except (OSError, ValueError):
                    pass
                time.sleep(0.005)
            raise RuntimeError(f"version {version[0]} not published within 120 s")

        def bridges():
            return sum(1 for line in sh(f"ip -n {NS} -br link show type bridge").splitlines() if line.startswith("bn"))

        # warm up: the first event after start waits behind the node's own start-up work
        time.sleep(1)
        apply(lambda v: running(v, 0))
        commands = []
        for i in range(args.vnets):
            commands += [f"link add bn{i} type bridge stp_state 0 forward_delay 0", f"address add 10.240.{i}.1/24 dev bn{i}", f"link set bn{i} up"]
        batch_input = "\n".join(commands) + "\n"
        create, change, remove, bare_batch, bare_each, bare_remove = [], [], [], [], [], []
        for r in range(args.rounds):
            create.append(apply(lambda v: running(v, args.vnets)))
            if bridges() != args.vnets:
                raise RuntimeError(f"{bridges()} bridges after the apply, not {args.vnets}")
            change.append(apply(lambda v: running(v, args.vnets, lambda i: "10.240.0.9" if i == 0 else f"10.240.{i}.1")))
            if "10.240.0.9/24" not in sh(f"ip -n {NS} -4 addr show bn0"):
                raise RuntimeError("the changed gateway is not on bn0")
            remove.append(apply(lambda v: running(v, 0)))
            if bridges() != 0:
                raise RuntimeError(f"{bridges()} bridges left after removing all")
            log(f"round {r + 1}: create {create[-1] * 1000:.0f} ms, change one {change[-1] * 1000:.0f} ms, remove all {remove[-1] * 1000:.0f} ms")
        # the peer, after every round of ours (a namespace's removal goes on in the kernel's background and would
        # slow whatever runs next): the same commands bare, the bridges removed by hand so each round starts clean
        sh(f"ip netns add {PEER}")
        remove_input = "".join(f"link del bn{i}\n" for i in range(args.vnets))
        for r in range(args.rounds):
            t = time.perf_counter()
            subprocess.run(["ip", "-n", PEER, "-batch", "-"], input=batch_input, text=True, check=True)
            bare_batch.append(time.perf_counter() - t)
            t = time.perf_counter()
            subprocess.run(["ip", "-n", PEER, "-batch", "-"], input=remove_input, text=True, check=True)
            bare_remove.append(time.perf_counter() - t)
            t = time.perf_counter()
            subprocess.run(["sh", "-c", "".join(f"ip -n {PEER} {c}\n" for c in commands)], check=True)
            bare_each.append(time.perf_counter() - t)
            subprocess.run(["ip", "-n", PEER, "-batch", "-"], input=remove_input, text=True, check=True)
            log(f"peer round {r + 1}: ip -batch create {bare_batch[-1] * 1000:.0f} ms, one ip per command {bare_each[-1] * 1000:.0f} ms, "
                f"ip -batch remove {bare_remove[-1] * 1000:.0f} ms")
        med = lambda xs: round(statistics.median(xs) * 1000, 1)
        results.update({
            "create_ms": med(create), "bare_ip_batch_ms": med(bare_batch), "bare_ip_per_command_ms": med(bare_each),
            "change_one_ms": med(change), "remove_all_ms": med(remove), "bare_remove_ip_batch_ms": med(bare_remove),
            "create_over_bare_batch": round(statistics.median(create) / statistics.median(bare_batch), 2),
            "remove_over_bare_batch": round(statistics.median(remove) / statistics.median(bare_remove), 2),
        })
        print(json.dumps(results, indent=1))
        os.makedirs(os.path.dirname(args.json), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    finally:
        daemon.kill()
        daemon.wait()
        sh(f"umount -l {data}/pve 2>/dev/null; umount -l {data}; ip netns del {NS} 2>/dev/null; ip netns del {PEER} 2>/dev/null; true", check=False)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()

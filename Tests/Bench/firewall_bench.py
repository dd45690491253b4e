#!/usr/bin/env python3
"""The firewall's compile-and-apply time and its cost on bridged traffic, against bare nft in the same run.

Starts its own corrald (--local, a temp data directory) inside a network namespace of its own, so the
rulesets it loads never touch the machine's. Writes --guests container configs (net0 on a bridge with
firewall=1) and as many guest firewall files with --rules rules each (ports, addresses, a macro, an IP
set, logging) through the node's mount, then measures, each the median of --rounds rounds:
  1. compile + apply on the event: `enable: 1` written into cluster.fw through the mount, until the node's
     tables are loaded (corrald sees the change, reads the configuration, compiles and loads it with
     `nft -f`; `nft list tables` polled every 10 ms), against bare `nft -f` of the same ruleset text.
     Target < 1 s. Shown beside: `pvesh set /cluster/firewall/options --enable 1` (the CLI in the node's
     namespace, which also checks the whole configuration and reads it through the FUSE mount).
  2. TCP throughput between two namespace "containers" on the bridge (their host ends named as guest 9001
     and 9002's NICs, so their firewall chains apply), a Python sender/receiver moving --mib MiB, with the
     firewall on against off. Target on/off >= 0.9.
Writes the figures as JSON (--json).
    python3 Tests/Bench/firewall_bench.py --bin .build/release [--guests 1000] [--rules 10] [--rounds 3]
"""
import argparse, datetime, json, os, platform, shutil, statistics, subprocess, sys, tempfile, time

NS, A, B = "fwbench-node", "fwbench-a", "fwbench-b"
NODE = "fwb"


def log(text):
    print(f"[firewall-bench] {text}", file=sys.stderr)


def sh(cmd, check=True, **kw):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd}: {r.returncode} {r.stderr.strip()[-400:]}")
    return r.stdout


def network():
    teardown()
    sh(f"""set -e
ip netns add {NS}; ip netns add {A}; ip netns add {B}
ip -n {NS} link set lo up
ip -n {NS} link add br0 type bridge; ip -n {NS} link set br0 up
ip netns exec {NS} sysctl -qw net.bridge.bridge-nf-call-iptables=1
ip -n {NS} link add veth9001i0 type veth peer name eth0 netns {A}
ip -n {NS} link add veth9002i0 type veth peer name eth0 netns {B}
for i in veth9001i0 veth9002i0; do ip -n {NS} link set $i master br0 up; done
ip -n {A} addr add 10.230.0.1/24 dev eth0; ip -n {A} link set eth0 up; ip -n {A} link set lo up
ip -n {B} addr add 10.230.0.2/24 dev eth0; ip -n {B} link set eth0 up; ip -n {B} link set lo up
ip -n {A} link set eth0 address bc:24:11:00:90:01; ip -n {B} link set eth0 address bc:24:11:00:90:02
""")


def teardown():
    sh(f"ip netns del {NS} 2>/dev/null; ip netns del {A} 2>/dev/null; ip netns del {B} 2>/dev/null; true", check=False)


def guest_files(mount, guests, rules):
    lxc = os.path.join(mount, "nodes", NODE, "lxc")
    os.makedirs(os.path.join(mount, "firewall"), exist_ok=True)
    with open(os.path.join(mount, "firewall", "cluster.fw"), "w") as f:
        f.write("[OPTIONS]\n\nenable: 0\n\n[IPSET admins]\n\n10.0.0.0/24\n192.0.2.7\n\n[group web]\n\nIN HTTP(ACCEPT)\nIN HTTPS(ACCEPT)\n")
    for i, vmid in enumerate([9001, 9002] + list(range(10000, 10000 + guests))):
        mac = f"bc:24:11:00:{(vmid >> 8) & 0xff:02x}:{vmid & 0xff:02x}" if vmid >= 10000 else f"bc:24:11:00:90:0{vmid - 9000}"
        with open(os.path.join(lxc, f"{vmid}.conf"), "w") as f:
            f.write(f"arch: amd64\nhostname: g{vmid}\nmemory: 64\nostype: debian\n"
                    f"net0: name=eth0,bridge=br0,firewall=1,hwaddr={mac},ip=10.{(i >> 8) % 250}.{i & 0xff}.2/16,type=veth\n"
                    f"rootfs: local:{vmid}/vm-{vmid}-disk-0.raw,size=1G\n")
        if vmid < 10000:
            body = "IN ACCEPT -p tcp -dport 5201\nGROUP web\n"
        else:
            lines = ["IN ACCEPT -source +dc/admins -p tcp -dport 22 -log info", "GROUP web", "IN SSH(ACCEPT) -source 10.1.0.0/16",
                     "IN DROP -p tcp -dport 23", "IN ACCEPT -p udp -dport 53,5353", "IN ACCEPT -p tcp -dport 8000:8100",
                     "OUT DROP -p tcp -dport 25", "IN REJECT -p udp -dport 161", "IN ACCEPT -p icmp -icmp-type echo-request",
                     "OUT ACCEPT -dest 192.0.2.0/24 -p tcp -dport 443"]
            body = "\n".join((lines * (rules // len(lines) + 1))[:rules]) + "\n"
        with open(os.path.join(mount, "firewall", f"{vmid}.fw"), "w") as f:
            f.write(f"[OPTIONS]\n\nenable: 1\npolicy_in: DROP\n\n[RULES]\n\n{body}")


def pvesh(binary_dir, data, *args):
    env = dict(os.environ, CORRAL_DATA_DIR=data, CORRAL_NODENAME=NODE)
    t = time.perf_counter()
    r = subprocess.run(["nsenter", f"--net=/run/netns/{NS}", os.path.join(binary_dir, "corral"), "pvesh", *args],
                       capture_output=True, text=True, env=env, timeout=120)
    elapsed = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"pvesh {' '.join(args)}: {r.stderr.strip()[-400:]}")
    return elapsed


RECEIVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 5201)); s.listen(1)
print('ready', flush=True)
c, _ = s.accept(); n = 0
while True:
    d = c.recv(1 << 20)
    if not d: break
    n += len(d)
print(n, flush=True)
"""
SENDER = """
import socket, sys, time
total = int(sys.argv[1]) << 20; buf = b'x' * (1 << 20)
s = socket.create_connection(('10.230.0.2', 5201)); t = time.perf_counter(); sent = 0
while sent < total:
    s.sendall(buf); sent += len(buf)
s.shutdown(socket.SHUT_WR); s.recv(1); print(time.perf_counter() - t)
"""


def throughput(mib):
    rx = subprocess.Popen(["ip", "netns", "exec", B, "python3", "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    assert rx.stdout.readline().strip() == "ready"
    out = sh(f"ip netns exec {A} python3 -c \"{SENDER}\" {mib}", timeout=300)
    got = int(rx.stdout.readline().strip() or 0)
    rx.wait(timeout=30)
    if got != mib << 20:
        raise RuntimeError(f"receiver got {got} bytes, not {mib} MiB")
    return mib / float(out.strip())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True)
    p.add_argument("--guests", type=int, default=1000)
    p.add_argument("--rules", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--mib", type=int, default=2048)
    p.add_argument("--json", default=".build/bench/firewall_bench.json")
    args = p.parse_args()
    binary_dir = os.path.abspath(args.bin)
    results = {"benchmark": "firewall", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "guests": args.guests, "rules_per_guest": args.rules, "rounds": args.rounds,
               "host": {"cpus": os.cpu_count(), "kernel": platform.release()}}
    data = tempfile.mkdtemp(prefix="corral-fwbench-")
    network()
    daemon = subprocess.Popen(
        ["nsenter", f"--net=/run/netns/{NS}", os.path.join(binary_dir, "corrald"), "--local", "--data-dir", data, "--listen",
         "127.0.0.1:0", "--nodename", NODE, "--config", "/dev/null"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        mount = os.path.join(data, "pve")
        deadline = time.time() + 30
        while not os.path.exists(os.path.join(mount, ".version")) and time.time() < deadline:
            time.sleep(0.1)
        os.makedirs(os.path.join(mount, "nodes", NODE, "lxc"), exist_ok=True)
        t = time.perf_counter()
        guest_files(mount, args.guests, args.rules)
        log(f"wrote {args.guests + 2} guest configs and firewall files in {time.perf_counter() - t:.1f} s")
        startup, apply, event, bare, off_rates, on_rates = [], [], [], [], [], []
        cluster_fw = os.path.join(mount, "firewall", "cluster.fw")

        def loaded():
            return "table inet corral" in sh(f"ip netns exec {NS} nft list tables")

        def set_enable(value):
            text = open(cluster_fw).read()
            with open(cluster_fw, "w") as f:
                f.write(text.replace(f"enable: {1 - value}", f"enable: {value}"))

        for r in range(args.rounds):
            pvesh(binary_dir, data, "set", "/cluster/firewall/options", "--enable", "0")
            off_rates.append(throughput(args.mib))
            t = time.perf_counter()
            set_enable(1)
            while not loaded() and time.perf_counter() - t < 60:
                time.sleep(0.01)
            event.append(time.perf_counter() - t)
            set_enable(0)
            while loaded() and time.perf_counter() - t < 120:
                time.sleep(0.05)
            startup.append(pvesh(binary_dir, data, "get", "/version"))
            apply.append(pvesh(binary_dir, data, "set", "/cluster/firewall/options", "--enable", "1"))
            ruleset = sh(f"ip netns exec {NS} nft list ruleset")
            if "g9002-net0-in" not in ruleset:
                raise RuntimeError("the guest chains are not loaded")
            text = os.path.join(data, "ruleset.nft")
            with open(text, "w") as f:
                f.write("table inet corral {}\ndelete table inet corral\ntable bridge corral {}\ndelete table bridge corral\n" + ruleset)
            t = time.perf_counter()
            sh(f"ip netns exec {NS} nft -f {text}")
            bare.append(time.perf_counter() - t)
            on_rates.append(throughput(args.mib))
            log(f"round {r + 1}: on the event {event[-1] * 1000:.0f} ms; pvesh {apply[-1] * 1000:.0f} ms (CLI start {startup[-1] * 1000:.0f} ms, bare nft -f {bare[-1] * 1000:.0f} ms); "
                f"TCP off {off_rates[-1]:.0f} MiB/s, on {on_rates[-1]:.0f} MiB/s")
        rules_loaded = ruleset.count("\n")
        med = statistics.median
        results.update({
            "ruleset_lines": rules_loaded,
            "event_apply_ms": round(med(event) * 1000, 1),
            "pvesh_apply_ms": round(med(apply) * 1000, 1), "cli_startup_ms": round(med(startup) * 1000, 1),
            "pvesh_minus_startup_ms": round((med(apply) - med(startup)) * 1000, 1),
            "bare_nft_ms": round(med(bare) * 1000, 1),
            "tcp_off_mib_s": round(med(off_rates)), "tcp_on_mib_s": round(med(on_rates)),
            "tcp_on_off_ratio": round(med(on_rates) / med(off_rates), 3),
            "targets": {"event_apply_ms": "< 1000", "tcp_on_off_ratio": ">= 0.9"},
        })
        print(json.dumps(results, indent=2))
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
        teardown()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()

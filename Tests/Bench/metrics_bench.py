#!/usr/bin/env python3
"""Metrics at scale (part of `make bench`): one node with --guests VM configs (default 1,000, stopped; written
through the node's mount), libvirtd running (Tests/Guest/libvirt-up.sh), and three external metric servers
(Graphite over UDP and TCP, InfluxDB over UDP: local sockets that count what arrives).
  1. the sampler's cost per 10 s cycle (CPU time of corrald's cycle: RRD files of the node, every guest and
     storage, and the lines for the metric servers), median and max of --cycles cycles, against the RRD
     writes alone: `rrdtool -` (pipe mode) updating as many files, one process, same machine and run;
  2. the lines the servers received per cycle (every guest must be in them);
  3. GET /api2/prometheus/metrics and GET /cluster/resources: 200 requests each (20 warm-up) on one
     keep-alive connection, p50 and p99;
  4. idle cost: corrald's CPU seconds over 30 s between cycles' work with the event comparison running.
It measures, it does not assert targets (the issue's: sampler < 50 ms CPU per cycle with 1,000 guests).
    python3 Tests/Bench/metrics_bench.py --bin .build/release [--guests 1000] [--cycles 4]
"""
import argparse, http.client, json, os, shutil, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vm_bench import CTX, Node  # noqa: E402


class Sink:
    """A local receiver counting lines: UDP datagrams or a TCP listener (Graphite's plaintext, Influx's lines)."""

    def __init__(self, kind):
        self.kind, self.lines, self.text = kind, 0, []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
        # a cycle arrives as one burst of datagrams: room for all of it, as a receiver tuned for it has
        self.sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE: past rmem_max, as root
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        if kind == "tcp":
            self.sock.listen(16)
        threading.Thread(target=self.run, daemon=True).start()

    def count(self, data):
        self.lines += data.count(b"\n")
        if len(self.text) < 50000:
            self.text.append(data)

    def run(self):
        while True:
            if self.kind == "udp":
                data, _ = self.sock.recvfrom(65536)
                self.count(data)
            else:
                conn, _ = self.sock.accept()
                with conn:
                    while data := conn.recv(65536):
                        self.count(data)


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(conn, path, headers, count):
    out = []
    for _ in range(count):
        t = time.perf_counter()
        conn.request("GET", path, headers=headers)
        body = conn.getresponse().read()
        out.append(time.perf_counter() - t)
    return out, len(body)


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=".build/release")
    ap.add_argument("--guests", type=int, default=1000)
    ap.add_argument("--cycles", type=int, default=4)
    args = ap.parse_args()
    subprocess.run(["bash", "Tests/Guest/libvirt-up.sh"], check=True, stdout=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="corral-metricsbench-")
    node = Node(os.path.abspath(os.path.join(args.bin, "corrald")), tmp)
    try:
        pve = os.path.join(node.data, "pve")
        for k in range(args.guests):
            vmid = 10000 + k
            with open(f"{pve}/nodes/bench/qemu-server/{vmid}.conf", "w") as f:
                f.write(f"name: m{vmid}\nmemory: 64\ncores: 1\nscsi0: local:{vmid}/vm-{vmid}-disk-0.raw,size=1G\n")
        sinks = {"gudp": Sink("udp"), "gtcp": Sink("tcp"), "iudp": Sink("udp")}
        node.call("POST", "/cluster/metrics/server/gudp", {"type": "graphite", "server": "127.0.0.1", "port": sinks["gudp"].port})
        node.call("POST", "/cluster/metrics/server/gtcp", {"type": "graphite", "server": "127.0.0.1", "port": sinks["gtcp"].port, "proto": "tcp"})
        node.call("POST", "/cluster/metrics/server/iudp", {"type": "influxdb", "server": "127.0.0.1", "port": sinks["iudp"].port})
        summary = os.path.join(node.data, "rrd", "last-cycle.json")
        cycles, seen, deadline = [], None, time.time() + 30 + 12 * (args.cycles + 1)
        lines_before = {k: s.lines for k, s in sinks.items()}
        while len(cycles) < args.cycles + 1 and time.time() < deadline:
            try:
                with open(summary) as f:
                    c = json.load(f)
            except (OSError, ValueError):
                c = None
            if c and c["time"] != seen and c["guests"] >= args.guests:
                seen = c["time"]
                cycles.append(c)
                if len(cycles) == 1:
                    lines_before = {k: s.lines for k, s in sinks.items()}
            time.sleep(0.2)
        if len(cycles) < 2:
            raise SystemExit(f"no complete cycles with {args.guests} guests in time: {cycles}")
        time.sleep(1)  # the last cycle's lines
        measured = cycles[1:]   # the first one created the RRD files
        per_cycle = {k: (s.lines - lines_before[k]) / len(measured) for k, s in sinks.items()}
        guest_lines = sum(1 for chunk in sinks["gudp"].text for line in chunk.split(b"\n") if b".qemu.10000.maxmem " in line)
        cpu = [c["cpu_ms"] for c in measured]
        wall = [c["wall_ms"] for c in measured]

        # the peer: rrdtool updating as many files in its pipe mode (the RRD writes alone)
        peer_dir = os.path.join(tmp, "peer")
        os.makedirs(peer_dir)
        files = [os.path.join(peer_dir, f"{k}.rrd") for k in range(args.guests + 2)]
        sources = " ".join(f"DS:{n}:GAUGE:30:0:U" for n in ("maxcpu", "cpu", "maxmem", "mem", "maxdisk", "disk", "netin", "netout", "diskread", "diskwrite"))
        create = "".join(f"create {p} --step 10 --start {int(time.time()) - 20} {sources} RRA:AVERAGE:0.5:1:360 RRA:MAX:0.5:1:360\n" for p in files)
        subprocess.run(["rrdtool", "-"], input=create, text=True, check=True, capture_output=True)
        stamp = int(time.time())
        update = "".join(f"update {p} {stamp}:1:0.5:64:0:1:0:0:0:0:0\n" for p in files)
        t0 = os.times()
        subprocess.run(["rrdtool", "-"], input=update, text=True, check=True, capture_output=True)
        t1 = os.times()
        peer_ms = ((t1.children_user - t0.children_user) + (t1.children_system - t0.children_system)) * 1000

        headers = {"Cookie": "PVEAuthCookie=" + urllib.parse.quote(node.cookie, safe="")}
        conn = http.client.HTTPSConnection("127.0.0.1", node.port, context=CTX, timeout=30)
        timed(conn, "/api2/prometheus/metrics", headers, 20)
        prom, prom_bytes = timed(conn, "/api2/prometheus/metrics", headers, 200)
        timed(conn, "/api2/json/cluster/resources", headers, 20)
        resources, res_bytes = timed(conn, "/api2/json/cluster/resources", headers, 200)
        conn.close()

        before = proc_cpu(node.proc.pid)
        time.sleep(30)
        idle = proc_cpu(node.proc.pid) - before

        print(f"\nCorral metrics benchmark: {args.guests} guests (stopped VMs), {os.cpu_count()} CPUs, binaries {args.bin}")
        print(f"1. sampler cycle, {len(measured)} cycles: CPU median {statistics.median(cpu):.0f} ms, max {max(cpu)} ms; wall median "
              f"{statistics.median(wall):.0f} ms      target CPU < 50 ms  {'MET' if statistics.median(cpu) < 50 else 'NOT MET'}")
        print(f"   peer: rrdtool - updating {len(files)} files: {peer_ms:.0f} ms CPU   ratio {statistics.median(cpu) / max(peer_ms, 1):.2f}x")
        print(f"2. lines per cycle: graphite udp {per_cycle['gudp']:.0f}, graphite tcp {per_cycle['gtcp']:.0f}, influx udp {per_cycle['iudp']:.0f}"
              f" (a guest's maxmem seen {guest_lines} times)")
        print(f"3. GET /api2/prometheus/metrics ({prom_bytes} bytes): p50 {pct(prom, 50) * 1000:.2f} ms  p99 {pct(prom, 99) * 1000:.2f} ms")
        print(f"   GET /cluster/resources ({res_bytes} bytes):  p50 {pct(resources, 50) * 1000:.2f} ms  p99 {pct(resources, 99) * 1000:.2f} ms")
        print(f"4. corrald CPU over 30 s (sampler, event comparison every second, nothing else): {idle:.2f} s ({idle / 30 * 100:.1f} % of a CPU)")
    finally:
        node.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

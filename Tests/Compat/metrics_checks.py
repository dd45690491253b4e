"""External metric servers and the Prometheus endpoint against the real receivers Debian ships.

proxmoxer (with the stage's API token) manages /cluster/metrics/server entries pointing at
graphite-carbon (UDP and TCP), influxdb 1.6 (its UDP listener) and an InfluxDB-2-style HTTP front
(metric_receivers.InfluxV2Proxy, with a token) in front of that influxd; corrald's sampler sends a
cycle every 10 s and each receiver must store the node's and a guest's figures. Debian's prometheus
scrapes /api2/prometheus/metrics with `Authorization: PVEAPIToken <token>` (the space form
Prometheus sends) and its query must return the guest's memory size. /cluster/metrics/export must
list the node's and the guest's figures. Bad entries are refused in PVE's error shape and leave
nothing behind (no section, no token file).
"""

import time

from harness import expect, expect_eq, need
from metric_receivers import Carbon, Influx, InfluxV2Proxy, Prometheus, free_port, wait_until

CYCLE_WAIT = 35   # a sampler cycle every 10 s, the first 1 s after start; room for a loaded machine


def run(c, node, verbose=False):
    from proxmoxer import ProxmoxAPI
    from proxmoxer.core import ResourceException
    from proxmoxer.tools import Tasks

    N = node.name
    secret = getattr(node, "token_secret", None)
    state = {}
    started = []

    def api():
        need(secret)
        return ProxmoxAPI(node.host, user=node.USER, token_name="ci", token_value=secret, verify_ssl=False, timeout=30)

    def setup():
        a = api()
        vmid = int(a.cluster.nextid.get())
        upid = a.nodes(N).qemu.post(vmid=vmid, name="metrics-guest", memory=160, cores=1, kvm=0)
        st = Tasks.blocking_status(a, upid, timeout=60, polling_interval=0.2)
        expect(st and st.get("exitstatus") == "OK", f"create task {st}")
        carbon = Carbon(node.tmp / "carbon").start()
        influx = Influx(node.tmp / "influx", udp_db="proxmox").start()
        started.extend([carbon, influx])
        influx.create_db("v2bucket")
        proxy = InfluxV2Proxy(influx, token="admin:secret").start()
        started.append(proxy)
        state.update(api=a, vmid=vmid, carbon=carbon, influx=influx, proxy=proxy)
        return vmid

    vmid = c.check("metrics: setup (a guest, carbon, influxd, an InfluxDB 2 front)", setup)

    def create_servers():
        need(vmid)
        a, carbon, influx, proxy = state["api"], state["carbon"], state["influx"], state["proxy"]
        servers = a.cluster.metrics.server
        servers("gudp").post(type="graphite", server="127.0.0.1", port=carbon.udp_port, proto="udp", path="corral.udp")
        servers("gtcp").post(type="graphite", server="127.0.0.1", port=carbon.tcp_port, proto="tcp", path="corral.tcp", timeout=2)
        servers("iudp").post(type="influxdb", server="127.0.0.1", port=influx.udp_port, influxdbproto="udp", mtu=1000)
        servers("ihttp").post(type="influxdb", server="127.0.0.1", port=proxy.port, influxdbproto="http",
                              bucket="v2bucket", organization="acme", token="admin:secret", **{"api-path-prefix": "/"})
        listed = a.cluster.metrics.server.get()
        expect_eq([s["id"] for s in listed], ["gtcp", "gudp", "ihttp", "iudp"], "ids, sorted")
        expect_eq({s["id"]: (s["type"], s["port"], s["disable"]) for s in listed}["gtcp"], ("graphite", carbon.tcp_port, 0), "gtcp row")
        one = servers("ihttp").get()
        expect("token" not in one, f"the token shows: {one}")
        expect_eq((one["type"], one["bucket"], one["influxdbproto"]), ("influxdb", "v2bucket", "http"), "ihttp entry")
        text = (node.mount / "status.cfg").read_text()
        expect("graphite: gudp" in text and "\tpath corral.udp" in text and "admin:secret" not in text, f"status.cfg:\n{text}")
        expect_eq((node.mount / "priv" / "metricserver" / "ihttp.pw").read_text(), "admin:secret", "token file")
        return True

    made = c.check("metrics: servers created through the API (status.cfg, token kept apart)", create_servers)

    def graphite(proto):
        need(made)
        carbon = state["carbon"]
        path = f"corral.{proto}.nodes.{N}.memory.memtotal"
        points = carbon.wait_for(path, timeout=CYCLE_WAIT)
        expect(points and points[-1][1] > 0, f"no {path} in carbon (has {carbon.metrics()[:20]})")
        metric = f"corral.{proto}.qemu.{state['vmid']}.maxmem"
        guest = carbon.wait_for(metric, timeout=CYCLE_WAIT, value=160 * 1024 * 1024)
        expect(guest, f"no guest maxmem of 160 MiB in carbon ({carbon.fetch(metric)})")
        return points[-1][1]

    c.check("metrics: graphite over UDP stores the node's and the guest's figures", graphite, "udp")
    c.check("metrics: graphite over TCP stores the node's and the guest's figures", graphite, "tcp")

    def influx_udp():
        need(made)
        influx = state["influx"]
        rows = influx.wait_rows("proxmox", f"SELECT memtotal FROM memory WHERE host='{N}'", timeout=CYCLE_WAIT)
        expect(rows, "no memory rows of the node over UDP")
        guest = influx.wait_rows("proxmox", f"SELECT maxmem FROM system WHERE vmid='{state['vmid']}'", timeout=CYCLE_WAIT)
        expect(guest and guest[-1].get("maxmem") == 160 * 1024 * 1024, f"guest row {guest[-1:]}")
        return len(rows)

    c.check("metrics: influxdb over UDP (line protocol) stores the node's and the guest's figures", influx_udp)

    def influx_http():
        need(made)
        influx, proxy = state["influx"], state["proxy"]
        writes = wait_until(lambda: proxy.writes(), CYCLE_WAIT, 0.5)
        expect(writes, "no write reached the InfluxDB 2 front")
        w = writes[-1]
        expect_eq(w["query"].get("org"), "acme", "org")
        expect_eq(w["query"].get("bucket"), "v2bucket", "bucket")
        expect_eq(w["headers"].get("Authorization"), "Token admin:secret", "Authorization")
        expect_eq(w.get("status"), 204, "the front's answer")
        rows = influx.wait_rows("v2bucket", f"SELECT cpu FROM cpustat WHERE host='{N}'", timeout=CYCLE_WAIT)
        expect(rows, "no cpustat rows in the bucket's database")
        return len(writes)

    c.check("metrics: influxdb over HTTP with a token (api/v2/write) stores the figures", influx_http)

    def bad_input():
        need(made)
        a = state["api"]
        servers = a.cluster.metrics.server
        closed = free_port("tcp")
        for label, call, status, text in [
            ("unreachable TCP graphite", lambda: servers("dead").post(type="graphite", server="127.0.0.1", port=closed, proto="tcp"),
             500, "connection to metric server 'dead' failed"),
            ("bad graphite path", lambda: servers("badpath").post(type="graphite", server="127.0.0.1", port=2003, path="a..b"),
             400, "path"),
            ("influx option on graphite", lambda: servers("mixed").post(type="graphite", server="127.0.0.1", port=2003, bucket="x"),
             400, "bucket"),
            ("duplicate id", lambda: servers("gudp").post(type="graphite", server="127.0.0.1", port=2003), 500, "already exists"),
            ("delete a required option", lambda: servers("gudp").put(server="127.0.0.1", port=2003, delete="server"), 400, "server"),
            ("unknown entry", lambda: servers("nosuch").get(), 500, "does not exist"),
        ]:
            try:
                call()
            except ResourceException as e:
                expect_eq(e.status_code, status, label)
                expect(text in f"{e.content} {e.errors}", f"{label}: {e.content} {e.errors}")
            else:
                raise AssertionError(f"{label}: accepted")
        ids = [s["id"] for s in a.cluster.metrics.server.get()]
        expect_eq(ids, ["gtcp", "gudp", "ihttp", "iudp"], "nothing left behind")
        expect(not (node.mount / "priv" / "metricserver" / "dead.pw").exists(), "a token file of the failed create")
        # a disabled entry is not tested, and stays out of the sending
        servers("dead").post(type="graphite", server="127.0.0.1", port=closed, proto="tcp", disable=1)
        servers("dead").put(server="127.0.0.1", port=closed, path="corral.dead")
        expect_eq(servers("dead").get().get("disable"), 1, "disabled entry")
        servers("dead").delete()
        return True

    c.check("metrics: bad entries are refused and leave nothing behind", bad_input)

    def change_and_remove():
        need(made)
        a, carbon = state["api"], state["carbon"]
        servers = a.cluster.metrics.server
        servers("ihttp").put(server="127.0.0.1", port=state["proxy"].port, delete="token", disable=1)
        expect(not (node.mount / "priv" / "metricserver" / "ihttp.pw").exists(), "token file after delete=token")
        servers("gudp").put(server="127.0.0.1", port=carbon.udp_port, disable=1)
        expect("\tdisable\n" in (node.mount / "status.cfg").read_text(), "disable flag in status.cfg")
        for sid in ("gudp", "gtcp", "iudp", "ihttp"):
            servers(sid).delete()
        expect_eq(a.cluster.metrics.server.get(), [], "servers after removal")
        return True

    c.check("metrics: servers changed and removed (token file follows)", change_and_remove)

    def export():
        need(vmid)
        a = state["api"]
        rows = wait_until(lambda: [r for r in a.cluster.metrics.export.get(history=1)["data"] if r["id"] == f"qemu/{state['vmid']}"],
                          CYCLE_WAIT, 0.5)
        expect(rows, "no export rows of the guest")
        all_rows = a.cluster.metrics.export.get()["data"]
        node_metrics = {r["metric"] for r in all_rows if r["id"] == f"node/{N}"}
        expect({"cpu_current", "mem_total", "mem_used", "net_in", "disk_total"} <= node_metrics, f"node metrics {sorted(node_metrics)}")
        mem = [r for r in rows if r["metric"] == "mem_total"]
        expect(mem and mem[-1]["value"] == 160 * 1024 * 1024 and mem[-1]["type"] == "gauge", f"guest mem_total {mem[-1:]}")
        expect(all(isinstance(r["timestamp"], int) for r in all_rows), "timestamps are integers")
        return len(all_rows)

    c.check("metrics: /cluster/metrics/export lists the node's and the guest's figures", export)

    def prometheus():
        need(vmid)
        prom = Prometheus(node.tmp / "prometheus", target=node.host, token=f"{node.USER}!ci={secret}",
                          metrics_path="/api2/prometheus/metrics", interval="1s").start()
        started.append(prom)
        result = prom.wait_for(f'pve_memory_size_bytes{{id="qemu/{state["vmid"]}"}}', timeout=30)
        expect(result, f"no guest memory in prometheus (targets: {prom.targets()})")
        expect_eq(float(result[0]["value"][1]), 160 * 1024 * 1024, "pve_memory_size_bytes of the guest")
        up = prom.wait_for(f'pve_up{{id="node/{N}"}}', timeout=10)
        expect(up and up[0]["value"][1] == "1", f"pve_up of the node: {up}")
        info = prom.wait_for(f'pve_guest_info{{id="qemu/{state["vmid"]}"}}', timeout=10)
        expect(info and info[0]["metric"].get("name") == "metrics-guest", f"guest info {info}")
        return len(result)

    c.check("metrics: Debian's prometheus scrapes /api2/prometheus/metrics (PVEAPIToken auth)", prometheus)

    def prometheus_refuses_anonymous():
        import urllib.request, ssl, urllib.error
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        try:
            urllib.request.urlopen(f"{node.url}/api2/prometheus/metrics", context=ctx, timeout=10)
        except urllib.error.HTTPError as e:
            expect_eq(e.code, 401, "status without credentials")
            return e.code
        raise AssertionError("answered without credentials")

    c.check("metrics: /api2/prometheus/metrics needs credentials", prometheus_refuses_anonymous)

    for daemon in reversed(started):
        try:
            daemon.stop()
        except Exception:  # noqa: BLE001 - cleanup
            pass
    if vmid:
        try:
            Tasks.blocking_status(state["api"], state["api"].nodes(N).qemu(vmid).delete(), timeout=60)
        except Exception:  # noqa: BLE001 - cleanup
            pass

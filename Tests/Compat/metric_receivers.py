"""Real metric receivers (Debian 12 packages) for the external-metric-server tests.

Each class starts one daemon as a child process in its own process group, on free 127.0.0.1 ports,
with every file (config, data, log) under the directory it is given, and waits until it answers.
Every wait has a deadline; stop() ends the whole process group (TERM, then KILL). Standard library only.

  Carbon(tmpdir)                 graphite-carbon's carbon-cache: TCP line receiver (tcp_port), UDP
                                 listener (udp_port); stored points are read back from the whisper
                                 files (own reader, no python3-whisper import needed).
  Influx(tmpdir)                 influxdb 1.6.7 (influxd): HTTP API (http_port, /write?db=, /query),
                                 a UDP listener (udp_port) writing into database `udp_db`.
                                 1.6 has no /api/v2/write, no /health and no `Authorization: Token`.
  InfluxV2Proxy(influx)          a small InfluxDB-2-style front (GET …/health, POST …/api/v2/write?
                                 org=&bucket=&precision=, `Authorization: Token user:password`) that
                                 records every request and forwards writes to Influx's /write?db=.
                                 Whatever path prefix comes before /api/v2/ or /health is accepted
                                 and recorded (api-path-prefix).
  Prometheus(tmpdir, target, token)  prometheus scraping one target (default https, certificate not
                                 verified, `Authorization: PVEAPIToken <token>`); query(expr).

`python3 metric_receivers.py` runs a self-test against all of them and exits non-zero on failure.
Needs: graphite-carbon influxdb prometheus openssl (python3-whisper only for manual whisper-fetch).
"""

import atexit
import base64
import http.server as httpserver
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

LOOPBACK = "127.0.0.1"
_live = set()


def free_port(kind="tcp"):
    """A port that is currently free on 127.0.0.1 for `kind` ('tcp', 'udp' or 'both')."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
        if kind != "both":
            return port
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind((LOOPBACK, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port found")


def wait_until(predicate, timeout, interval=0.1):
    """Call predicate until it returns something truthy or the deadline passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:
            value = None
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def http_request(method, url, body=None, headers=None, timeout=5, insecure=True):
    """(status, headers, body bytes) of one request; HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    ctx = None
    if url.startswith("https:"):
        ctx = ssl.create_default_context()
        if insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def self_signed_cert(directory, name="server"):
    """(cert path, key path) of a fresh self-signed certificate for CN=localhost, IP 127.0.0.1."""
    directory = Path(directory)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "7", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True, timeout=30)
    return cert, key


def send_udp(port, data, host=LOOPBACK):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(data.encode() if isinstance(data, str) else data, (host, port))


def send_tcp(port, data, host=LOOPBACK, timeout=5):
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data.encode() if isinstance(data, str) else data)


def _can_connect(port):
    with socket.create_connection((LOOPBACK, port), timeout=0.5):
        return True


class _Daemon:
    name = "daemon"

    def __init__(self, tmpdir):
        self.dir = Path(tmpdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = None
        self.log_path = self.dir / f"{self.name}.log"
        self.startup_seconds = None

    def _spawn(self, argv):
        exe = shutil.which(argv[0]) or f"/usr/bin/{argv[0]}"
        if not os.path.exists(exe):
            raise RuntimeError(f"{argv[0]} is not installed")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        self._log = open(self.log_path, "ab")
        self._t0 = time.monotonic()
        self.proc = subprocess.Popen([exe, *argv[1:]], cwd=self.dir, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        _live.add(self)

    def _await(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}) before {what}:\n{self.log_tail()}")
            try:
                if predicate():
                    self.startup_seconds = round(time.monotonic() - self._t0, 2)
                    return
            except Exception:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name}: no {what} within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace=5):
        proc, self.proc = self.proc, None
        _live.discard(self)
        if proc is not None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
                try:
                    os.killpg(proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            self.proc = None
            self._last = proc
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


# --------------------------------------------------------------------------------------------- carbon

def read_whisper(path):
    """[(timestamp, value), …] of every stored point of the finest archive of a whisper file, oldest first."""
    data = Path(path).read_bytes()
    _agg, _maxret, _xff, count = struct.unpack_from("!2LfL", data, 0)
    if count < 1:
        return []
    offset, _step, npoints = struct.unpack_from("!3L", data, 16)
    points = {}
    for i in range(npoints):
        ts, value = struct.unpack_from("!Ld", data, offset + 12 * i)
        if ts:
            points[ts] = value
    return sorted(points.items())


class Carbon(_Daemon):
    """carbon-cache (graphite-carbon) with a TCP line receiver and a UDP listener on 127.0.0.1."""
    name = "carbon"

    def __init__(self, tmpdir, retentions="1s:6h"):
        super().__init__(tmpdir)
        self.retentions = retentions
        self.tcp_port = self.udp_port = self.pickle_port = self.query_port = None
        self.whisper_dir = self.dir / "storage" / "whisper"

    def start(self, timeout=30):
        self.tcp_port = free_port("tcp")
        self.udp_port = free_port("udp")
        self.pickle_port = free_port("tcp")
        self.query_port = free_port("tcp")
        storage = self.dir / "storage"
        for d in (self.whisper_dir, storage / "lists", self.dir / "log"):
            d.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "carbon.conf"
        conf.write_text(f"""[cache]
STORAGE_DIR = {storage}/
LOCAL_DATA_DIR = {self.whisper_dir}/
WHITELISTS_DIR = {storage}/lists/
CONF_DIR = {self.dir}/
LOG_DIR = {self.dir}/log/
PID_DIR = {self.dir}/
DATABASE = whisper
ENABLE_LOGROTATION = False
USER =
ENABLE_TAGS = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
WHISPER_AUTOFLUSH = True
WHISPER_FALLOCATE_CREATE = False
LOG_CREATES = True
LOG_LISTENER_CONN_SUCCESS = False
LINE_RECEIVER_INTERFACE = {LOOPBACK}
LINE_RECEIVER_PORT = {self.tcp_port}
ENABLE_UDP_LISTENER = True
UDP_RECEIVER_INTERFACE = {LOOPBACK}
UDP_RECEIVER_PORT = {self.udp_port}
PICKLE_RECEIVER_INTERFACE = {LOOPBACK}
PICKLE_RECEIVER_PORT = {self.pickle_port}
CACHE_QUERY_INTERFACE = {LOOPBACK}
CACHE_QUERY_PORT = {self.query_port}
""")
        (self.dir / "storage-schemas.conf").write_text(f"[default]\npattern = .*\nretentions = {self.retentions}\n")
        (self.dir / "storage-aggregation.conf").write_text(
            "[default]\npattern = .*\nxFilesFactor = 0\naggregationMethod = last\n")
        self._spawn(["carbon-cache", f"--config={conf}", f"--pidfile={self.dir / 'carbon.pid'}",
                     f"--logdir={self.dir / 'log'}", "--nodaemon", "start"])
        # the pickle receiver is the last listener carbon opens (after the line and UDP receivers);
        # a bare connect to it logs nothing harmful
        self._await(lambda: _can_connect(self.pickle_port), timeout, "listening pickle port")
        return self

    def send(self, lines, proto="tcp"):
        data = lines if isinstance(lines, (bytes, str)) else "".join(f"{l}\n" for l in lines)
        (send_tcp if proto == "tcp" else send_udp)(self.tcp_port if proto == "tcp" else self.udp_port, data)

    def whisper_path(self, metric):
        return self.whisper_dir / (metric.replace(".", "/") + ".wsp")

    def metrics(self):
        """Names of every metric with a whisper file."""
        return sorted(str(p.relative_to(self.whisper_dir))[:-4].replace("/", ".")
                      for p in self.whisper_dir.rglob("*.wsp"))

    def fetch(self, metric):
        path = self.whisper_path(metric)
        return read_whisper(path) if path.exists() else []

    def wait_for(self, metric, timeout=10, value=None):
        """Points of `metric` once it has one (with `value`, once that value is among them), else [].
        With a glob pattern (*, ?, [), a {metric: points} dict of every match that has points, else {}."""
        import fnmatch
        if any(c in metric for c in "*?["):
            def probe():
                found = {m: self.fetch(m) for m in self.metrics() if fnmatch.fnmatchcase(m, metric)}
                return {m: p for m, p in found.items() if p}
            return wait_until(probe, timeout, 0.2) or {}

        def probe():
            pts = self.fetch(metric)
            if value is None:
                return pts
            return pts if any(abs(v - value) < 1e-9 for _, v in pts) else None
        return wait_until(probe, timeout, 0.2) or []


# --------------------------------------------------------------------------------------------- influx

class Influx(_Daemon):
    """influxd 1.x: HTTP API on 127.0.0.1:http_port and a UDP listener on udp_port writing into `udp_db`.
    auth=True turns on HTTP authentication with an admin user (user, password); https=True serves the
    HTTP API over TLS with a self-signed certificate."""
    name = "influxd"

    def __init__(self, tmpdir, udp_db="proxmox", udp_precision="", auth=False, https=False,
                 user="admin", password="secret"):
        super().__init__(tmpdir)
        self.udp_db, self.udp_precision = udp_db, udp_precision
        self.auth, self.https, self.user, self.password = auth, https, user, password
        self.http_port = self.udp_port = self.rpc_port = None

    @property
    def url(self):
        return f"{'https' if self.https else 'http'}://{LOOPBACK}:{self.http_port}"

    def _auth_headers(self):
        if not self.auth:
            return {}
        return {"Authorization": "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()}

    def start(self, timeout=30):
        self.http_port, self.udp_port, self.rpc_port = free_port("tcp"), free_port("udp"), free_port("tcp")
        tls = ""
        if self.https:
            cert, key = self_signed_cert(self.dir, "influx")
            tls = f'  https-enabled = true\n  https-certificate = "{cert}"\n  https-private-key = "{key}"\n'
        conf = self.dir / "influxdb.conf"
        conf.write_text(f"""reporting-enabled = false
bind-address = "{LOOPBACK}:{self.rpc_port}"
[meta]
  dir = "{self.dir}/meta"
[data]
  dir = "{self.dir}/data"
  wal-dir = "{self.dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "{LOOPBACK}:{self.http_port}"
  auth-enabled = {'true' if self.auth else 'false'}
  log-enabled = true
  pprof-enabled = false
{tls}[logging]
  suppress-logo = true
[[udp]]
  enabled = true
  bind-address = "{LOOPBACK}:{self.udp_port}"
  database = "{self.udp_db}"
  precision = "{self.udp_precision}"
  batch-size = 100
  batch-timeout = "100ms"
""")
        self._spawn(["influxd", "run", "-config", str(conf)])
        self._await(lambda: http_request("GET", self.url + "/ping", timeout=1)[0] == 204, timeout, "answer on /ping")
        if self.auth:  # the first user may be created without credentials
            self._q("POST", f"CREATE USER \"{self.user}\" WITH PASSWORD '{self.password}' WITH ALL PRIVILEGES")
        # the UDP service only creates its database with its first batch: create it now, and wait for
        # the listener (it is opened before the HTTP service, the log line is the only sign of it)
        self.create_db(self.udp_db)
        self._await(lambda: f"addr={LOOPBACK}:{self.udp_port}" in self.log_path.read_text(errors="replace"),
                    timeout, "UDP listener")
        return self

    def _q(self, method, q, db=None):
        params = {"q": q}
        if db:
            params["db"] = db
        body = urllib.parse.urlencode(params).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **self._auth_headers()}
        status, _, data = http_request(method, self.url + "/query", body, headers)
        res = json.loads(data or b"{}")
        if status != 200 or any("error" in r for r in res.get("results", [])) or "error" in res:
            raise RuntimeError(f"influx query {q!r}: {status} {data[:300]!r}")
        return res

    def databases(self):
        res = self._q("POST", "SHOW DATABASES")
        series = res["results"][0].get("series", [])
        return [v[0] for s in series for v in s.get("values", [])]

    def create_db(self, name):
        self._q("POST", f'CREATE DATABASE "{name}"')

    def query(self, db, q):
        """Rows of a SELECT/SHOW as dicts: the columns plus '_measurement' and the GROUP BY tags."""
        rows = []
        for result in self._q("POST", q, db)["results"]:
            for s in result.get("series", []):
                for values in s.get("values", []):
                    row = dict(zip(s["columns"], values))
                    row["_measurement"] = s.get("name")
                    row.update(s.get("tags") or {})
                    rows.append(row)
        return rows

    def write(self, db, lines, precision=None, rp=None, headers=None):
        """POST /write?db=… (InfluxDB 1.x API); returns (status, body)."""
        params = {"db": db}
        if precision:
            params["precision"] = precision
        if rp:
            params["rp"] = rp
        data = lines if isinstance(lines, (bytes, str)) else "".join(f"{l}\n" for l in lines)
        status, _, body = http_request("POST", f"{self.url}/write?{urllib.parse.urlencode(params)}",
                               data.encode() if isinstance(data, str) else data,
                               {**self._auth_headers(), **(headers or {})})
        return status, body

    def send_udp(self, lines):
        send_udp(self.udp_port, lines if isinstance(lines, (bytes, str)) else "".join(f"{l}\n" for l in lines))

    def wait_rows(self, db, q, timeout=10, count=1):
        """Rows of `q` once there are at least `count`, else []."""
        return wait_until(lambda: (lambda r: r if len(r) >= count else None)(self.query(db, q)), timeout, 0.2) or []


class InfluxV2Proxy:
    """An InfluxDB-2-style HTTP front for an Influx 1.x instance (which has neither /api/v2/write nor
    /health): GET <prefix>/health answers 200 {"status": "pass"}; POST <prefix>/api/v2/write?org=&bucket=
    [&precision=] forwards the body to /write?db=<bucket up to '/'>&rp=<rest>&precision=…, turning
    `Authorization: Token user:password` into Basic auth. Every request is kept in `requests` as a dict
    (method, path, prefix, query, headers, body, status). With `token` set, a different Token gets 401."""

    PRECISION = {"ns": "n", "us": "u", "ms": "ms", "s": "s"}

    def __init__(self, influx, token=None, https=False, tmpdir=None):
        self.influx, self.token, self.https = influx, token, https
        self.tmpdir = Path(tmpdir or influx.dir)
        self.requests = []
        self.port = None
        self._server = None
        self._lock = threading.Lock()

    @property
    def url(self):
        return f"{'https' if self.https else 'http'}://{LOOPBACK}:{self.port}"

    def start(self):
        proxy = self

        class Handler(httpserver.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _reply(self, status, body=b"", ctype="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return status

            def _handle(self):
                parsed = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rec = {"method": self.command, "path": parsed.path, "query": query,
                       "headers": {k: v for k, v in self.headers.items()}, "body": body}
                path = parsed.path
                if path.endswith("/api/v2/write"):
                    rec["prefix"], kind = path[: -len("/api/v2/write")], "write"
                elif path.endswith("/health"):
                    rec["prefix"], kind = path[: -len("/health")], "health"
                elif path.endswith("/ping"):
                    rec["prefix"], kind = path[: -len("/ping")], "ping"
                else:
                    rec["prefix"], kind = None, None
                auth = self.headers.get("Authorization", "")
                token = auth[len("Token "):] if auth.startswith("Token ") else None
                if kind is None:
                    rec["status"] = self._reply(404, b'{"code":"not found","message":"path not found"}')
                elif proxy.token is not None and token != proxy.token:
                    rec["status"] = self._reply(401, b'{"code":"unauthorized","message":"unauthorized access"}')
                elif kind == "health" and self.command == "GET":
                    rec["status"] = self._reply(200, json.dumps({
                        "name": "influxdb", "message": "ready for queries and writes", "status": "pass",
                        "checks": [], "version": "1.x-behind-proxy"}).encode())
                elif kind == "ping":
                    rec["status"] = self._reply(204)
                elif kind == "write" and self.command == "POST":
                    bucket = query.get("bucket", "")
                    db, _, rp = bucket.partition("/")
                    params = {"db": db}
                    if rp:
                        params["rp"] = rp
                    precision = query.get("precision", "ns")
                    params["precision"] = proxy.PRECISION.get(precision, precision)
                    headers = {}
                    if token and ":" in token:
                        headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
                    elif proxy.influx.auth:
                        headers.update(proxy.influx._auth_headers())
                    if self.headers.get("Content-Encoding"):
                        headers["Content-Encoding"] = self.headers["Content-Encoding"]
                    status, _, data = http_request("POST", f"{proxy.influx.url}/write?{urllib.parse.urlencode(params)}",
                                           body, headers)
                    rec["status"] = self._reply(status, data)
                else:
                    rec["status"] = self._reply(405, b'{"code":"method not allowed"}')
                with proxy._lock:
                    proxy.requests.append(rec)

            do_GET = do_POST = do_HEAD = _handle

        self.port = free_port("tcp")
        self._server = httpserver.ThreadingHTTPServer((LOOPBACK, self.port), Handler)
        self._server.daemon_threads = True
        if self.https:
            cert, key = self_signed_cert(self.tmpdir, "influx-proxy")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        return self

    def writes(self):
        with self._lock:
            return [r for r in self.requests if r["path"].endswith("/api/v2/write")]

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --------------------------------------------------------------------------------------------- prometheus

class Prometheus(_Daemon):
    """prometheus scraping one target every `interval`; `target` is "host:port" (or a URL, whose scheme,
    host:port and path are used). The token is sent as `Authorization: <auth_type> <token>`
    (PVE accepts 'PVEAPIToken <user@realm!id=secret>' as well as 'PVEAPIToken=…');
    auth_type='Bearer' gives a plain bearer token; token=None sends none."""
    name = "prometheus"

    def __init__(self, tmpdir, target, token=None, auth_type="PVEAPIToken", scheme="https",
                 metrics_path="/metrics", params=None, interval="1s", insecure=True):
        super().__init__(tmpdir)
        if "://" in target:
            u = urllib.parse.urlsplit(target)
            scheme, target = u.scheme, u.netloc
            metrics_path = u.path or metrics_path
            if u.query:
                params = {**dict(urllib.parse.parse_qsl(u.query)), **(params or {})}
        self.target, self.token, self.auth_type = target, token, auth_type
        self.scheme, self.metrics_path, self.params = scheme, metrics_path, params or {}
        self.interval, self.insecure = interval, insecure
        self.port = None

    @property
    def url(self):
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout=60):
        self.port = free_port("tcp")
        q = json.dumps  # JSON strings are valid YAML scalars
        job = [f"  - job_name: corral",
               f"    scheme: {self.scheme}",
               f"    metrics_path: {q(self.metrics_path)}",
               f"    scrape_interval: {self.interval}",
               f"    scrape_timeout: {self.interval}"]
        if self.params:
            job.append("    params: " + q({k: [v] if isinstance(v, str) else list(v) for k, v in self.params.items()}))
        if self.token is not None:
            job.append(f"    authorization: {{type: {q(self.auth_type)}, credentials: {q(self.token)}}}")
        if self.scheme == "https":
            job.append(f"    tls_config: {{insecure_skip_verify: {'true' if self.insecure else 'false'}}}")
        job.append(f"    static_configs: [{{targets: [{q(self.target)}]}}]")
        conf = self.dir / "prometheus.yml"
        conf.write_text(f"global:\n  scrape_interval: {self.interval}\n  evaluation_interval: 15s\n"
                        "scrape_configs:\n" + "\n".join(job) + "\n")
        self._spawn(["prometheus", f"--config.file={conf}", f"--web.listen-address={LOOPBACK}:{self.port}",
                     f"--storage.tsdb.path={self.dir / 'data'}", "--storage.tsdb.retention.time=1d",
                     "--log.level=info"])
        self._await(lambda: http_request("GET", self.url + "/-/ready", timeout=1)[0] == 200, timeout, "ready on /-/ready")
        return self

    def _api(self, path, params):
        status, _, body = http_request("GET", f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}")
        res = json.loads(body or b"{}")
        if status != 200 or res.get("status") != "success":
            raise RuntimeError(f"prometheus {path}: {status} {body[:300]!r}")
        return res["data"]

    def query(self, expr):
        """The result list of an instant query: [{'metric': {labels}, 'value': [ts, 'value']}, …]."""
        return self._api("query", {"query": expr})["result"]

    def wait_for(self, expr, timeout=30):
        """The result of `expr` once it is non-empty, else []."""
        return wait_until(lambda: self.query(expr), timeout, 0.5) or []

    def targets(self):
        """activeTargets of /api/v1/targets (health, lastError, lastScrape, …)."""
        return self._api("targets", {}).get("activeTargets", [])


@atexit.register
def _stop_all():
    for d in list(_live):
        d.stop(grace=2)


# --------------------------------------------------------------------------------------------- self-test

def _selftest():
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if not cond:
            failures.append(what)

    root = Path(tempfile.mkdtemp(prefix="metric-receivers-"))
    now = int(time.time())
    try:
        # carbon: TCP and UDP line protocol, several lines in one datagram as PVE batches them
        with Carbon(root / "carbon") as c:
            print(f"carbon-cache up in {c.startup_seconds}s (tcp {c.tcp_port}, udp {c.udp_port})")
            c.send([f"corral.selftest.nodes.pve.uptime 42 {now}", f"corral.selftest.nodes.pve.cpustat.cpu 0.25 {now}"])
            c.send(f"corral.selftest.qemu.100.mem 4096 {now}\ncorral.selftest.qemu.100.cpus 2 {now}\n", proto="udp")
            check(c.wait_for("corral.selftest.nodes.pve.uptime", value=42) == [(now, 42.0)], "carbon: TCP line stored")
            check(c.wait_for("corral.selftest.qemu.100.mem", value=4096) == [(now, 4096.0)], "carbon: UDP line stored")
            found = c.wait_for("corral.selftest.*.*.cpu*")
            check(set(found) == {"corral.selftest.nodes.pve.cpustat.cpu", "corral.selftest.qemu.100.cpus"},
                  f"carbon: glob finds both batched metrics {sorted(found)}")
            c.send(f"corral.selftest.old 1 {now - 7 * 86400}\n")
            time.sleep(1)
            check(c.fetch("corral.selftest.old") == [], "carbon: a point older than the retention is dropped")

        # influx 1.x: UDP listener, /write?db= with precisions, /api/v2/write absent, the v2 proxy
        with Influx(root / "influx") as i:
            print(f"influxd up in {i.startup_seconds}s (http {i.http_port}, udp {i.udp_port})")
            ns = now * 10**9
            i.send_udp(f"system,object=nodes,host=pve uptime=42,name=\"x y\" {ns}\n"
                       f"cpustat,object=nodes,host=pve cpu=0.5,user=1i {ns}\n")
            rows = i.wait_rows("proxmox", "SELECT * FROM system WHERE host='pve'")
            check(len(rows) == 1 and rows[0]["uptime"] == 42 and rows[0]["name"] == "x y", f"influx: UDP write {rows}")
            i.create_db("http")
            check(i.write("http", [f"memory,object=nodes,host=pve memtotal=1024 {ns}"])[0] == 204,
                  "influx: /write?db= (ns default) 204")
            check(i.write("http", [f"memory,object=nodes,host=pve2 memtotal=2048 {now}"], precision="s")[0] == 204,
                  "influx: /write?db=&precision=s 204")
            check(i.write("http", [f"m v=1 {ns}"], rp="autogen")[0] == 204, "influx: /write?db=&rp=autogen 204")
            rows = i.query("http", "SELECT memtotal FROM memory GROUP BY host")
            check(sorted((r["host"], r["memtotal"], r["time"]) for r in rows) ==
                  [("pve", 1024, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))),
                   ("pve2", 2048, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)))],
                  f"influx: both /write rows read back {rows}")
            st, _, _ = http_request("POST", f"{i.url}/api/v2/write?org=proxmox&bucket=http", f"m v=1 {ns}".encode(),
                            {"Authorization": "Token a:b"})
            check(st == 404, f"influx 1.6: /api/v2/write is 404 ({st})")
            check(http_request("GET", f"{i.url}/health")[0] == 404, "influx 1.6: /health is 404")
            with InfluxV2Proxy(i, token="admin:secret") as p:
                st, _, _ = http_request("GET", f"{p.url}/influx/health", headers={"Authorization": "Token admin:secret"})
                check(st == 200, f"proxy: <prefix>/health 200 ({st})")
                st, _, _ = http_request("POST", f"{p.url}/influx/api/v2/write?org=proxmox&bucket=http",
                                f"v2,object=qemu,vmid=100,nodename=pve v=7 {ns}\n".encode(),
                                {"Authorization": "Token admin:secret"})
                check(st == 204, f"proxy: /api/v2/write forwarded ({st})")
                st, _, _ = http_request("POST", f"{p.url}/api/v2/write?org=o&bucket=http/autogen&precision=s",
                                f"v2,object=lxc,vmid=101,nodename=pve v=8 {now}\n".encode(),
                                {"Authorization": "Token admin:secret"})
                check(st == 204, f"proxy: bucket db/rp and precision=s forwarded ({st})")
                st, _, _ = http_request("POST", f"{p.url}/api/v2/write?bucket=http", b"v2 v=9\n",
                                {"Authorization": "Token wrong:token"})
                check(st == 401, f"proxy: wrong token 401 ({st})")
                rows = i.wait_rows("http", "SELECT v FROM v2 GROUP BY vmid", count=2)
                check(sorted((r["vmid"], r["v"]) for r in rows) == [("100", 7), ("101", 8)], f"proxy: rows {rows}")
                w = p.writes()
                check(len(w) == 3 and w[0]["prefix"] == "/influx" and w[0]["query"]["org"] == "proxmox"
                      and w[0]["headers"].get("Authorization") == "Token admin:secret", "proxy: requests recorded")

        # influx 1.6 with authentication: which Authorization forms /write accepts
        with Influx(root / "influx-auth", auth=True) as i:
            print(f"influxd (auth) up in {i.startup_seconds}s")
            i.create_db("pve")
            ns = now * 10**9
            tok = {"Authorization": "Token admin:secret"}
            check(http_request("POST", f"{i.url}/write?db=pve", f"m v=1 {ns}".encode(), tok)[0] == 401,
                  "influx 1.6 auth: 'Token user:pass' is 401")
            check(i.write("pve", [f"m v=2 {ns}"])[0] == 204, "influx 1.6 auth: Basic 204")
            check(http_request("POST", f"{i.url}/write?db=pve&u=admin&p=secret", f"m v=3 {ns}".encode())[0] == 204,
                  "influx 1.6 auth: u=&p= 204")
            with InfluxV2Proxy(i) as p:
                st, _, _ = http_request("POST", f"{p.url}/api/v2/write?bucket=pve", f"m v=4 {ns + 1}".encode(), tok)
                check(st == 204, f"influx 1.6 auth via proxy: Token user:pass -> Basic ({st})")

        # influx over https (self-signed)
        with Influx(root / "influx-tls", https=True) as i:
            print(f"influxd (https) up in {i.startup_seconds}s")
            check(i.write(i.udp_db, [f"t v=1 {now}"], precision="s")[0] == 204, "influx https: /write 204")
            check(len(i.query(i.udp_db, "SELECT v FROM t")) == 1, "influx https: read back")

        # prometheus scraping an https target that wants the PVE token
        token = "root@pam!ci=0f9a3a34-1e2b-4c3d-9e8f-0123456789ab"
        cert, key = self_signed_cert(root, "target")
        seen = []

        class Target(httpserver.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                seen.append((self.path, self.headers.get("Authorization")))
                ok = self.headers.get("Authorization") == f"PVEAPIToken {token}"
                body = (b'# TYPE corral_selftest gauge\ncorral_selftest{node="pve",id="node/pve"} 3.5\n'
                        if ok else b"no ticket\n")
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        tport = free_port()
        srv = httpserver.ThreadingHTTPServer((LOOPBACK, tport), Target)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            with Prometheus(root / "prometheus", f"https://{LOOPBACK}:{tport}/api2/prometheus/metrics?x=1",
                            token) as pr:
                print(f"prometheus up in {pr.startup_seconds}s (port {pr.port})")
                t0 = time.monotonic()
                res = pr.wait_for('corral_selftest{node="pve"}')
                print(f"prometheus: first sample {time.monotonic() - t0:.1f}s after ready")
                check(len(res) == 1 and res[0]["value"][1] == "3.5" and res[0]["metric"]["id"] == "node/pve"
                      and res[0]["metric"]["job"] == "corral", f"prometheus: scraped value {res}")
                check(bool(seen) and seen[0] == ("/api2/prometheus/metrics?x=1", f"PVEAPIToken {token}"),
                      f"prometheus: path, params and Authorization header {seen[:1]}")
                tg = pr.targets()
                check(len(tg) == 1 and tg[0]["health"] == "up", f"prometheus: target up {tg and tg[0]['health']}")
        finally:
            srv.shutdown()
            srv.server_close()
    except Exception as e:
        failures.append(repr(e))
        print(f"FAIL {e!r}", flush=True)
    finally:
        _stop_all()
        if not failures:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"logs kept in {root}")
    print("self-test:", "OK" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(_selftest())

"""The compatibility suite's plumbing: one standalone corrald in a throw-away directory, and the
PASS/FAIL/SKIP bookkeeping every check goes through.

A check is a function that raises (AssertionError or any client exception) when the client sees
something PVE would not have shown it; its return value is handed to the checks that need it.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

# a check's one line is cut here; -v prints the traceback below it
LINE_LIMIT = 400


class Prerequisite(Exception):
    """Raised by need(): an earlier check this one depends on did not pass."""


class Checks:
    def __init__(self, verbose=False):
        self.verbose = verbose
        self.passed, self.failed, self.skipped = [], [], []
        self.results = {}   # check name -> value it returned (only for checks that passed)

    def check(self, name, fn, *args, **kwargs):
        """Runs fn; prints one PASS/FAIL/SKIP line; returns fn's value (None when it did not pass)."""
        started = time.monotonic()
        try:
            value = fn(*args, **kwargs)
        except Prerequisite as p:
            self.skipped.append((name, str(p)))
            self._line("SKIP", name, f"not run: {p}")
            return None
        except Exception as e:  # noqa: BLE001 - any client exception is a failed check
            detail = f"{type(e).__name__}: {e}" if not isinstance(e, AssertionError) else str(e)
            self.failed.append((name, detail))
            self._line("FAIL", name, detail)
            if self.verbose:
                traceback.print_exc()
            return None
        self.passed.append(name)
        self.results[name] = value
        self._line("PASS", name, f"({time.monotonic() - started:.1f}s)")
        return value

    def _line(self, verdict, name, detail):
        text = " ".join(f"{verdict} {name} {detail}".split())
        if len(text) > LINE_LIMIT:
            text = text[: LINE_LIMIT - 1] + "…"
        print(text, flush=True)

    def summary(self, elapsed=None):
        if self.failed:
            print("\nfailed checks:")
            for name, detail in self.failed:
                print(f"  - {name}: {' '.join(detail.split())[:600]}")
        if self.skipped:
            print("skipped checks (a check they need failed):")
            for name, detail in self.skipped:
                print(f"  - {name}: {detail}")
        if elapsed is not None:
            print(f"compat: {elapsed:.0f}s", flush=True)
        # the plain closing line CI reads, last
        line = f"compat: {len(self.passed)} passed, {len(self.failed)} failed"
        if self.skipped:
            line += f", {len(self.skipped)} skipped"
        print(line, flush=True)
        return not self.failed and not self.skipped


def need(*values):
    """Inside a check: stop with SKIP unless every value (an earlier check's result) is there."""
    for v in values:
        if v is None:
            raise Prerequisite("an earlier check it depends on did not pass")


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def expect_eq(actual, wanted, what):
    if actual != wanted:
        raise AssertionError(f"{what}: got {actual!r}, PVE gives {wanted!r}")


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """A standalone corrald (--local) with its own data directory, an administrator compat@pve
    (password login) and a second `dir` storage `compat` (format qcow2) besides the default `local`."""

    USER, PASSWORD = "compat@pve", "compat-test-password"

    def __init__(self, bindir, name="compat"):
        self.bindir = Path(bindir).resolve()
        self.name = name
        self.tmp = Path(tempfile.mkdtemp(prefix="corral-compat."))
        # as /var/lib/vz's parents are: unprivileged containers unpack as host uid 100000
        self.tmp.chmod(0o755)
        self.data = self.tmp / "node"
        self.mount = self.data / "pve"
        self.store = self.tmp / "compat-store"
        self.logfile = self.tmp / "corrald.log"
        self.proc = None
        self.port = None
        self.children = []   # other processes of ours (the exporter) that cleanup() must end

    @property
    def ca(self):
        return str(self.mount / "pve-root-ca.pem")

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    def start(self):
        corrald = self.bindir / "corrald"
        if not os.access(corrald, os.X_OK):
            raise RuntimeError(f"{corrald} is not an executable")
        log = open(self.logfile, "wb")
        self.proc = subprocess.Popen(
            [str(corrald), "--local", "--config", "/dev/null", "--data-dir", str(self.data),
             "--listen", "127.0.0.1:0", "--nodename", self.name],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = re.search(r"\(ports (\d+)\)", self.logfile.read_text(errors="replace"))
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        if not self.port:
            raise RuntimeError("corrald did not start:\n" + self.logfile.read_text(errors="replace")[-3000:])
        # as an administrator does before the first login (and as Tests/smoke.sh does): a pve-realm
        # user with Administrator on /, written through the mount
        hashed = subprocess.run(["openssl", "passwd", "-6", self.PASSWORD], check=True,
                                capture_output=True, text=True).stdout.strip()
        user = self.USER.split("@")[0]
        (self.mount / "user.cfg").write_text(f"user:{self.USER}:1:0::::::\nacl:1:/:{self.USER}:Administrator:\n")
        (self.mount / "priv" / "shadow.cfg").write_text(f"{user}:{hashed}:\n")
        # a second dir storage, as the integration tests add storages: through storage.cfg in the mount
        self.store.mkdir()
        cfg = self.mount / "storage.cfg"
        cfg.write_text(cfg.read_text() + f"\ndir: compat\n\tpath {self.store}\n"
                       "\tcontent images,rootdir,iso,vztmpl,backup,snippets\n\tformat qcow2\n")
        return self

    def cleanup(self):
        for child in self.children:
            stop_process(child)
        if self.proc is not None:
            stop_process(self.proc, grace=15)
        subprocess.run(["umount", "-l", str(self.mount)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log_tail(self, chars=2000):
        try:
            return self.logfile.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def apt_install(packages, timeout=900):
    """apt-get install `packages` without questions (waiting for the dpkg lock)."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", *packages],
                   check=True, env=env, timeout=timeout, stdout=subprocess.DEVNULL)


def keep_service_off(name):
    """Stop and disable a system service a package started (the tests run daemons of their own)."""
    if shutil.which("systemctl") and Path("/run/systemd/system").is_dir():
        subprocess.run(["systemctl", "disable", "--now", name], capture_output=True, timeout=60)
    else:
        subprocess.run(["service", name, "stop"], capture_output=True, timeout=60)
        subprocess.run(["update-rc.d", name, "disable"], capture_output=True, timeout=60)


def stop_process(proc, grace=5):
    """SIGTERM to the process group we started (start_new_session), then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


def ensure_imports():
    """The clients under test, from PyPI; a missing one is an error, not a skip."""
    missing = []
    for module, package in (("proxmoxer", "proxmoxer"), ("requests", "requests"),
                            # the `ansible` package, not ansible-core alone: it bundles the collections
                            ("ansible_collections.community.proxmox", "ansible"),
                            ("ansible_collections.ansible.posix", "ansible"),
                            ("pve_exporter", "prometheus-pve-exporter"),
                            ("prometheus_client", "prometheus-client")):
        try:
            __import__(module)
        except ImportError:
            if package not in missing:
                missing.append(package)
    if missing:
        print(f"compat_test: missing Python packages: {' '.join(missing)} "
              f"(pip install {' '.join(missing)})", file=sys.stderr)
        sys.exit(2)

#!/usr/bin/env python3
"""Real third-party PVE clients from PyPI against a running Corral node.

Starts a standalone corrald of its own (--local, a throw-away data directory, a free loopback
port, a pve-realm administrator written into the mount and a second `dir` storage), makes an API
token, and drives the node with
  - proxmoxer, with a ticket and with the token: the read endpoints scripts use, access objects,
    pools, an ISO upload and the volume ID with a raw '/', a VM and a container that are never
    started (create, config, pending, snapshots, resize, tasks, delete);
  - Ansible's community.proxmox collection: its modules in localhost playbooks (ansible/*.yml)
    and its inventory plugin;
  - prometheus-pve-exporter: the real exporter process, scraped for the cluster and node
    collectors, and each collector on its own to name the endpoint that breaks it;
  - Debian's graphite-carbon, influxdb and prometheus as the node's external metric servers and
    scraper (metrics_checks.py);
  - Debian's OpenLDAP slapd behind LDAP and AD-style realms: logins by bind, StartTLS, LDAPS,
    and realm sync (realm_checks.py, directory from ldap_server.py).
Every check prints one PASS/FAIL/SKIP line; the script ends with "compat: N passed, N failed" and
exits 1 if any check failed (or could not run because one it needs failed). Network: 127.0.0.1 only.

    python3 Tests/Compat/compat_test.py --bin .build/debug [--only proxmoxer,ansible,exporter,metrics,realms] [-v]

Needs root (FUSE mount), openssl, and pip's proxmoxer, requests, ansible (the package that bundles
community.proxmox) and prometheus-pve-exporter.
"""

import argparse
import os
import signal
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import Checks, Node, ensure_imports  # noqa: E402

STAGES = ("proxmoxer", "ansible", "exporter", "metrics", "realms")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="directory holding corrald (e.g. .build/debug)")
    parser.add_argument("--only", default=",".join(STAGES), help="comma list of stages: " + ", ".join(STAGES))
    parser.add_argument("-v", "--verbose", action="store_true", help="print tracebacks and client output of failures")
    args = parser.parse_args()
    stages = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s): {', '.join(sorted(unknown))}")
    if os.geteuid() != 0:
        print("compat_test: needs root (corrald mounts its cluster filesystem through FUSE)", file=sys.stderr)
        return 2
    ensure_imports()
    # every client talks to 127.0.0.1 only: never through a proxy from the environment
    for var in ("NO_PROXY", "no_proxy"):
        os.environ[var] = ",".join(filter(None, [os.environ.get(var), "127.0.0.1", "localhost"]))

    # SIGTERM/SIGHUP (a CI timeout, a closed terminal) must still run the cleanup below
    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)

    started = time.monotonic()
    checks = Checks(verbose=args.verbose)
    node = Node(args.bin)
    try:
        node.start()
        print(f"compat: corrald {node.bindir / 'corrald'} on {node.url} (data {node.data})", flush=True)
        # the token every stage uses is made by the proxmoxer stage's first checks; without that
        # stage, make it here
        if "proxmoxer" in stages:
            import proxmoxer_checks
            proxmoxer_checks.run(checks, node)
        else:
            checks.check("setup: API token for compat@pve", make_token, node)
        if "ansible" in stages:
            import ansible_checks
            ansible_checks.run(checks, node, verbose=args.verbose)
        if "exporter" in stages:
            import exporter_checks
            exporter_checks.run(checks, node, verbose=args.verbose)
        if "metrics" in stages:
            import metrics_checks
            metrics_checks.run(checks, node, verbose=args.verbose)
        if "realms" in stages:
            import realm_checks
            realm_checks.run(checks, node, verbose=args.verbose)
        checks.check("corrald still running after all clients", still_running, node)
    except KeyboardInterrupt as e:
        print(f"compat: interrupted ({e}); cleaning up", flush=True)
        return 130
    except Exception as e:  # the node did not start, or a stage crashed outside a check
        import traceback
        traceback.print_exc()
        print(f"compat: FAIL setup: {e}\n{node.log_tail()}", flush=True)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)   # let the cleanup finish
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        node.cleanup()
    ok = checks.summary(elapsed=time.monotonic() - started)
    return 0 if ok else 1

def still_running(node):
    if node.proc.poll() is not None:
        raise AssertionError(f"corrald exited with {node.proc.returncode}: {node.log_tail()}")


def make_token(node):
    from proxmoxer import ProxmoxAPI

    api = ProxmoxAPI(node.host, user=node.USER, password=node.PASSWORD, verify_ssl=False, timeout=30)
    node.token_secret = api.access.users(node.USER).token("ci").post(privsep=0)["value"]
    return node.token_secret


if __name__ == "__main__":
    sys.exit(main())

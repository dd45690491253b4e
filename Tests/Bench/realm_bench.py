#!/usr/bin/env python3
"""Directory realms at scale (part of `make bench`), against a real slapd (Tests/Compat/ldap_server.py) holding
--users users and --groups groups (default 10,000 and 1,000; each group --members members), with searches by
non-admins capped at 1,000 entries unless paged, as Active Directory caps them:
  1. a full sync (scope both) through POST /access/domains/{realm}/sync: time from the call to the task's end,
     the size of the user.cfg it wrote (PVE's pmxcfs refuses files over 1 MiB; Corral's limit is
     Limits.maxFileSize), users and groups in it; then the same sync again (nothing new: every user
     updated), a dry run, and the peer: `ldapsearch` reading the same users and groups, paged, once;
  2. login latency of a directory user (POST /access/ticket: search as the reader, bind as the user, ticket)
     against a bare `ldapwhoami` bind of the same user to the same server, and a `pve` realm login (the
     ticket's cost); p50 and p99 of --logins each. The issue's target: LDAP login ≤ 1.2 × ldapwhoami + the
     ticket's cost.
It measures, it does not assert targets.
    python3 Tests/Bench/realm_bench.py --bin .build/release [--users 10000] [--groups 1000] [--members 10]
"""
import argparse, os, statistics, subprocess, sys, tempfile, time, urllib.parse, urllib.request, json, shutil

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "Compat"))
from vm_bench import CTX, Node  # noqa: E402
import ldap_server  # noqa: E402


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def wait_task(node, upid, timeout=1800):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = node.call("GET", f"/nodes/bench/tasks/{urllib.parse.quote(upid, safe='')}/status")
        if status.get("status") == "stopped":
            return status.get("exitstatus")
        time.sleep(0.05)
    raise SystemExit(f"task {upid} did not end")


def login(node, user, password):
    data = urllib.parse.urlencode({"username": user, "password": password}).encode()
    req = urllib.request.Request(f"https://127.0.0.1:{node.port}/api2/json/access/ticket", data=data, method="POST")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, context=CTX) as resp:
        json.load(resp)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--groups", type=int, default=1000)
    ap.add_argument("--members", type=int, default=10)
    ap.add_argument("--logins", type=int, default=60)
    args = ap.parse_args()
    ldap_server.ensure_installed()
    tmp = tempfile.mkdtemp(prefix="corral-realm-bench.")
    ldap = node = None
    try:
        ldap = ldap_server.LDAPServer(os.path.join(tmp, "ldap"), log_level="none")
        ldap.start()
        loaded = ldap.bulk_add(args.users, args.groups, members_per_group=args.members, offline=True)
        print(f"directory: {args.users} users, {args.groups} groups of {args.members} loaded in {loaded} s (slapadd)", flush=True)
        node = Node(os.path.join(args.bin, "corrald"), tmp)
        node.call("POST", "/access/domains", {
            "realm": "corp", "type": "ldap", "server1": "127.0.0.1", "port": ldap.port, "base_dn": ldap.base_dn, "user_attr": "uid",
            "bind_dn": ldap.reader_dn, "password": ldap.reader_password, "sync_attributes": "email=mail,firstname=givenName,lastname=sn"})

        # the peer: reading the same entries with ldapsearch, paged as a non-admin must be
        t0 = time.perf_counter()
        for base, flt in ((ldap.people_dn, "(objectClass=inetOrgPerson)"), (ldap.groups_dn, "(objectClass=groupOfNames)")):
            subprocess.run(["ldapsearch", "-LLL", "-x", "-H", ldap.url, "-D", ldap.reader_dn, "-w", ldap.reader_password, "-b", base,
                            "-E", "pr=900/noprompt", flt, "uid", "mail", "givenName", "sn", "member"],
                           check=True, stdout=subprocess.DEVNULL)
        peer = time.perf_counter() - t0

        results = {}
        for label, params in (("first sync", {"scope": "both"}), ("second sync (no change)", {"scope": "both"}),
                              ("dry run", {"scope": "both", "dry-run": 1})):
            t0 = time.perf_counter()
            upid = node.call("POST", "/access/domains/corp/sync", params)
            status = wait_task(node, upid)
            results[label] = (time.perf_counter() - t0, status)
        cfg = os.path.join(node.data, "pve", "user.cfg")
        text = open(cfg).read()
        users = sum(1 for l in text.splitlines() if l.startswith("user:") and "@corp:" in l)
        groups = sum(1 for l in text.splitlines() if l.startswith("group:") and "-corp:" in l)
        print(f"sync of {args.users} users and {args.groups} groups:")
        for label, (seconds, status) in results.items():
            print(f"  {label:26s} {seconds:7.2f} s   task: {status}")
        print(f"  peer: ldapsearch, paged     {peer:7.2f} s   (reading the same entries, nothing else)")
        print(f"  user.cfg: {len(text.encode()) / 1024:.0f} KiB, {users} users and {groups} groups of the realm "
              f"(PVE's pmxcfs limit: 1024 KiB)")

        # logins: a synced directory user, the same bind with ldapwhoami, a pve user (the ticket's cost)
        user, dn = "bulk00042", f"uid=bulk00042,{ldap.people_dn}"
        corral, whoami, pve = [], [], []
        for i in range(args.logins + 5):
            a = login(node, f"{user}@corp", "bulk-secret")
            t0 = time.perf_counter()
            subprocess.run(["ldapwhoami", "-x", "-H", ldap.url, "-D", dn, "-w", "bulk-secret"], check=True, stdout=subprocess.DEVNULL)
            b = time.perf_counter() - t0
            c = login(node, "bench@pve", "bench-pw")
            if i >= 5:  # warm-up
                corral.append(a), whoami.append(b), pve.append(c)
        print(f"login, {args.logins} each (p50 / p99):")
        print(f"  LDAP realm user (search + bind + ticket)  {ms(statistics.median(corral))} / {ms(pct(corral, 99))}")
        print(f"  peer: ldapwhoami (process + bind)         {ms(statistics.median(whoami))} / {ms(pct(whoami, 99))}")
        print(f"  pve realm user (hash check + ticket)      {ms(statistics.median(pve))} / {ms(pct(pve, 99))}")
        budget = 1.2 * statistics.median(whoami) + statistics.median(pve)
        print(f"  target p50 ≤ 1.2 × ldapwhoami + pve login = {ms(budget)}: "
              f"{'met' if statistics.median(corral) <= budget else 'missed'}")
    finally:
        if node:
            node.proc.terminate()
            try:
                node.proc.wait(15)
            except subprocess.TimeoutExpired:
                node.proc.kill()
            subprocess.run(["umount", "-l", os.path.join(node.data, "pve")], stderr=subprocess.DEVNULL)
        if ldap:
            ldap.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A stand-in for the guest API in front of a real corrald, for the console's browser test.

Until corrald serves virtual machines, this lets the console's guest views run
against something: an HTTPS proxy that answers PVE's guest endpoints
(/cluster/resources, /cluster/nextid, /nodes/{node}/qemu…, …/storage…) from
memory and passes everything else (login, ACLs, tasks, events, the console's
files) through to corrald. Guests "run" instantly; their tasks end after a
moment with status OK and a one-line log. There is no VNC behind vncproxy.
Two storages, local (a directory) and tank (a ZFS pool), take moved disks
(move_disk, move_volume); local takes downloads (query-url-metadata, download-url).

It checks what a real server checks where the console relies on it: the
`digest` on config writes, taken VMIDs, and a few parameter formats, answering
PVE's 400 {"errors": {param: why}}, so the console's per-field errors show.

    python3 Tests/Browser/mock_guest_api.py --upstream https://127.0.0.1:PORT --node NAME [--port 0]

Used by console_test.py --mock-guests; prints "mock: listening on PORT".
"""

import argparse
import hashlib
import http.client
import http.server
import json
import re
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
NOVNC_DIR = "/usr/share/novnc"  # served at /novnc/ as corrald is meant to
STATE = {"guests": {}, "tasks": {}, "pid": 4000}
ISO = "local:iso/debian-12.8.0-amd64-netinst.iso"
VZTMPL = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
# local: a directory storage (files, any format); tank: a ZFS pool (raw volumes only), a place to move disks to
STORAGES = [{"storage": "local", "type": "dir", "content": "iso,vztmpl,images,rootdir", "active": 1, "enabled": 1,
             "avail": 90 << 30, "total": 100 << 30, "used": 10 << 30, "shared": 0},
            {"storage": "tank", "type": "zfspool", "content": "images,rootdir", "active": 1, "enabled": 1,
             "avail": 400 << 30, "total": 500 << 30, "used": 100 << 30, "shared": 0}]
VOLUMES = [{"volid": ISO, "format": "iso", "size": 631242752, "content": "iso"},
           {"volid": VZTMPL, "format": "tzst", "size": 126431232, "content": "vztmpl"}]
DOWNLOAD_EXT = {"iso": r"\.(iso|img)", "vztmpl": r"\.tar\.(gz|xz|zst|bz2)", "import": r"\.(ova|qcow2|raw|vmdk)"}
CT_NET_RE = re.compile(r"^(name=[\w.-]+|bridge=[-_.\w]+|(ip|gw|ip6|gw6|tag|firewall|hwaddr|mtu|rate|type)=[^,]+)(,(name=[\w.-]+|bridge=[-_.\w]+|(ip|gw|ip6|gw6|tag|firewall|hwaddr|mtu|rate|type)=[^,]+))*$")
NET_RE = re.compile(r"^(virtio|e1000|e1000e|rtl8139|vmxnet3)(=[0-9A-Fa-f:]{17})?(,(bridge=[-_.\w]+|(tag|firewall|link_down|macaddr)=[^,]+))*$")
DISK_RE = re.compile(r"^([a-z][a-z0-9\-_.]*:[^,]+|none|cdrom)(,[a-z_]+=[^,]+)*$")
NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9\-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9\-]*[A-Za-z0-9])?)*$")


def digest(cfg):
    return hashlib.sha1(json.dumps(cfg, sort_keys=True).encode()).hexdigest()


def new_task(node, kind, vmid, user, log, status="OK", after=0.8):
    STATE["pid"] += 1
    now = int(time.time())
    upid = f"UPID:{node}:{STATE['pid']:08X}:{STATE['pid'] * 7:08X}:{now:08X}:{kind}:{vmid}:{user}:"
    STATE["tasks"][upid] = {"end": time.time() + after, "status": status, "log": log, "start": now}
    return upid


def check_vmid(vmid, guests, errors, noun):
    if not vmid.isdigit() or int(vmid) < 100:
        errors["vmid"] = "value must have a minimum value of 100"
    elif int(vmid) in guests:
        errors["vmid"] = f"{noun} {vmid} already exists"


def check_config(params, errors, kind="qemu"):
    for k, v in params.items():
        if kind == "lxc" and re.fullmatch(r"net\d+", k):
            if not CT_NET_RE.match(v) or "bridge=" not in v or "name=" not in v:
                errors[k] = f"invalid format - name or bridge in '{v}'"
            continue
        if re.fullmatch(r"net\d+", k) and not NET_RE.match(v):
            errors[k] = f"invalid format - bridge or model in '{v}'"
        if re.fullmatch(r"(scsi|virtio|sata|ide)\d+|efidisk0", k) and not DISK_RE.match(v):
            errors[k] = f"invalid format - volume '{v}'"
        if k == "name" and not NAME_RE.match(v):
            errors[k] = "value does not look like a valid DNS name"
        if k == "memory" and (not str(v).isdigit() or int(v) < 16):
            errors[k] = "value must have a minimum value of 16"
        if k in ("cores", "sockets") and (not str(v).isdigit() or int(v) < 1):
            errors[k] = "value must have a minimum value of 1"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None
    node = None
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("mock: " + (fmt % args) + "\n")

    # --- plumbing ----------------------------------------------------------------
    def reply(self, status, body, reason=None):
        data = json.dumps(body).encode()
        self.send_response(status, reason)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def ok(self, data):
        self.reply(200, {"data": data})

    def bad(self, errors):
        self.reply(400, {"data": None, "errors": errors}, "Parameter verification failed.")

    def fail(self, status, message):
        self.reply(status, {"data": None, "message": message + "\n"}, message)

    def params(self):
        qs = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        n = int(self.headers.get("Content-Length") or 0)
        self._body = self.rfile.read(n) if n else b""
        if self._body:
            if "json" in (self.headers.get("Content-Type") or ""):
                qs.update({k: str(v) for k, v in json.loads(self._body).items()})
            else:
                qs.update(dict(urllib.parse.parse_qsl(self._body.decode())))
        return qs

    def user(self):
        cookie = self.headers.get("Cookie") or ""
        m = re.search(r"PVEAuthCookie=PVE%3A([^%]+)%40([^%]+)%3A", cookie) or re.search(r"PVEAuthCookie=PVE:([^@]+)@([^:]+):", cookie)
        return f"{m.group(1)}@{m.group(2)}" if m else "root@pam"

    def static(self, root, rel):
        import mimetypes
        import os
        full = os.path.realpath(os.path.join(root, rel))
        if not full.startswith(os.path.realpath(root) + os.sep) or not os.path.isfile(full):
            return self.fail(404, f"Not Found: /novnc/{rel}")
        data = open(full, "rb").read()
        self.send_response(200)
        ctype = "text/javascript" if full.endswith(".js") else (mimetypes.guess_type(full)[0] or "application/octet-stream")
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def proxy(self):
        body = getattr(self, "_body", None)
        if body is None:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else None
        u = urllib.parse.urlsplit(self.upstream)
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=ssl._create_unverified_context(), timeout=3600)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "accept-encoding")}
        conn.request(self.command, self.path, body=body, headers=headers)
        res = conn.getresponse()
        self.send_response(res.status, res.reason)
        streaming = (res.getheader("Content-Type") or "").startswith("text/event-stream")
        for k, v in res.getheaders():
            if k.lower() in ("connection", "transfer-encoding", "content-length", "keep-alive"):
                continue
            self.send_header(k, v)
        if streaming:
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                while True:
                    chunk = res.read1(65536)
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except OSError:
                pass
            self.close_connection = True
        else:
            data = res.read()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        conn.close()

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def do_PUT(self):
        self.route()

    def do_DELETE(self):
        self.route()

    # --- the guest API -------------------------------------------------------------------
    def route(self):
        self._body = None  # one handler serves every request of a keep-alive connection
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/novnc/") and self.command == "GET":
            return self.static(NOVNC_DIR, path[len("/novnc/"):])
        m = re.fullmatch(r"/api2/json(/.*)", path)
        if not m or not self.headers.get("Cookie", "").count("PVEAuthCookie"):
            return self.proxy()
        p, verb = m.group(1), self.command
        with LOCK:
            handled = self.guest_api(p, verb)
        if not handled:
            self.proxy()

    def guest_api(self, p, verb):
        node, G, T = self.node, STATE["guests"], STATE["tasks"]
        if p == "/cluster/resources" and verb == "GET":
            res = [{"id": f"node/{node}", "type": "node", "node": node, "status": "online", "cpu": 0.05, "maxcpu": 2,
                    "mem": 2 << 30, "maxmem": 8 << 30}]
            res.append({"id": f"storage/{node}/local", "type": "storage", "node": node, "storage": "local", "status": "available",
                        "content": "iso,images,rootdir", "disk": 10 << 30, "maxdisk": 100 << 30, "plugintype": "dir", "shared": 0})
            for g in G.values():
                res.append(self.resource(g))
            return self.ok(res) or True
        if p == "/cluster/nextid" and verb == "GET":
            wanted = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query)).get("vmid")
            if wanted:
                errors = {}
                check_vmid(wanted, G, errors, "VM")
                return (self.bad(errors) if errors else self.ok(wanted)) or True
            i = 100
            while i in G:
                i += 1
            return self.ok(str(i)) or True
        m = re.fullmatch(r"/nodes/([^/]+)/tasks/([^/]+)/(status|log)", p)
        if m and urllib.parse.unquote(m.group(2)) in T:
            upid = urllib.parse.unquote(m.group(2))
            t = T[upid]
            done = time.time() >= t["end"]
            if m.group(3) == "status":
                st = {"upid": upid, "node": node, "status": "stopped" if done else "running", "starttime": t["start"]}
                if done:
                    st["exitstatus"] = t["status"]
                return self.ok(st) or True
            lines = [{"n": 1, "t": t["log"]}] + ([{"n": 2, "t": f"TASK {t['status'] if t['status'] == 'OK' else 'ERROR: ' + t['status']}"}] if done else [])
            return self.reply(200, {"data": lines, "total": len(lines)}) or True
        if self.storage_api(p, verb):
            return True
        m = re.fullmatch(r"/nodes/([^/]+)/lxc", p)
        if m and verb == "POST":
            q = self.params()
            errors = {}
            vmid = q.get("vmid", "")
            check_vmid(vmid, G, errors, "CT")
            if q.get("ostemplate") != VZTMPL:
                errors["ostemplate"] = f"volume '{q.get('ostemplate')}' does not exist"
            if q.get("hostname") and not NAME_RE.match(q["hostname"]):
                errors["hostname"] = "value does not look like a valid DNS name"
            if q.get("password") is not None and len(q["password"]) < 5:
                errors["password"] = "value must be at least 5 characters long"
            cfg = {k: v for k, v in q.items() if k not in ("vmid", "start", "node", "password", "ssh-public-keys", "ostemplate")}
            check_config(cfg, errors, "lxc")
            if errors:
                return self.bad(errors) or True
            rm = re.fullmatch(r"([a-z]+):(\d+)", cfg.get("rootfs", "local:8"))
            cfg["rootfs"] = f"{rm.group(1)}:subvol-{vmid}-disk-0,size={rm.group(2)}G" if rm else cfg.get("rootfs")
            cfg.setdefault("hostname", f"CT{vmid}")
            cfg["ostype"] = "debian"
            cfg["arch"] = "amd64"
            G[int(vmid)] = {"type": "lxc", "vmid": int(vmid), "config": cfg, "status": "stopped", "qmp": "stopped",
                            "started": 0, "snapshots": {}}
            if q.get("start") == "1":
                G[int(vmid)].update(status="running", qmp="running", started=time.time())
            return self.ok(new_task(node, "vzcreate", vmid, self.user(), f"creating CT {vmid}")) or True
        m = re.fullmatch(r"/nodes/([^/]+)/(qemu|lxc)", p)
        if m and verb == "GET":
            return self.ok([self.resource(g) for g in G.values() if g["type"] == m.group(2)]) or True
        if m and verb == "POST" and m.group(2) == "qemu":
            q = self.params()
            errors = {}
            vmid = q.get("vmid", "")
            check_vmid(vmid, G, errors, "VM")
            check_config({k: v for k, v in q.items() if k not in ("vmid", "start", "node")}, errors)
            if errors:
                return self.bad(errors) or True
            cfg = {k: v for k, v in q.items() if k not in ("vmid", "start", "node")}
            for k, v in list(cfg.items()):  # storage:SIZE allocates a volume
                dm = re.fullmatch(r"(scsi|virtio|sata|ide)(\d+)|efidisk(0)", k)
                vm = re.match(r"([a-z]+):(\d+)(,.*)?$", v)
                if dm and vm:
                    cfg[k] = f"{vm.group(1)}:{vmid}/vm-{vmid}-disk-{len([x for x in cfg if 'disk' in cfg[x]])}.qcow2{vm.group(3) or ''},size={vm.group(2)}G"
            cfg.setdefault("name", f"VM{vmid}")
            G[int(vmid)] = {"type": "qemu", "vmid": int(vmid), "config": cfg, "status": "stopped", "qmp": "stopped",
                            "started": 0, "snapshots": {}}
            if q.get("start") == "1":
                G[int(vmid)].update(status="running", qmp="running", started=time.time())
            return self.ok(new_task(node, "qmcreate", vmid, self.user(), f"creating VM {vmid}")) or True
        m = re.fullmatch(r"/nodes/([^/]+)/(qemu|lxc)/(\d+)(/.*)?", p)
        if not m:
            return False
        g = G.get(int(m.group(3)))
        rest = m.group(4) or ""
        if not g or g["type"] != m.group(2):
            self.fail(500, f"Configuration file 'nodes/{node}/{m.group(2)}-server/{m.group(3)}.conf' does not exist")
            return True
        vmid = g["vmid"]
        kind = "qm" if g["type"] == "qemu" else "vz"
        if rest == "" and verb == "DELETE":
            self.params()
            if g["status"] != "stopped":
                self.fail(500, f"VM {vmid} is running - destroy failed")
                return True
            del G[vmid]
            return self.ok(new_task(node, f"{kind}destroy", vmid, self.user(), f"destroying {vmid}")) or True
        if rest == "/config" and verb == "GET":
            return self.ok({**g["config"], "digest": digest(g["config"])}) or True
        if rest == "/config" and verb in ("PUT", "POST"):
            q = self.params()
            if q.get("digest") and q["digest"] != digest(g["config"]):
                self.fail(500, "detected modified configuration - file changed by other user? Try again.")
                return True
            errors = {}
            sets = {k: v for k, v in q.items() if k not in ("digest", "delete", "node", "vmid")}
            check_config(sets, errors, g["type"])
            if errors:
                return self.bad(errors) or True
            for k in [x for x in (q.get("delete") or "").split(",") if x]:
                old = g["config"].pop(k, None)
                if old and re.fullmatch(r"(scsi|virtio|sata|ide)\d+", k) and "media=cdrom" not in old:
                    i = 0
                    while f"unused{i}" in g["config"]:
                        i += 1
                    g["config"][f"unused{i}"] = old.split(",")[0]
            for k, v in sets.items():
                vm = re.match(r"([a-z]+):(\d+)(,.*)?$", v)
                if re.fullmatch(r"(scsi|virtio|sata|ide)\d+", k) and vm:
                    v = f"{vm.group(1)}:{vmid}/vm-{vmid}-disk-{len(g['config'])}.qcow2{vm.group(3) or ''},size={vm.group(2)}G"
                g["config"][k] = v
            if verb == "POST":
                return self.ok(new_task(node, f"{kind}config", vmid, self.user(), "update config")) or True
            return self.ok(None) or True
        if rest == "/resize" and verb == "PUT" and g["type"] == "lxc":
            q = self.params()
            disk, size = q.get("disk", ""), q.get("size", "")
            sm = re.fullmatch(r"\+(\d+)G", size)
            if disk not in g["config"] or not sm:
                return self.bad({"disk" if disk not in g["config"] else "size": "invalid"}) or True
            cur = re.search(r"size=(\d+)G", g["config"][disk])
            new = (int(cur.group(1)) if cur else 0) + int(sm.group(1))
            g["config"][disk] = re.sub(r",size=\d+G", "", g["config"][disk]) + f",size={new}G"
            return self.ok(new_task(node, "resize", vmid, self.user(), f"resize {disk}")) or True
        if rest in ("/move_disk", "/move_volume") and verb == "POST":
            return self.move(g, rest == "/move_disk") or True
        if rest == "/pending" and verb == "GET":
            return self.ok([{"key": k, "value": v} for k, v in g["config"].items()]) or True
        if rest == "/status/current" and verb == "GET":
            return self.ok(self.status(g)) or True
        sm = re.fullmatch(r"/status/(start|stop|shutdown|reboot|reset|suspend|resume)", rest)
        if sm and verb == "POST":
            self.params()
            a = sm.group(1)
            if a == "start":
                g.update(status="running", qmp="running", started=time.time())
            elif a in ("stop", "shutdown"):
                g.update(status="stopped", qmp="stopped", started=0)
            elif a == "suspend":
                g.update(qmp="paused")
            elif a == "resume":
                g.update(qmp="running")
            names = {"suspend": "suspend" if kind == "vz" else "pause"}
            return self.ok(new_task(node, f"{kind}{names.get(a, a)}", vmid, self.user(), f"{a} {vmid}")) or True
        if rest == "/snapshot" and verb == "GET":
            snaps = list(g["snapshots"].values())
            cur = {"name": "current", "description": "You are here!", "running": 1 if g["status"] == "running" else 0}
            if g.get("parent"):
                cur["parent"] = g["parent"]
            return self.ok(snaps + [cur]) or True
        if rest == "/snapshot" and verb == "POST":
            q = self.params()
            name = q.get("snapname", "")
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]{0,39}", name):
                return self.bad({"snapname": "invalid format - invalid configuration ID"}) or True
            if name in g["snapshots"] or name == "current":
                return self.bad({"snapname": f"snapshot name '{name}' already used"}) or True
            s = {"name": name, "snaptime": int(time.time()), "description": q.get("description", ""), "vmstate": int(q.get("vmstate", 0))}
            if g.get("parent"):
                s["parent"] = g["parent"]
            g["snapshots"][name] = s
            g["parent"] = name
            return self.ok(new_task(node, f"{kind}snapshot", vmid, self.user(), f"snapshot {name}")) or True
        sm = re.fullmatch(r"/snapshot/([^/]+)(/rollback)?", rest)
        if sm:
            name = urllib.parse.unquote(sm.group(1))
            if name not in g["snapshots"]:
                self.fail(500, f"snapshot '{name}' does not exist")
                return True
            self.params()
            if sm.group(2) and verb == "POST":
                g["parent"] = name
                return self.ok(new_task(node, f"{kind}rollback", vmid, self.user(), f"rollback {name}")) or True
            if not sm.group(2) and verb == "DELETE":
                parent = g["snapshots"][name].get("parent")
                for s in g["snapshots"].values():
                    if s.get("parent") == name:
                        s["parent"] = parent
                del g["snapshots"][name]
                if g.get("parent") == name:
                    g["parent"] = parent
                return self.ok(new_task(node, f"{kind}delsnapshot", vmid, self.user(), f"delete {name}")) or True
        if rest in ("/vncproxy", "/termproxy") and verb == "POST":
            self.params()
            self.fail(500, "the mock guest API has no console")
            return True
        return False

    def storage_api(self, p, verb):
        """Storages (local and tank), local's content, and downloads from a URL into local."""
        node = self.node
        if re.fullmatch(r"/nodes/[^/]+/storage", p) and verb == "GET":
            content = self.params().get("content")
            return self.ok([s for s in STORAGES if content in (None, *s["content"].split(","))]) or True
        if re.fullmatch(r"/nodes/[^/]+/storage/local/status", p) and verb == "GET":
            self.params()
            return self.ok(STORAGES[0]) or True
        if re.fullmatch(r"/nodes/[^/]+/storage/local/content", p) and verb == "GET":
            q = self.params()
            return self.ok([v for v in VOLUMES if q.get("content") in (None, v["content"])]) or True
        if re.fullmatch(r"/nodes/[^/]+/query-url-metadata", p) and verb == "GET":
            url = self.params().get("url", "")
            if not re.fullmatch(r"https?://.*", url):
                return self.bad({"url": "value does not match the regex pattern"}) or True
            name = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]
            return self.ok({"filename": name, "size": 12 << 20, "mimetype": "application/zstd" if name.endswith(".zst") else "application/octet-stream"}) or True
        if re.fullmatch(r"/nodes/[^/]+/storage/local/download-url", p) and verb == "POST":
            q = self.params()
            errors = {}
            content, name = q.get("content", ""), q.get("filename", "")
            if not re.fullmatch(r"https?://.*", q.get("url", "")):
                errors["url"] = "value does not match the regex pattern"
            if content not in DOWNLOAD_EXT:
                errors["content"] = f"value '{content}' does not have a value in the enumeration 'iso, vztmpl, import'"
            elif not re.fullmatch(r"[^/]+" + DOWNLOAD_EXT[content], name, re.I):
                errors["filename"] = "wrong file extension"
            if bool(q.get("checksum")) != bool(q.get("checksum-algorithm")):
                errors["checksum" if not q.get("checksum") else "checksum-algorithm"] = "missing value for required option"
            if q.get("checksum-algorithm") not in (None, "md5", "sha1", "sha224", "sha256", "sha384", "sha512"):
                errors["checksum-algorithm"] = "value does not have a value in the enumeration"
            if q.get("compression") not in (None, "gz", "lzo", "zst", "bz2") or (q.get("compression") and content != "iso"):
                errors["compression"] = f"decompression not supported for {content}"
            if errors:
                return self.bad(errors) or True
            VOLUMES.append({"volid": f"local:{content}/{name}", "format": content, "size": 12 << 20, "content": content, "ctime": int(time.time())})
            return self.ok(new_task(node, "download", name, self.user(), f"downloading {q['url']} to {name}")) or True
        return False

    def move(self, g, vm):
        """move_disk (VM) and move_volume (CT): the volume goes to a storage of its own name, the old one
        becomes unusedN unless delete=1."""
        q = self.params()
        key, storage = q.get("disk" if vm else "volume", ""), q.get("storage", "")
        cfg, vmid = g["config"], g["vmid"]
        errors = {}
        if key not in cfg or "media=cdrom" in cfg[key]:
            errors["disk" if vm else "volume"] = f"unable to find disk '{key}'"
        if storage not in [s["storage"] for s in STORAGES]:
            errors["storage"] = f"storage '{storage}' does not exist"
        if q.get("format") not in (None, "raw", "qcow2", "vmdk"):
            errors["format"] = "value does not have a value in the enumeration 'raw, qcow2, vmdk'"
        if q.get("bwlimit") is not None and not q["bwlimit"].isdigit():
            errors["bwlimit"] = "type check ('integer') failed"
        if errors:
            return self.bad(errors)
        if q.get("digest") and q["digest"] != digest(cfg):
            return self.fail(500, "detected modified configuration - file changed by other user? Try again.")
        if not vm and g["status"] != "stopped":
            return self.fail(500, "cannot move volumes of a running container")
        old, _, opts = cfg[key].partition(",")
        if old.split(":")[0] == storage and not q.get("format"):
            return self.fail(500, "you can't move to the same storage with same disk format")
        n = len([v for v in cfg.values() if "-disk-" in v])
        name = f"vm-{vmid}-disk-{n}" if vm else f"subvol-{vmid}-disk-{n}"
        if storage == "local" and vm:
            name = f"{vmid}/{name}.{q.get('format') or 'qcow2'}"
        cfg[key] = f"{storage}:{name}" + (f",{opts}" if opts else "")
        if q.get("delete") != "1":
            i = 0
            while f"unused{i}" in cfg:
                i += 1
            cfg[f"unused{i}"] = old
        kind = "qmmove" if vm else "move_volume"
        return self.ok(new_task(self.node, kind, vmid, self.user(), f"moving {old} to {storage}", after=1.5))

    def resource(self, g):
        cfg = g["config"]
        st = self.status(g)
        return {"id": f"{g['type']}/{g['vmid']}", "type": g["type"], "vmid": g["vmid"], "node": self.node, "name": cfg.get("name") or cfg.get("hostname"),
                "status": st["status"], "tags": cfg.get("tags", ""), "template": 0, "cpu": st["cpu"], "maxcpu": st["cpus"],
                "mem": st["mem"], "maxmem": st["maxmem"], "uptime": st["uptime"], "maxdisk": st["maxdisk"]}

    def status(self, g):
        cfg = g["config"]
        running = g["status"] == "running"
        maxmem = int(re.sub(r"\D.*", "", str(cfg.get("memory", "512"))) or 512) << 20
        cpus = int(cfg.get("sockets", 1)) * int(cfg.get("cores", 1))
        return {"vmid": g["vmid"], "name": cfg.get("name"), "status": g["status"], "qmpstatus": g["qmp"], "cpus": cpus,
                "cpu": 0.031 if running else 0, "maxmem": maxmem, "mem": maxmem // 3 if running else 0,
                "maxdisk": 32 << 30, "uptime": int(time.time() - g["started"]) if running else 0,
                "netin": 123456 if running else 0, "netout": 65432 if running else 0, "diskread": 7 << 20, "diskwrite": 3 << 20,
                "tags": cfg.get("tags", ""), **({"swap": 0, "maxswap": int(cfg.get("swap", 512)) << 20, "disk": 1 << 30} if g["type"] == "lxc" else {})}


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert", required=True, help="PEM certificate for HTTPS")
    ap.add_argument("--key", required=True, help="PEM key for HTTPS")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    ap.add_argument("--seed", action="store_true", help="start with a running container 200 and VM 101 with snapshots")
    args = ap.parse_args()
    Handler.upstream = args.upstream
    Handler.node = args.node
    Handler.verbose = args.verbose
    if args.seed:
        STATE["guests"][200] = {"type": "lxc", "vmid": 200, "config": {"hostname": "ct-web", "memory": "512", "cores": "1", "tags": "web;prod"},
                                "status": "running", "qmp": "running", "started": time.time() - 3600, "snapshots": {}}
    srv = Server(("127.0.0.1", args.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(f"mock: listening on {srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())

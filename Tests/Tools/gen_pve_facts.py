#!/usr/bin/env python3
"""Regenerates Sources/API/PVEFacts+Data.swift from ../shared/pve-api/methods.json: the parameter
schemas, handler names, `protected` and `proxyto` of the PVE methods Corral declares from facts (guest and storage endpoints).

Only interface facts are kept (names, types, formats, enums, ranges, defaults, patterns, aliases):
PVE's prose is dropped. Perl-only regex syntax is rewritten into what NSRegularExpression takes.
    python3 Tests/Tools/gen_pve_facts.py ../shared/pve-api/methods.json > Sources/API/PVEFacts+Data.swift
"""
import json, re, sys

KEEP = {"type", "optional", "default", "format", "enum", "minimum", "maximum", "minLength", "maxLength",
        "pattern", "alias", "keyAlias", "default_key", "typetext", "items", "properties", "additionalProperties"}

METHODS = """
POST /nodes/{node}/qemu
GET /nodes/{node}/qemu
PUT /nodes/{node}/qemu/{vmid}/config
POST /nodes/{node}/qemu/{vmid}/config
GET /nodes/{node}/qemu/{vmid}/config
GET /nodes/{node}/qemu/{vmid}/pending
DELETE /nodes/{node}/qemu/{vmid}
GET /nodes/{node}/qemu/{vmid}/status/current
POST /nodes/{node}/qemu/{vmid}/status/start
POST /nodes/{node}/qemu/{vmid}/status/stop
POST /nodes/{node}/qemu/{vmid}/status/shutdown
POST /nodes/{node}/qemu/{vmid}/status/reboot
POST /nodes/{node}/qemu/{vmid}/status/reset
POST /nodes/{node}/qemu/{vmid}/status/suspend
POST /nodes/{node}/qemu/{vmid}/status/resume
GET /nodes/{node}/qemu/{vmid}/snapshot
POST /nodes/{node}/qemu/{vmid}/snapshot
GET /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config
PUT /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config
POST /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback
DELETE /nodes/{node}/qemu/{vmid}/snapshot/{snapname}
POST /nodes/{node}/qemu/{vmid}/template
POST /nodes/{node}/qemu/{vmid}/clone
POST /nodes/{node}/qemu/{vmid}/move_disk
POST /nodes/{node}/lxc/{vmid}/move_volume
PUT /nodes/{node}/qemu/{vmid}/resize
PUT /nodes/{node}/qemu/{vmid}/unlink
GET /nodes/{node}/qemu/{vmid}/feature
GET /cluster/nextid
GET /cluster/resources
GET /cluster/status
GET /nodes/{node}/dns
PUT /nodes/{node}/dns
GET /nodes/{node}/hosts
POST /nodes/{node}/hosts
GET /cluster/config/nodes
GET /cluster/config/totem
GET /cluster/config/join
POST /cluster/config
GET /cluster/config/apiversion
GET /cluster/config/qdevice
POST /cluster/config/nodes/{node}
DELETE /cluster/config/nodes/{node}
POST /cluster/config/join
GET /cluster/backup-info/not-backed-up
GET /nodes/{node}/subscription
GET /nodes/{node}/replication
GET /access/domains/{realm}
POST /access/domains
PUT /access/domains/{realm}
DELETE /access/domains/{realm}
POST /access/domains/{realm}/sync
POST /access/openid/auth-url
POST /access/openid/login
GET /cluster/jobs/realm-sync
GET /cluster/jobs/realm-sync/{id}
POST /cluster/jobs/realm-sync/{id}
PUT /cluster/jobs/realm-sync/{id}
DELETE /cluster/jobs/realm-sync/{id}
GET /storage
GET /storage/{storage}
POST /storage
GET /nodes/{node}/scan
GET /nodes/{node}/scan/lvm
GET /nodes/{node}/scan/lvmthin
GET /nodes/{node}/scan/zfs
GET /nodes/{node}/scan/nfs
GET /nodes/{node}/scan/iscsi
GET /nodes/{node}/scan/cifs
GET /nodes/{node}/hardware
GET /nodes/{node}/hardware/pci
GET /nodes/{node}/hardware/usb
GET /nodes/{node}/capabilities
GET /nodes/{node}/capabilities/qemu
GET /nodes/{node}/capabilities/qemu/cpu
GET /nodes/{node}/capabilities/qemu/machines
GET /nodes/{node}/disks/list
GET /nodes/{node}/network
GET /nodes/{node}/network/{iface}
PUT /nodes/{node}/time
GET /nodes/{node}/syslog
GET /nodes/{node}/journal
GET /nodes/{node}/apt/versions
GET /nodes/{node}/netstat
GET /nodes/{node}/services
POST /nodes/{node}/status
GET /nodes/{node}/config
PUT /nodes/{node}/config
GET /nodes/{node}/query-url-metadata
POST /nodes/{node}/storage/{storage}/download-url
PUT /nodes/{node}/storage/{storage}/content/{volume}
GET /nodes/{node}/storage/{storage}/prunebackups
DELETE /nodes/{node}/storage/{storage}/prunebackups
PUT /storage/{storage}
DELETE /storage/{storage}
GET /nodes/{node}/storage
GET /nodes/{node}/storage/{storage}/status
GET /nodes/{node}/storage/{storage}/content
POST /nodes/{node}/storage/{storage}/content
POST /nodes/{node}/storage/{storage}/upload
GET /nodes/{node}/storage/{storage}/content/{volume}
DELETE /nodes/{node}/storage/{storage}/content/{volume}
POST /nodes/{node}/lxc
GET /nodes/{node}/lxc
PUT /nodes/{node}/lxc/{vmid}/config
GET /nodes/{node}/lxc/{vmid}/config
GET /nodes/{node}/lxc/{vmid}/pending
DELETE /nodes/{node}/lxc/{vmid}
GET /nodes/{node}/lxc/{vmid}/status/current
POST /nodes/{node}/lxc/{vmid}/status/start
POST /nodes/{node}/lxc/{vmid}/status/stop
POST /nodes/{node}/lxc/{vmid}/status/shutdown
POST /nodes/{node}/lxc/{vmid}/status/reboot
POST /nodes/{node}/lxc/{vmid}/status/suspend
POST /nodes/{node}/lxc/{vmid}/status/resume
GET /nodes/{node}/lxc/{vmid}/snapshot
POST /nodes/{node}/lxc/{vmid}/snapshot
GET /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config
PUT /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config
POST /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback
DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}
POST /nodes/{node}/lxc/{vmid}/template
POST /nodes/{node}/lxc/{vmid}/clone
PUT /nodes/{node}/lxc/{vmid}/resize
GET /nodes/{node}/lxc/{vmid}/interfaces
GET /nodes/{node}/lxc/{vmid}/feature
POST /nodes/{node}/lxc/{vmid}/termproxy
GET /nodes/{node}/lxc/{vmid}/vncwebsocket
GET /nodes/{node}/aplinfo
POST /nodes/{node}/aplinfo
GET /nodes/{node}/qemu/{vmid}/agent
POST /nodes/{node}/qemu/{vmid}/agent
POST /nodes/{node}/qemu/{vmid}/agent/fsfreeze-freeze
POST /nodes/{node}/qemu/{vmid}/agent/fsfreeze-status
POST /nodes/{node}/qemu/{vmid}/agent/fsfreeze-thaw
POST /nodes/{node}/qemu/{vmid}/agent/fstrim
POST /nodes/{node}/qemu/{vmid}/agent/ping
POST /nodes/{node}/qemu/{vmid}/agent/shutdown
POST /nodes/{node}/qemu/{vmid}/agent/suspend-disk
POST /nodes/{node}/qemu/{vmid}/agent/suspend-hybrid
POST /nodes/{node}/qemu/{vmid}/agent/suspend-ram
GET /nodes/{node}/qemu/{vmid}/agent/get-fsinfo
GET /nodes/{node}/qemu/{vmid}/agent/get-host-name
GET /nodes/{node}/qemu/{vmid}/agent/get-memory-block-info
GET /nodes/{node}/qemu/{vmid}/agent/get-memory-blocks
GET /nodes/{node}/qemu/{vmid}/agent/get-osinfo
GET /nodes/{node}/qemu/{vmid}/agent/get-time
GET /nodes/{node}/qemu/{vmid}/agent/get-timezone
GET /nodes/{node}/qemu/{vmid}/agent/get-users
GET /nodes/{node}/qemu/{vmid}/agent/get-vcpus
GET /nodes/{node}/qemu/{vmid}/agent/info
GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces
POST /nodes/{node}/qemu/{vmid}/agent/set-user-password
POST /nodes/{node}/qemu/{vmid}/agent/exec
GET /nodes/{node}/qemu/{vmid}/agent/exec-status
GET /nodes/{node}/qemu/{vmid}/agent/file-read
POST /nodes/{node}/qemu/{vmid}/agent/file-write
GET /nodes/{node}/qemu/{vmid}/cloudinit
PUT /nodes/{node}/qemu/{vmid}/cloudinit
GET /nodes/{node}/qemu/{vmid}/cloudinit/dump
GET /nodes/{node}/report
GET /nodes/{node}/apt/update
POST /nodes/{node}/apt/update
GET /nodes/{node}/apt/changelog
GET /nodes/{node}/apt/repositories
GET /nodes/{node}/disks/smart
GET /nodes/{node}/disks/lvm
GET /nodes/{node}/disks/lvmthin
GET /nodes/{node}/disks/zfs
GET /nodes/{node}/disks/directory
POST /nodes/{node}/termproxy
POST /nodes/{node}/vncshell
GET /nodes/{node}/vncwebsocket
POST /nodes/{node}/vzdump
GET /nodes/{node}/vzdump/defaults
GET /nodes/{node}/vzdump/extractconfig
GET /cluster/backup
POST /cluster/backup
GET /cluster/backup/{id}
PUT /cluster/backup/{id}
GET /cluster/jobs/schedule-analyze
GET /cluster/options
PUT /cluster/options
GET /cluster/backup/{id}/included_volumes
DELETE /cluster/backup/{id}
GET /cluster/firewall
GET /cluster/firewall/groups
POST /cluster/firewall/groups
DELETE /cluster/firewall/groups/{group}
GET /cluster/firewall/groups/{group}
POST /cluster/firewall/groups/{group}
DELETE /cluster/firewall/groups/{group}/{pos}
GET /cluster/firewall/groups/{group}/{pos}
PUT /cluster/firewall/groups/{group}/{pos}
GET /cluster/firewall/rules
POST /cluster/firewall/rules
DELETE /cluster/firewall/rules/{pos}
GET /cluster/firewall/rules/{pos}
PUT /cluster/firewall/rules/{pos}
GET /cluster/firewall/ipset
POST /cluster/firewall/ipset
DELETE /cluster/firewall/ipset/{name}
GET /cluster/firewall/ipset/{name}
POST /cluster/firewall/ipset/{name}
DELETE /cluster/firewall/ipset/{name}/{cidr}
GET /cluster/firewall/ipset/{name}/{cidr}
PUT /cluster/firewall/ipset/{name}/{cidr}
GET /cluster/firewall/aliases
POST /cluster/firewall/aliases
DELETE /cluster/firewall/aliases/{name}
GET /cluster/firewall/aliases/{name}
PUT /cluster/firewall/aliases/{name}
GET /cluster/firewall/options
PUT /cluster/firewall/options
GET /cluster/firewall/macros
GET /cluster/firewall/refs
GET /nodes/{node}/qemu/{vmid}/firewall
GET /nodes/{node}/qemu/{vmid}/firewall/rules
POST /nodes/{node}/qemu/{vmid}/firewall/rules
DELETE /nodes/{node}/qemu/{vmid}/firewall/rules/{pos}
GET /nodes/{node}/qemu/{vmid}/firewall/rules/{pos}
PUT /nodes/{node}/qemu/{vmid}/firewall/rules/{pos}
GET /nodes/{node}/qemu/{vmid}/firewall/aliases
POST /nodes/{node}/qemu/{vmid}/firewall/aliases
DELETE /nodes/{node}/qemu/{vmid}/firewall/aliases/{name}
GET /nodes/{node}/qemu/{vmid}/firewall/aliases/{name}
PUT /nodes/{node}/qemu/{vmid}/firewall/aliases/{name}
GET /nodes/{node}/qemu/{vmid}/firewall/ipset
POST /nodes/{node}/qemu/{vmid}/firewall/ipset
DELETE /nodes/{node}/qemu/{vmid}/firewall/ipset/{name}
GET /nodes/{node}/qemu/{vmid}/firewall/ipset/{name}
POST /nodes/{node}/qemu/{vmid}/firewall/ipset/{name}
DELETE /nodes/{node}/qemu/{vmid}/firewall/ipset/{name}/{cidr}
GET /nodes/{node}/qemu/{vmid}/firewall/ipset/{name}/{cidr}
PUT /nodes/{node}/qemu/{vmid}/firewall/ipset/{name}/{cidr}
GET /nodes/{node}/qemu/{vmid}/firewall/options
PUT /nodes/{node}/qemu/{vmid}/firewall/options
GET /nodes/{node}/qemu/{vmid}/firewall/log
GET /nodes/{node}/qemu/{vmid}/firewall/refs
GET /nodes/{node}/lxc/{vmid}/firewall
GET /nodes/{node}/lxc/{vmid}/firewall/rules
POST /nodes/{node}/lxc/{vmid}/firewall/rules
DELETE /nodes/{node}/lxc/{vmid}/firewall/rules/{pos}
GET /nodes/{node}/lxc/{vmid}/firewall/rules/{pos}
PUT /nodes/{node}/lxc/{vmid}/firewall/rules/{pos}
GET /nodes/{node}/lxc/{vmid}/firewall/aliases
POST /nodes/{node}/lxc/{vmid}/firewall/aliases
DELETE /nodes/{node}/lxc/{vmid}/firewall/aliases/{name}
GET /nodes/{node}/lxc/{vmid}/firewall/aliases/{name}
PUT /nodes/{node}/lxc/{vmid}/firewall/aliases/{name}
GET /nodes/{node}/lxc/{vmid}/firewall/ipset
POST /nodes/{node}/lxc/{vmid}/firewall/ipset
DELETE /nodes/{node}/lxc/{vmid}/firewall/ipset/{name}
GET /nodes/{node}/lxc/{vmid}/firewall/ipset/{name}
POST /nodes/{node}/lxc/{vmid}/firewall/ipset/{name}
DELETE /nodes/{node}/lxc/{vmid}/firewall/ipset/{name}/{cidr}
GET /nodes/{node}/lxc/{vmid}/firewall/ipset/{name}/{cidr}
PUT /nodes/{node}/lxc/{vmid}/firewall/ipset/{name}/{cidr}
GET /nodes/{node}/lxc/{vmid}/firewall/options
PUT /nodes/{node}/lxc/{vmid}/firewall/options
GET /nodes/{node}/lxc/{vmid}/firewall/log
GET /nodes/{node}/lxc/{vmid}/firewall/refs
DELETE /nodes/{node}/network
POST /nodes/{node}/network
PUT /nodes/{node}/network
DELETE /nodes/{node}/network/{iface}
PUT /nodes/{node}/network/{iface}
GET /nodes/{node}/firewall
GET /nodes/{node}/firewall/rules
POST /nodes/{node}/firewall/rules
DELETE /nodes/{node}/firewall/rules/{pos}
GET /nodes/{node}/firewall/rules/{pos}
PUT /nodes/{node}/firewall/rules/{pos}
GET /nodes/{node}/firewall/options
PUT /nodes/{node}/firewall/options
GET /nodes/{node}/firewall/log
GET /cluster/ha
GET /cluster/ha/resources
POST /cluster/ha/resources
GET /cluster/ha/resources/{sid}
PUT /cluster/ha/resources/{sid}
DELETE /cluster/ha/resources/{sid}
POST /cluster/ha/resources/{sid}/migrate
POST /cluster/ha/resources/{sid}/relocate
GET /cluster/ha/groups
POST /cluster/ha/groups
GET /cluster/ha/groups/{group}
PUT /cluster/ha/groups/{group}
DELETE /cluster/ha/groups/{group}
GET /cluster/ha/rules
POST /cluster/ha/rules
GET /cluster/ha/rules/{rule}
PUT /cluster/ha/rules/{rule}
DELETE /cluster/ha/rules/{rule}
GET /cluster/ha/status
GET /cluster/ha/status/current
GET /cluster/ha/status/manager_status
GET /cluster/sdn
PUT /cluster/sdn
GET /cluster/sdn/zones
POST /cluster/sdn/zones
GET /cluster/sdn/zones/{zone}
PUT /cluster/sdn/zones/{zone}
DELETE /cluster/sdn/zones/{zone}
GET /cluster/sdn/vnets
POST /cluster/sdn/vnets
GET /cluster/sdn/vnets/{vnet}
PUT /cluster/sdn/vnets/{vnet}
DELETE /cluster/sdn/vnets/{vnet}
GET /cluster/sdn/vnets/{vnet}/subnets
POST /cluster/sdn/vnets/{vnet}/subnets
GET /cluster/sdn/vnets/{vnet}/subnets/{subnet}
PUT /cluster/sdn/vnets/{vnet}/subnets/{subnet}
DELETE /cluster/sdn/vnets/{vnet}/subnets/{subnet}
POST /cluster/sdn/vnets/{vnet}/ips
PUT /cluster/sdn/vnets/{vnet}/ips
DELETE /cluster/sdn/vnets/{vnet}/ips
GET /cluster/sdn/ipams
GET /cluster/sdn/ipams/{ipam}
GET /cluster/sdn/ipams/{ipam}/status
POST /cluster/sdn/lock
DELETE /cluster/sdn/lock
POST /cluster/sdn/rollback
GET /cluster/sdn/dry-run
GET /nodes/{node}/sdn
GET /nodes/{node}/sdn/zones
GET /nodes/{node}/sdn/zones/{zone}
GET /nodes/{node}/sdn/zones/{zone}/content
GET /nodes/{node}/sdn/zones/{zone}/bridges
GET /nodes/{node}/sdn/vnets/{vnet}
POST /nodes/{node}/startall
POST /nodes/{node}/migrateall
GET /nodes/{node}/rrddata
GET /cluster/metrics
GET /cluster/metrics/server
GET /cluster/metrics/server/{id}
POST /cluster/metrics/server/{id}
PUT /cluster/metrics/server/{id}
DELETE /cluster/metrics/server/{id}
GET /cluster/metrics/export
GET /nodes/{node}/qemu/{vmid}/rrddata
GET /nodes/{node}/lxc/{vmid}/rrddata
GET /nodes/{node}/storage/{storage}/rrddata
GET /nodes/{node}/rrd
GET /nodes/{node}/qemu/{vmid}/rrd
GET /nodes/{node}/lxc/{vmid}/rrd
GET /nodes/{node}/storage/{storage}/rrd
GET /nodes/{node}/qemu/{vmid}/migrate
POST /nodes/{node}/qemu/{vmid}/migrate
GET /nodes/{node}/lxc/{vmid}/migrate
POST /nodes/{node}/lxc/{vmid}/migrate
POST /nodes/{node}/stopall
GET /cluster/sdn/vnets/{vnet}/firewall
GET /cluster/sdn/vnets/{vnet}/firewall/rules
POST /cluster/sdn/vnets/{vnet}/firewall/rules
GET /cluster/sdn/vnets/{vnet}/firewall/rules/{pos}
PUT /cluster/sdn/vnets/{vnet}/firewall/rules/{pos}
DELETE /cluster/sdn/vnets/{vnet}/firewall/rules/{pos}
GET /cluster/sdn/vnets/{vnet}/firewall/options
PUT /cluster/sdn/vnets/{vnet}/firewall/options
"""

def clean_pattern(p):
    p = p.replace("(?^:", "(?:").replace("(?^i:", "(?i:")
    return re.sub(r"\{,(\d+)\}", r"{0,\1}", p)

def strip(schema):
    out = {}
    for k, v in schema.items():
        if k not in KEEP:
            continue
        if k == "format" and isinstance(v, dict):
            v = {sk: strip(sv) for sk, sv in v.items()}
        elif k == "pattern":
            v = clean_pattern(v)
        elif k == "items":
            v = strip(v)
        elif k == "properties":
            v = {sk: strip(sv) for sk, sv in v.items()}
        elif k == "optional" and isinstance(v, str):
            v = int(v)  # PVE's dump has some as strings ("1"): the same fact
        out[k] = v
    # the same for a boolean's or integer's default written as a string
    if out.get("type") in ("boolean", "integer") and isinstance(out.get("default"), str) and out["default"].lstrip("-").isdigit():
        out["default"] = int(out["default"])
    # PVE declares some defaults outside their own enum (GET /nodes/{node}/config's property: 'all');
    # a validator rightly rejects that, and the default means "no filter" anyway
    if "enum" in out and "default" in out and out["default"] not in out["enum"]:
        del out["default"]
    return out

methods = {f"{m['method']} {m['path']}": m for m in json.load(open(sys.argv[1]))}
data = {}
for key in METHODS.split("\n"):
    key = key.strip()
    if key:
        m = methods[key]
        data[key] = {"parameters": {k: strip(v) for k, v in m["parameters"].get("properties", {}).items()},
                     "name": m["name"], "protected": m.get("protected", 0), "proxyto": m.get("proxyto")}

# A parameter declared the same way by several methods (the VM options of create and both config
# updates) is written once under "shared"; a method names it with 1.
canonical = lambda v: json.dumps(v, sort_keys=True)
seen = {}
for entry in data.values():
    for name, schema in entry["parameters"].items():
        seen.setdefault(name, {}).setdefault(canonical(schema), 0)
        seen[name][canonical(schema)] += 1
shared = {}
for name, variants in seen.items():
    text, count = max(variants.items(), key=lambda kv: kv[1])
    if count > 1:
        shared[name] = json.loads(text)
for entry in data.values():
    entry["parameters"] = {k: (1 if k in shared and canonical(v) == canonical(shared[k]) else v) for k, v in entry["parameters"].items()}

text = json.dumps({"shared": shared, "methods": data}, sort_keys=True, separators=(",", ":"))
print("// Generated by Tests/Tools/gen_pve_facts.py from PVE's interface facts (names, types, formats,")
print("// ranges; no prose). Do not edit by hand: regenerate.")
print("extension PVEFacts {")
print('    static let data = #"""')
for i in range(0, len(text), 160):
    print(text[i:i + 160])
print('"""#')
print("}")

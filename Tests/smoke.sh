#!/usr/bin/env bash
# The release build, as `make run` installs it: starts, mounts, answers the realm list, refuses
# anonymous calls, and logs in an administrator written through the mount. Catches what only an
# optimised build gets wrong (the tests run the debug build).
#
#   bash Tests/smoke.sh [BIN_DIR]      (default .build/release)
set -euo pipefail
BIN=${1:-.build/release}
TMP=$(mktemp -d /tmp/corral-smoke.XXXXXX)
"$BIN/corrald" --local --config /dev/null --data-dir "$TMP/node" --listen 127.0.0.1:0 --nodename smoke 2>"$TMP/log" &
PID=$!
cleanup() {
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    umount -l "$TMP/node/pve" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
for _ in $(seq 200); do grep -q '(ports ' "$TMP/log" 2>/dev/null && break; kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
PORT=$(sed -n 's/.*(ports \([0-9]*\)).*/\1/p' "$TMP/log" | head -1)
[ -n "$PORT" ] || { cat "$TMP/log"; echo "smoke: the release corrald did not start" >&2; exit 1; }
URL="https://127.0.0.1:$PORT/api2/json"
CA="$TMP/node/pve/pve-root-ca.pem"
[ "$(curl -s --cacert "$CA" -o /dev/null -w '%{http_code}' "$URL/access/domains")" = 200 ] || { echo "smoke: realm list" >&2; exit 1; }
[ "$(curl -s --cacert "$CA" -o /dev/null -w '%{http_code}' "$URL/version")" = 401 ] || { echo "smoke: anonymous call not refused" >&2; exit 1; }
printf 'user:smoke@pve:1:0::::::\nacl:1:/:smoke@pve:Administrator:\n' >"$TMP/node/pve/user.cfg"
printf 'smoke:%s:\n' "$(openssl passwd -6 smoke-password)" >"$TMP/node/pve/priv/shadow.cfg"
TICKET=$(curl -s --cacert "$CA" -d username=smoke@pve -d password=smoke-password "$URL/access/ticket" |
    python3 -c 'import json, sys, urllib.parse; print(urllib.parse.quote(json.load(sys.stdin)["data"]["ticket"], safe=""))')
[ "$(curl -s --cacert "$CA" -b "PVEAuthCookie=$TICKET" -o /dev/null -w '%{http_code}' "$URL/nodes/smoke/status")" = 200 ] ||
    { echo "smoke: logged-in call failed" >&2; exit 1; }
echo "smoke: release build starts, serves and authenticates"

#!/usr/bin/env bash
# Where corrald's time per API request goes: CPU, context switches and (optionally) a perf profile of
# authenticated `GET /version` over HTTPS keep-alive. The figures the API rows of issue 22 were
# worked from; `bench.sh` gives the comparison with nginx.
#
#   bash Tests/Bench/api_profile.sh [PATH_TO_CORRALD] [SECONDS]      (default .build/release/corrald 5)
#
# Prints requests/s, server CPU µs per request (user and all), and voluntary/involuntary context
# switches per request summed over corrald's threads. PROFILE_PERF=1 also records `perf record -g`
# into $TMP/perf.data (kept, path printed) for `perf report`. Loopback only; port BENCH_PORT (18016).
set -euo pipefail
CORRALD=${1:-.build/release/corrald}
SECONDS_RUN=${2:-5}
PORT=${BENCH_PORT:-18016}
[[ -x $CORRALD ]] || { echo "no corrald at $CORRALD (swift build -c release)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/corral-apiprof.XXXXXX)
"$CORRALD" --local --config /dev/null --data-dir "$TMP/node" --listen "127.0.0.1:$PORT" --nodename bench >"$TMP/corrald.log" 2>&1 &
PID=$!
cleanup() {
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    umount -l "$TMP/node/pve" 2>/dev/null || true
    [[ ${PROFILE_PERF:-0} == 1 ]] || rm -rf "$TMP"
}
trap cleanup EXIT
for _ in $(seq 100); do curl -sk -o /dev/null "https://127.0.0.1:$PORT/api2/json/access/domains" && break; sleep 0.2; done
printf 'user:bench@pve:1:0::::::\nacl:1:/:bench@pve:Administrator:\n' >"$TMP/node/pve/user.cfg"
printf 'bench:%s:\n' "$(openssl passwd -6 bench-password)" >"$TMP/node/pve/priv/shadow.cfg"
TICKET=$(curl -sk -d username=bench@pve -d password=bench-password "https://127.0.0.1:$PORT/api2/json/access/ticket" |
    python3 -c 'import json, sys, urllib.parse; print(urllib.parse.quote(json.load(sys.stdin)["data"]["ticket"], safe=""))')
URL="https://127.0.0.1:$PORT/api2/json/version"
wrk -t2 -c50 -d2s -H "Cookie: PVEAuthCookie=$TICKET" "$URL" >/dev/null # warm up
sample() { # utime stime voluntary involuntary, over all threads
    local t u=0 s=0 v=0 n=0 f
    for t in /proc/"$PID"/task/*; do
        read -r -a f < <(sed 's/.*) //' "$t/stat")
        u=$((u + f[11])) s=$((s + f[12]))
        v=$((v + $(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status")))
        n=$((n + $(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$t/status")))
    done
    echo "$u $s $v $n"
}
if [[ ${PROFILE_PERF:-0} == 1 ]]; then
    perf record -F 2999 -g -p "$PID" -o "$TMP/perf.data" -- sleep "$SECONDS_RUN" >/dev/null 2>&1 &
    PERF_PID=$!
fi
read -r u0 s0 v0 n0 < <(sample)
wrk -t2 -c50 -d"${SECONDS_RUN}s" -H "Cookie: PVEAuthCookie=$TICKET" "$URL" >"$TMP/wrk.txt"
read -r u1 s1 v1 n1 < <(sample)
[[ -z ${PERF_PID:-} ]] || wait "$PERF_PID"
REQS=$(awk '$2 == "requests" && $3 == "in" {print $1}' "$TMP/wrk.txt")
awk -v r="$REQS" -v hz="$(getconf CLK_TCK)" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v v=$((v1 - v0)) -v n=$((n1 - n0)) \
    -v rps="$(awk '$1 == "Requests/sec:" {print $2}' "$TMP/wrk.txt")" 'BEGIN {
        printf "requests/s %.0f  (%d requests)\n", rps, r
        printf "CPU us per request: %.2f (user %.2f)\n", (u + s) * 1e6 / hz / r, u * 1e6 / hz / r
        printf "context switches per request: voluntary %.3f, involuntary %.3f\n", v / r, n / r
    }'
[[ ${PROFILE_PERF:-0} != 1 ]] || echo "perf data: $TMP/perf.data (perf report -i $TMP/perf.data --no-children)"

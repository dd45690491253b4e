#!/usr/bin/env bash
# Corral HTTP benchmark (`make bench`): corrald against nginx on loopback.
#
#   bash Tests/Bench/bench.sh [PATH_TO_CORRALD]     (default .build/release/corrald)
#
# Measures, for corrald and for an nginx serving the same body with the same
# certificate/key: HTTPS keep-alive requests/s with p50/p99 latency (wrk),
# full-handshake connections/s (wrk with "Connection: close"; nginx has TLS
# session resumption off, and if corrald resumes sessions, which wrk would
# exploit, `openssl s_time -new` measures both instead), and RSS with
# BENCH_IDLE idle keep-alive TLS connections (Tests/Bench/idle_conns.py).
# Targets are informational: the exit status is 0 when every measurement was
# taken, whether or not the targets are met, and non-zero otherwise.
#
# Environment: BENCH_SECONDS (10) length of each wrk run; BENCH_ROUNDS (3) keep-alive rounds per
# server, alternating, each server's median round counts; BENCH_IDLE (10000)
# idle connections; BENCH_PORT (18006) corrald port, nginx uses BENCH_PORT+1;
# BENCH_KEEP=1 keeps the temporary directory (logs, wrk output) for a look.
set -euo pipefail

CORRALD=${1:-.build/release/corrald}
BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_IDLE=${BENCH_IDLE:-10000}
BENCH_PORT=${BENCH_PORT:-18006}
BENCH_KEEP=${BENCH_KEEP:-0}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C  # '.' as decimal separator for awk and $EPOCHREALTIME

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $BENCH_SECONDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a positive integer (got '$BENCH_SECONDS')"
[[ $BENCH_ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer (got '$BENCH_ROUNDS')"
[[ $BENCH_IDLE =~ ^[1-9][0-9]*$ ]] || die "BENCH_IDLE must be a positive integer (got '$BENCH_IDLE')"
[[ $BENCH_PORT =~ ^[1-9][0-9]*$ ]] && ((BENCH_PORT < 65535)) || die "BENCH_PORT must be a port number below 65535 (got '$BENCH_PORT')"
CORRALD_PORT=$BENCH_PORT
NGINX_PORT=$((BENCH_PORT + 1))

# ---------------------------------------------------------------- tools
missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || die "missing tools (${missing[*]}); run as root to install them, or apt-get install them"
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get -o DPkg::Lock::Timeout=600 install -y "${missing[@]}"; then
        apt-get -o DPkg::Lock::Timeout=600 update
        apt-get -o DPkg::Lock::Timeout=600 install -y "${missing[@]}"
    fi
fi
for t in nginx wrk openssl curl python3 timeout mkfifo awk; do
    command -v "$t" >/dev/null 2>&1 || die "required tool '$t' not found"
done
PY=$(command -v python3)
NGINX=$(command -v nginx)

[[ -f $CORRALD && -x $CORRALD ]] || die "corrald binary not found or not executable: $CORRALD (build it with: swift build -c release)"
[[ -f $HERE/idle_conns.py ]] || die "missing $HERE/idle_conns.py"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_busy "$CORRALD_PORT" && die "127.0.0.1:$CORRALD_PORT is already in use (set BENCH_PORT)"
port_busy "$NGINX_PORT" && die "127.0.0.1:$NGINX_PORT is already in use (set BENCH_PORT)"

# ---------------------------------------------------------------- cleanup
TMP=$(mktemp -d /tmp/corral-bench.XXXXXX)
PIDS=()          # every long-running process started, in start order
IDLE_WFD=""      # write end of the fifo feeding idle_conns.py's stdin

descendants() { # PID -> all descendant pids, one per line
    local p c
    for p in "$@"; do
        for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do
            echo "$c"
            descendants "$c"
        done
    done
}

stop_pid() { # PID: TERM it (and its descendants), KILL whatever is left after 5 s
    local pid=$1 kids i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kids=$(descendants "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL "$pid" $kids 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? i
    set +e
    trap - EXIT INT TERM
    if [[ -n $IDLE_WFD ]]; then exec {IDLE_WFD}>&-; fi
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
    if ((rc != 0)); then
        for f in "$TMP/corrald.log" "$TMP/nginx/logs/error.log"; do
            [[ -s $f ]] || continue
            printf '[bench] --- last lines of %s ---\n' "$f" >&2
            tail -n 20 "$f" >&2
        done
    fi
    if [[ $BENCH_KEEP == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers
http_code() { # URL -> HTTP status code ("000" if no answer)
    curl -sk -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true
}

wait_http_200() { # URL PID NAME SECONDS
    local url=$1 pid=$2 name=$3 deadline=$((SECONDS + $4)) code
    while :; do
        code=$(http_code "$url")
        [[ $code == 200 ]] && return 0
        kill -0 "$pid" 2>/dev/null || die "$name exited before answering (last HTTP status $code)"
        ((SECONDS < deadline)) || die "$name did not answer 200 at $url within $4 s (last HTTP status $code)"
        sleep 0.2
    done
}

rss_kb() { # PID [FIELD]: VmRSS (or FIELD, e.g. VmHWM) of PID plus all its descendants, in kB
    local total=0 p v field=${2:-VmRSS}
    for p in "$1" $(descendants "$1"); do
        v=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$p/status" 2>/dev/null || true)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

fd_count() { # PID: open fds of PID plus all its descendants
    local total=0 p n
    for p in "$1" $(descendants "$1"); do
        n=$(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
        total=$((total + n))
    done
    echo "$total"
}

cpu_ticks() { # PID: user+system clock ticks of PID plus all its descendants (all threads)
    local total=0 p v
    for p in "$1" $(descendants "$1"); do
        v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

wrk_requests() { # FILE -> requests completed
    awk '$2 == "requests" && $3 == "in" {print $1}' "$1"
}

cpu_us_per_request() { # TICKS REQUESTS -> server CPU microseconds per request
    awk -v t="$1" -v r="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { if (r > 0) printf "%.1f", t * 1000000 / hz / r; else print "n/a" }'
}

kb_to_mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

run_wrk() { # NAME URL [extra wrk args]: output in $TMP/wrk-NAME.txt
    local name=$1 url=$2 out="$TMP/wrk-$1.txt"
    shift 2
    log "wrk $name: -t2 -c50 -d${BENCH_SECONDS}s $* $url"
    if ! timeout -k 5 $((BENCH_SECONDS + 60)) \
        wrk -t2 -c50 -d"${BENCH_SECONDS}s" --latency "$@" "$url" >"$out" 2>&1; then
        cat "$out" >&2
        die "wrk run '$name' failed"
    fi
    local reqs
    reqs=$(awk '$2 == "requests" && $3 == "in" {print $1}' "$out")
    [[ -n $reqs ]] || { cat "$out" >&2; die "wrk run '$name': no 'N requests in' line in wrk output"; }
    ((reqs > 0)) || { cat "$out" >&2; die "wrk run '$name' completed no request"; }
    local non2xx
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
    if [[ -n $non2xx ]]; then
        ((non2xx < reqs)) || { cat "$out" >&2; die "wrk run '$name': every response was non-2xx/3xx"; }
        NOTES+=("wrk $name: $non2xx of $reqs responses were non-2xx/3xx")
    fi
    local errs
    errs=$(grep -m1 'Socket errors:' "$out" || true)
    [[ -z $errs ]] || NOTES+=("wrk $name: ${errs#"${errs%%[![:space:]]*}"}")
    sleep 1 # let the server settle between runs
}

wrk_rps() { # FILE -> requests/sec
    local v
    v=$(awk '$1 == "Requests/sec:" {print $2}' "$1")
    [[ -n $v ]] || { cat "$1" >&2; die "no 'Requests/sec:' line in wrk output $1"; }
    echo "$v"
}

wrk_pct_ms() { # FILE PERCENT -> latency in ms from wrk's --latency distribution
    local v
    v=$(awk -v p="$2%" '
        function to_ms(s,   n, u) {
            n = s + 0; u = s; sub(/^[0-9.]+/, "", u)
            if (u == "us") return n / 1000
            if (u == "ms") return n
            if (u == "s")  return n * 1000
            if (u == "m")  return n * 60000
            if (u == "h")  return n * 3600000
            return ""
        }
        /Latency Distribution/ { dist = 1; next }
        dist && $1 == p { v = to_ms($2); if (v != "") printf "%.3f\n", v; exit }
    ' "$1")
    [[ -n $v ]] || { cat "$1" >&2; die "wrk output $1 has no $2% latency line (is this wrk 4 with --latency?)"; }
    echo "$v"
}

# tls_probe NAME PORT: sets PROBE_TLS (e.g. "TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384"),
# PROBE_RESUMES (yes/no/unknown): does the server resume a TLS session (ticket
# or session id) that openssl s_client offers on a second connection?, and
# PROBE_CLOSES (yes/no): does it close the connection after answering a
# "Connection: close" request (otherwise wrk would not reconnect)?
tls_probe() {
    local name=$1 port=$2 sess="$TMP/probe-$1.sess" f1="$TMP/probe-$1-1.txt" f2="$TMP/probe-$1-2.txt"
    local req=$'GET /api2/json/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
    local rc=0
    PROBE_TLS=unknown PROBE_RESUMES=unknown PROBE_CLOSES=yes
    printf '%s' "$req" | timeout -k 2 15 openssl s_client -connect "127.0.0.1:$port" \
        -sess_out "$sess" -ign_eof >"$f1" 2>&1 || rc=$?
    ((rc != 124 && rc != 137)) || PROBE_CLOSES=no
    PROBE_TLS=$(sed -n '/^New, /{s/^New, //p;q;}' "$f1")
    [[ -n $PROBE_TLS ]] || PROBE_TLS=unknown
    [[ -s $sess ]] || return 0
    printf '%s' "$req" | timeout -k 2 15 openssl s_client -connect "127.0.0.1:$port" \
        -sess_in "$sess" -ign_eof >"$f2" 2>&1 || true
    if grep -q '^Reused,' "$f2"; then
        PROBE_RESUMES=yes
    elif grep -q '^New,' "$f2"; then
        PROBE_RESUMES=no
    fi
}

# run_stime NAME PORT: full TLS handshakes/s measured by 8 parallel
# `openssl s_time -new` (a fresh session for every connection); sets STIME_HS.
run_stime() {
    local name=$1 port=$2 procs=8 i t0 t1 n total=0 pids=()
    log "openssl s_time -new x$procs: $name, ${BENCH_SECONDS}s"
    t0=$EPOCHREALTIME
    for ((i = 0; i < procs; i++)); do
        timeout -k 5 $((BENCH_SECONDS + 30)) openssl s_time -new -connect "127.0.0.1:$port" \
            -time "$BENCH_SECONDS" >"$TMP/stime-$name-$i.txt" 2>&1 &
        pids+=("$!")
        PIDS+=("$!")
    done
    for i in "${pids[@]}"; do wait "$i" || true; done
    t1=$EPOCHREALTIME
    for ((i = 0; i < procs; i++)); do
        n=$(awk '$2 == "connections" && $3 == "in" && $4 ~ /s;$/ {print $1; exit}' "$TMP/stime-$name-$i.txt")
        [[ -n $n ]] || { tail -n 5 "$TMP/stime-$name-$i.txt" >&2; die "openssl s_time against $name failed"; }
        total=$((total + n))
    done
    ((total > 0)) || die "openssl s_time against $name made no connection"
    STIME_HS=$(awk -v n="$total" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", n / (b - a) }')
    sleep 1
}

# idle_test NAME PID PORT: sets IDLE_HELD, IDLE_BASE_KB, IDLE_RSS_KB, IDLE_FDS
idle_test() {
    local name=$1 pid=$2 port=$3
    local fifo="$TMP/idle-$name.in" out="$TMP/idle-$name.out" err="$TMP/idle-$name.err"
    local setup_timeout=$((60 + BENCH_IDLE / 50)) ipid deadline a b i
    IDLE_BASE_KB=$(rss_kb "$pid")
    log "idle $name: opening $BENCH_IDLE keep-alive TLS connections (RSS before: $(kb_to_mb "$IDLE_BASE_KB") MB)"
    mkfifo "$fifo"
    "$PY" "$HERE/idle_conns.py" "127.0.0.1:$port" --count "$BENCH_IDLE" \
        --timeout "$setup_timeout" --hold $((setup_timeout + 120)) <"$fifo" >"$out" 2>"$err" &
    ipid=$!
    PIDS+=("$ipid")
    exec {IDLE_WFD}>"$fifo"
    deadline=$((SECONDS + setup_timeout + 30))
    until grep -q '^READY ' "$out"; do
        kill -0 "$ipid" 2>/dev/null || break
        ((SECONDS < deadline)) || break
        sleep 0.2
    done
    IDLE_HELD=$(awk '$1 == "READY" {print $2}' "$out")
    if [[ -z $IDLE_HELD || $IDLE_HELD == 0 ]]; then
        cat "$err" >&2
        die "idle $name: idle_conns.py did not establish any connection"
    fi
    kill -0 "$pid" 2>/dev/null || die "idle $name: server process $pid died"
    # Sample twice (right away and after 2 s) and keep the larger value.
    a=$(rss_kb "$pid")
    sleep 2
    b=$(rss_kb "$pid")
    IDLE_RSS_KB=$((a > b ? a : b))
    IDLE_FDS=$(fd_count "$pid")
    log "idle $name: $(head -n1 "$err")"
    log "idle $name: holding $IDLE_HELD connections, RSS $(kb_to_mb "$IDLE_RSS_KB") MB, $IDLE_FDS fds open"
    local non200
    non200=$(sed -n 's/.* non200=\([0-9][0-9]*\).*/\1/p' "$err" | head -n1)
    [[ -z $non200 || $non200 == 0 ]] || NOTES+=("idle $name: $non200 of the idle connections got a non-200 answer")
    ((IDLE_HELD == BENCH_IDLE)) || NOTES+=("idle $name: only $IDLE_HELD of $BENCH_IDLE connections could be established ($(head -n1 "$err"))")
    # Release: close idle_conns.py's stdin, give it 30 s to close everything.
    exec {IDLE_WFD}>&-
    IDLE_WFD=""
    for ((i = 0; i < 300; i++)); do
        kill -0 "$ipid" 2>/dev/null || break
        sleep 0.1
    done
    stop_pid "$ipid"
    grep -q '^RELEASED ' "$out" || NOTES+=("idle $name: idle_conns.py did not report releasing its connections")
    local closed
    closed=$(sed -n 's/.* \([0-9][0-9]*\) closed by the server while held.*/\1/p' "$err")
    if [[ -n $closed && $closed != 0 ]]; then
        NOTES+=("idle $name: the server closed $closed idle connections while they were held")
    fi
    sleep 1
}

NOTES=()

# ---------------------------------------------------------------- corrald
if ! ulimit -n 65536 2>/dev/null; then
    hard=$(ulimit -Hn)
    ulimit -n "$hard"
    log "could not raise the fd limit to 65536; using the hard limit $hard"
fi
FD_LIMIT=$(ulimit -n)
if [[ $FD_LIMIT != unlimited ]] && ((FD_LIMIT < BENCH_IDLE + 256)); then
    NOTES+=("fd limit is $FD_LIMIT, too low for $BENCH_IDLE idle connections")
fi

log "starting corrald ($CORRALD) on 127.0.0.1:$CORRALD_PORT, data in $TMP/node"
mkdir -p "$TMP/node"
"$CORRALD" --local --config /dev/null --data-dir "$TMP/node" --listen "127.0.0.1:$CORRALD_PORT" --nodename bench \
    >"$TMP/corrald.log" 2>&1 &
CORRALD_PID=$!
PIDS+=("$CORRALD_PID")
CORRALD_URL="https://127.0.0.1:$CORRALD_PORT/api2/json/version"
wait_http_200 "https://127.0.0.1:$CORRALD_PORT/api2/json/access/domains" "$CORRALD_PID" corrald 30
# every API call needs a login: an administrator written into the mounted tree (as root does on a
# node), logged in once; wrk sends its ticket cookie, so each request pays for ticket checking
printf 'user:bench@pve:1:0::::::\nacl:1:/:bench@pve:Administrator:\n' >"$TMP/node/pve/user.cfg"
printf 'bench:%s:\n' "$(openssl passwd -6 bench-password)" >"$TMP/node/pve/priv/shadow.cfg"
TICKET=$(curl -sk -d username=bench@pve -d password=bench-password "https://127.0.0.1:$CORRALD_PORT/api2/json/access/ticket" |
    "$PY" -c 'import json, sys, urllib.parse; print(urllib.parse.quote(json.load(sys.stdin)["data"]["ticket"], safe=""))') ||
    die "could not log in to corrald"
COOKIE="PVEAuthCookie=$TICKET"
START_RSS_KB=$(rss_kb "$CORRALD_PID")

CERT="$TMP/node/pve/nodes/bench/pve-ssl.pem"
KEY="$TMP/node/pve/nodes/bench/pve-ssl.key"
[[ -s $CERT ]] || die "corrald did not write its node certificate $CERT"
[[ -s $KEY ]] || die "corrald did not write its node key $KEY"
CERT_KEY=$(openssl x509 -in "$CERT" -noout -text 2>/dev/null |
    awk '/Public Key Algorithm:/ {sub(/.*: /, ""); alg = $0} /NIST CURVE:|ASN1 OID:/ && !c {sub(/.*: /, ""); c = $0} END {print alg (c ? " " c : "")}')

code=$(curl -sk --max-time 5 -b "$COOKIE" -D "$TMP/version.headers" -o "$TMP/version.json" -w '%{http_code}' "$CORRALD_URL" || true)
[[ $code == 200 ]] || die "GET $CORRALD_URL answered $code"
[[ -s $TMP/version.json ]] || die "GET $CORRALD_URL returned an empty body"
log "version body: $(head -c 200 "$TMP/version.json")"

# ---------------------------------------------------------------- nginx
NG="$TMP/nginx"
mkdir -p "$NG/logs" "$NG/tmp"
NG_NOFILE=$((BENCH_IDLE * 2 + 2048))
[[ $FD_LIMIT == unlimited ]] || ((NG_NOFILE <= FD_LIMIT)) || NG_NOFILE=$FD_LIMIT
NG_CONNS=$((BENCH_IDLE + 1024))
((NG_CONNS <= NG_NOFILE)) || NG_CONNS=$NG_NOFILE
user_line=""
[[ $(id -u) == 0 ]] && user_line="user root root;"  # workers must read files in the 0700 temp dir
cat >"$NG/nginx.conf" <<EOF
$user_line
worker_processes auto;
worker_rlimit_nofile $NG_NOFILE;
daemon off;
pid $NG/nginx.pid;
error_log $NG/logs/error.log warn;
events {
    worker_connections $NG_CONNS;
}
http {
    # the same access log corrald keeps: a line per request, written in 32 KiB batches or once a second
    log_format corral '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status \$body_bytes_sent';
    access_log $NG/logs/access.log corral buffer=32k flush=1s;
    client_body_temp_path $NG/tmp/client_body;
    proxy_temp_path $NG/tmp/proxy;
    fastcgi_temp_path $NG/tmp/fastcgi;
    uwsgi_temp_path $NG/tmp/uwsgi;
    scgi_temp_path $NG/tmp/scgi;
    keepalive_timeout 600s;
    keepalive_requests 1000000;
    open_file_cache max=16 inactive=600s;
    open_file_cache_valid 600s;
    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        ssl_certificate $CERT;
        ssl_certificate_key $KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        # No session resumption: wrk reuses TLS sessions when it reconnects,
        # so this keeps every "Connection: close" request a full handshake.
        ssl_session_cache off;
        ssl_session_tickets off;
        location = /api2/json/version {
            types { }
            default_type "application/json;charset=UTF-8";
            alias $TMP/version.json;
        }
        location / {
            return 404;
        }
    }
}
EOF
NGINX_ARGS=(-p "$NG/" -e "$NG/logs/error.log" -c "$NG/nginx.conf")
"$NGINX" "${NGINX_ARGS[@]}" -t >"$NG/logs/test.log" 2>&1 || { cat "$NG/logs/test.log" >&2; die "nginx rejected its configuration"; }
log "starting nginx on 127.0.0.1:$NGINX_PORT"
"$NGINX" "${NGINX_ARGS[@]}" >"$NG/logs/stdout.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
NGINX_URL="https://127.0.0.1:$NGINX_PORT/api2/json/version"
wait_http_200 "$NGINX_URL" "$NGINX_PID" nginx 30
curl -sk --max-time 5 -o "$TMP/version.nginx" "$NGINX_URL" || die "GET $NGINX_URL failed"
cmp -s "$TMP/version.json" "$TMP/version.nginx" || die "nginx does not serve the same body as corrald"

# ---------------------------------------------------------------- measurements
tls_probe corrald "$CORRALD_PORT"
C_TLS=$PROBE_TLS C_RESUMES=$PROBE_RESUMES C_CLOSES=$PROBE_CLOSES
tls_probe nginx "$NGINX_PORT"
N_TLS=$PROBE_TLS N_RESUMES=$PROBE_RESUMES
log "TLS corrald: $C_TLS, resumes sessions: $C_RESUMES; nginx: $N_TLS, resumes sessions: $N_RESUMES"
[[ $C_CLOSES == yes ]] || NOTES+=("corrald kept the connection open after answering a 'Connection: close' request: wrk then keeps it alive, so the wrk handshake figure is NOT a handshake rate")
[[ $N_RESUMES != yes ]] || NOTES+=("nginx unexpectedly resumed a TLS session: its handshakes/s may not be full handshakes")
[[ $C_TLS == "$N_TLS" ]] || NOTES+=("corrald and nginx negotiate different TLS parameters: corrald '$C_TLS', nginx '$N_TLS'")
# server CPU time per request: steadier than req/s on a small machine, where wrk and the server share
# the cores and the scheduler's placement moves throughput by a third from run to run
# keep-alive rounds alternate between the servers; each server's figure is its median round (the
# round itself is kept as wrk-NAME-keepalive.txt for its latencies), CPU per request is over all rounds
C_TICKS=0 C_REQS=0 N_TICKS=0 N_REQS=0
for ((round = 1; round <= BENCH_ROUNDS; round++)); do
    T0=$(cpu_ticks "$CORRALD_PID")
    run_wrk "corrald-keepalive-$round" "$CORRALD_URL" -H "Cookie: $COOKIE"
    C_TICKS=$((C_TICKS + $(cpu_ticks "$CORRALD_PID") - T0))
    C_REQS=$((C_REQS + $(wrk_requests "$TMP/wrk-corrald-keepalive-$round.txt")))
    T0=$(cpu_ticks "$NGINX_PID")
    run_wrk "nginx-keepalive-$round" "$NGINX_URL" -H "Cookie: $COOKIE"
    N_TICKS=$((N_TICKS + $(cpu_ticks "$NGINX_PID") - T0))
    N_REQS=$((N_REQS + $(wrk_requests "$TMP/wrk-nginx-keepalive-$round.txt")))
done
C_CPU_US=$(cpu_us_per_request "$C_TICKS" "$C_REQS")
N_CPU_US=$(cpu_us_per_request "$N_TICKS" "$N_REQS")
median_round() { # NAME -> the round file with the median req/s
    local f
    for f in "$TMP"/wrk-"$1"-keepalive-*.txt; do echo "$(wrk_rps "$f") $f"; done | sort -n | awk '{a[NR] = $2} END {print a[int((NR + 1) / 2)]}'
}
cp "$(median_round corrald)" "$TMP/wrk-corrald-keepalive.txt"
cp "$(median_round nginx)" "$TMP/wrk-nginx-keepalive.txt"
C_ROUNDS=$(for ((r = 1; r <= BENCH_ROUNDS; r++)); do printf '%.0f ' "$(wrk_rps "$TMP/wrk-corrald-keepalive-$r.txt")"; done)
N_ROUNDS=$(for ((r = 1; r <= BENCH_ROUNDS; r++)); do printf '%.0f ' "$(wrk_rps "$TMP/wrk-nginx-keepalive-$r.txt")"; done)
run_wrk corrald-handshake "$CORRALD_URL" -H 'Connection: close' -H "Cookie: $COOKIE"
run_wrk nginx-handshake "$NGINX_URL" -H 'Connection: close' -H "Cookie: $COOKIE"

C_RPS=$(wrk_rps "$TMP/wrk-corrald-keepalive.txt")
N_RPS=$(wrk_rps "$TMP/wrk-nginx-keepalive.txt")
C_P50=$(wrk_pct_ms "$TMP/wrk-corrald-keepalive.txt" 50)
N_P50=$(wrk_pct_ms "$TMP/wrk-nginx-keepalive.txt" 50)
C_P99=$(wrk_pct_ms "$TMP/wrk-corrald-keepalive.txt" 99)
N_P99=$(wrk_pct_ms "$TMP/wrk-nginx-keepalive.txt" 99)
C_HS=$(wrk_rps "$TMP/wrk-corrald-handshake.txt")
N_HS=$(wrk_rps "$TMP/wrk-nginx-handshake.txt")
HS_TOOL=wrk
if [[ $C_RESUMES == yes || $C_CLOSES == no ]]; then
    # wrk offers the previous TLS session when it reconnects; corrald accepts
    # it, so wrk's corrald figure counts abbreviated handshakes.  Measure full
    # handshakes for both servers with openssl s_time -new instead.
    WRK_C_HS=$C_HS WRK_N_HS=$N_HS
    [[ $C_RESUMES != yes ]] || NOTES+=("corrald resumes TLS sessions and wrk reuses them on reconnect, so 'full handshakes/s' comes from 'openssl s_time -new' (8 processes, handshake only, no HTTP request); wrk's Connection: close figures (resumed for corrald) are shown separately")
    run_stime corrald "$CORRALD_PORT"
    C_HS=$STIME_HS
    run_stime nginx "$NGINX_PORT"
    N_HS=$STIME_HS
    HS_TOOL="openssl s_time -new"
elif [[ $C_RESUMES == unknown ]]; then
    NOTES+=("could not tell whether corrald resumes TLS sessions (see probe-corrald-*.txt); if it does, its wrk handshakes/s counts resumed handshakes")
fi

idle_test corrald "$CORRALD_PID" "$CORRALD_PORT"
C_HELD=$IDLE_HELD C_BASE_KB=$IDLE_BASE_KB C_IDLE_KB=$IDLE_RSS_KB C_FDS=$IDLE_FDS
kill -0 "$CORRALD_PID" 2>/dev/null || die "corrald died during the idle-connection test"
C_HWM_KB=$(rss_kb "$CORRALD_PID" VmHWM)
idle_test nginx "$NGINX_PID" "$NGINX_PORT"
N_HELD=$IDLE_HELD N_BASE_KB=$IDLE_BASE_KB N_IDLE_KB=$IDLE_RSS_KB

# ---------------------------------------------------------------- report
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a ~ /^[0-9.]+$/ && a + 0 >= b + 0) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a ~ /^[0-9.]+$/ && a + 0 < b + 0) }'; }
pf() { if "$@"; then echo PASS; else echo FAIL; fi; }

RPS_RATIO=$(ratio "$C_RPS" "$N_RPS")
HS_RATIO=$(ratio "$C_HS" "$N_HS")
C_IDLE_MB=$(kb_to_mb "$C_IDLE_KB")
PER_CONN_KB=$(awk -v a="$C_IDLE_KB" -v b="$C_BASE_KB" -v n="$C_HELD" 'BEGIN { printf "%.1f", (a - b) / n }')
N_PER_CONN_KB=$(awk -v a="$N_IDLE_KB" -v b="$N_BASE_KB" -v n="$N_HELD" 'BEGIN { printf "%.1f", (a - b) / n }')

row() { printf '%-32s %12s %12s %8s   %s\n' "$@"; }
echo
echo "Corral HTTP benchmark: corrald vs nginx, 127.0.0.1, wrk -t2 -c50 -d${BENCH_SECONDS}s"
echo "host: $(nproc) CPUs, $(uname -r); load generator and servers share the CPUs"
echo "corrald: $CORRALD; nginx: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'); certificate key: ${CERT_KEY:-unknown}"
echo "TLS: corrald $C_TLS (resumes sessions: $C_RESUMES); nginx $N_TLS (resumption disabled)"
echo "handshakes measured with: $HS_TOOL"
echo "keep-alive rounds (req/s, alternating, median counts): corrald $C_ROUNDS; nginx $N_ROUNDS"
echo
row metric corrald nginx ratio target
row "https keep-alive req/s" "$C_RPS" "$N_RPS" "$RPS_RATIO" ">= 0.80"
row "  server CPU us per request" "$C_CPU_US" "$N_CPU_US" "$(ratio "$N_CPU_US" "$C_CPU_US")" "(nginx's / ours)"
row "p50 latency ms" "$C_P50" "$N_P50" "" ""
row "p99 latency ms" "$C_P99" "$N_P99" "" "< 5"
row "full handshakes/s" "$C_HS" "$N_HS" "$HS_RATIO" ">= 0.70"
if [[ $HS_TOOL != wrk ]]; then
    row "  wrk Connection: close conns/s" "$WRK_C_HS" "$WRK_N_HS" "$(ratio "$WRK_C_HS" "$WRK_N_HS")" "(not full handshakes for corrald)"
fi
row "RSS after start MB" "$(kb_to_mb "$START_RSS_KB")" "" "" ""
row "RSS idle MB (baseline)" "$(kb_to_mb "$C_BASE_KB")" "$(kb_to_mb "$N_BASE_KB")" "" ""
row "RSS with $BENCH_IDLE idle conns MB" "$C_IDLE_MB" "$(kb_to_mb "$N_IDLE_KB")" "" "< 200"
row "  idle conns actually held" "$C_HELD" "$N_HELD" "" ""
row "  KB per idle conn" "$PER_CONN_KB" "$N_PER_CONN_KB" "" ""
row "  corrald open fds while held" "$C_FDS" "" "" ""
row "peak RSS (VmHWM, whole run) MB" "$(kb_to_mb "$C_HWM_KB")" "" "" ""
echo
echo "targets (informational):"
echo "  $(pf ge "$RPS_RATIO" 0.80)  keep-alive req/s ratio $RPS_RATIO >= 0.80"
echo "  $(pf lt "$C_P99" 5)  p99 latency ${C_P99} ms < 5"
echo "  $(pf ge "$HS_RATIO" 0.70)  full handshakes/s ratio $HS_RATIO >= 0.70"
idle_ok() { ((C_HELD == BENCH_IDLE)) && lt "$C_IDLE_MB" 200; }
echo "  $(pf idle_ok)  RSS with $C_HELD/$BENCH_IDLE idle conns ${C_IDLE_MB} MB < 200"
if ((${#NOTES[@]})); then
    echo
    echo "notes:"
    for n in "${NOTES[@]}"; do echo "  - $n"; done
fi
echo

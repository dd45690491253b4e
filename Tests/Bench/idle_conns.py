#!/usr/bin/env python3
"""Hold many idle keep-alive TLS connections open against an HTTPS server.

Used by Tests/Bench/bench.sh to measure a server's memory with N idle
connections.  Standard library only (ssl + selectors, non-blocking).

For each of --count connections to HOST:PORT it: connects, completes the TLS
handshake (certificate verification off), sends one
"GET /api2/json/version HTTP/1.1" request and reads the whole response, so
every connection is a real, used keep-alive connection.  At most
--concurrency connections are in progress (connect/handshake/request) at
once.  When every connection is established (or has failed, or --timeout
elapsed) it prints "READY <n>" on stdout, n being the number of connections
open at that moment, then holds them until stdin reaches EOF or --hold
seconds elapse, closes them and prints "RELEASED <n>".  A summary goes to
stderr.  Exit status: 0 if at least one connection was held, 1 otherwise.
"""

import argparse
import errno
import os
import resource
import selectors
import socket
import ssl
import sys
import time

CONNECTING, HANDSHAKE, SENDING, READING, IDLE = range(5)


class Conn:
    __slots__ = ("sock", "state", "out", "buf", "started", "events")

    def __init__(self, sock, started):
        self.sock = sock
        self.state = CONNECTING
        self.out = b""
        self.buf = b""
        self.started = started
        self.events = 0


def response_status(buf):
    """Return (complete, status) for an HTTP/1.1 response held in buf."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False, None
    lines = buf[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        status = None
    body = buf[end + 4:]
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == "content-length":
            try:
                return len(body) >= int(value), status
            except ValueError:
                return True, status
        if name == "transfer-encoding" and "chunked" in value:
            return body.endswith(b"0\r\n\r\n"), status
    return True, status  # no body framing: headers only (e.g. 204/304)


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return soft
    try:
        if hard != resource.RLIM_INFINITY and hard < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
        else:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    except (ValueError, OSError):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("target", help="HOST:PORT of the HTTPS server")
    ap.add_argument("--count", type=int, default=10000,
                    help="number of connections (default 10000)")
    ap.add_argument("--hold", type=float, default=300.0,
                    help="seconds to hold the connections at most (default 300)")
    ap.add_argument("--concurrency", type=int, default=200,
                    help="connections in progress at once (default 200)")
    ap.add_argument("--timeout", type=float, default=300.0,
                    help="seconds allowed to establish all connections (default 300)")
    ap.add_argument("--conn-timeout", type=float, default=30.0,
                    help="seconds allowed for one connection to be established (default 30)")
    ap.add_argument("--path", default="/api2/json/version",
                    help="request path (default /api2/json/version)")
    args = ap.parse_args()

    host, sep, port = args.target.rpartition(":")
    if not sep or not host or not port.isdigit():
        ap.error("target must be HOST:PORT")
    addr = (host.strip("[]"), int(port))
    family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    count = max(0, args.count)
    concurrency = max(1, args.concurrency)
    request = ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % args.path).encode()

    limit = raise_nofile(count + concurrency + 64)
    if limit != resource.RLIM_INFINITY and limit < count + 16:
        print("idle_conns: warning: RLIMIT_NOFILE is %d, fewer than the %d "
              "connections asked for can be opened" % (limit, count),
              file=sys.stderr)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    sel = selectors.DefaultSelector()
    conns = set()          # every open connection (in progress or idle)
    inflight = 0
    launched = established = failed = non200 = closed_by_server = 0
    first_error = None
    status_seen = {}

    def want(c, events):
        if c.events == events:
            return
        if c.events:
            sel.modify(c.sock, events, c)
        else:
            sel.register(c.sock, events, c)
        c.events = events

    def drop(c):
        if c.events:
            try:
                sel.unregister(c.sock)
            except (KeyError, ValueError, OSError):
                pass
            c.events = 0
        try:
            c.sock.close()
        except OSError:
            pass
        conns.discard(c)

    def fail(c, why):
        nonlocal inflight, failed, first_error
        if first_error is None:
            first_error = why
        failed += 1
        inflight -= 1
        drop(c)

    def start():
        nonlocal inflight, launched, failed, first_error
        launched += 1
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
        except OSError as e:
            failed += 1
            if first_error is None:
                first_error = "socket(): %s" % e
            return
        s.setblocking(False)
        c = Conn(s, time.monotonic())
        conns.add(c)
        inflight += 1
        err = s.connect_ex(addr)
        if err in (0, errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY):
            want(c, selectors.EVENT_WRITE)
        else:
            fail(c, "connect: %s" % os.strerror(err))

    def step(c):
        """Advance connection c as far as it can go without blocking."""
        nonlocal inflight, established, non200, closed_by_server
        try:
            if c.state == CONNECTING:
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    fail(c, "connect: %s" % os.strerror(err))
                    return
                sel.unregister(c.sock)
                c.events = 0
                c.sock = ctx.wrap_socket(c.sock, do_handshake_on_connect=False)
                c.state = HANDSHAKE
            if c.state == HANDSHAKE:
                c.sock.do_handshake()
                c.state = SENDING
                c.out = request
            if c.state == SENDING:
                while c.out:
                    n = c.sock.send(c.out)
                    c.out = c.out[n:]
                c.state = READING
            if c.state == READING:
                while True:
                    data = c.sock.recv(65536)
                    if not data:
                        fail(c, "server closed the connection before responding")
                        return
                    c.buf += data
                    done, status = response_status(c.buf)
                    if done:
                        break
                status_seen[status] = status_seen.get(status, 0) + 1
                if status != 200:
                    non200 += 1
                c.buf = b""
                c.state = IDLE
                inflight -= 1
                established += 1
                want(c, selectors.EVENT_READ)
                return
            if c.state == IDLE:
                # Readable while idle: TLS records (e.g. session tickets),
                # stray data, or the server closing the connection.
                while True:
                    data = c.sock.recv(65536)
                    if not data:
                        closed_by_server += 1
                        drop(c)
                        return
        except ssl.SSLWantReadError:
            want(c, selectors.EVENT_READ)
        except ssl.SSLWantWriteError:
            want(c, selectors.EVENT_WRITE)
        except (OSError, ssl.SSLError) as e:
            if c.state == IDLE:
                closed_by_server += 1
                drop(c)
            else:
                fail(c, "%s: %s" % (("connect", "handshake", "send", "read")[c.state], e))

    t0 = time.monotonic()
    deadline = t0 + max(1.0, args.timeout)
    last_sweep = t0
    while True:
        now = time.monotonic()
        while launched < count and inflight < concurrency and now < deadline:
            start()
        if launched >= count and inflight == 0:
            break
        if now >= deadline:
            for c in [c for c in conns if c.state != IDLE]:
                fail(c, "timed out establishing connections")
            break
        for key, _ in sel.select(timeout=0.5):
            step(key.data)
        if now - last_sweep >= 1.0:
            last_sweep = now
            for c in [c for c in conns if c.state != IDLE]:
                if now - c.started > args.conn_timeout:
                    fail(c, "connection not established within %gs" % args.conn_timeout)

    setup = time.monotonic() - t0
    held = len(conns)
    print("READY %d" % held, flush=True)
    print("idle_conns: established=%d failed=%d non200=%d closed_by_server=%d "
          "in %.1fs%s%s" % (
              established, failed, non200, closed_by_server, setup,
              " statuses=%s" % dict(status_seen) if non200 else "",
              " first_error=%r" % first_error if first_error else ""),
          file=sys.stderr, flush=True)
    if held == 0:
        return 1

    # Hold until stdin closes or --hold elapses.
    stdin_fd = sys.stdin.fileno() if sys.stdin is not None else -1
    watching_stdin = False
    if stdin_fd >= 0:
        try:
            sel.register(stdin_fd, selectors.EVENT_READ, None)
            watching_stdin = True
        except (OSError, ValueError):
            print("idle_conns: stdin cannot be watched; holding for %gs" % args.hold,
                  file=sys.stderr, flush=True)
    hold_end = time.monotonic() + max(0.0, args.hold)
    released_by = "hold time elapsed"
    done = False
    while not done:
        left = hold_end - time.monotonic()
        if left <= 0:
            break
        for key, _ in sel.select(timeout=min(left, 1.0)):
            if key.data is None:
                try:
                    chunk = os.read(stdin_fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    released_by = "stdin closed"
                    done = True
            else:
                step(key.data)

    open_now = len(conns)
    for c in list(conns):
        drop(c)
    print("RELEASED %d" % open_now, flush=True)
    print("idle_conns: released %d connections (%s); %d closed by the server "
          "while held" % (open_now, released_by, closed_by_server),
          file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

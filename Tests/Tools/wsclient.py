"""A minimal RFC 6455 WebSocket client (ssl + socket) for tests that speak to corrald's tunnels,
and `termproxy_probe`: opens a guest's terminal through termproxy and vncwebsocket as a browser does,
types a line and returns what came back.
    python3 Tests/Tools/wsclient.py PORT COOKIE CSRF /nodes/N/lxc/200 'echo hi-$((6*7))' hi-42
"""
import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import time
import urllib.parse
import urllib.request


class Failure(Exception):
    pass


class WebSocketRefused(Exception):
    """The server answered the upgrade with something other than 101."""

    def __init__(self, status, reason):
        super().__init__(f"HTTP {status} {reason}")
        self.status = status


class WebSocket:
    """A minimal RFC 6455 client on ssl + socket: the handshake, masked client frames, and reading
    text and binary messages. Pings and pongs are skipped (not answered); a close frame ends it."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, host, port, target, headers, timeout=10):
        raw = socket.create_connection((host, port), timeout=timeout)
        self.sock = ssl._create_unverified_context().wrap_socket(raw, server_hostname=host)
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        head = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
                f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: binary"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        response, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = response.decode("iso-8859-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        if status != 101:
            self.close(send_close=False)
            raise WebSocketRefused(status, parts[2] if len(parts) > 2 else "")
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        accept = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
        if fields.get("sec-websocket-accept") != accept:
            self.close(send_close=False)
            raise Failure(f"bad Sec-WebSocket-Accept {fields.get('sec-websocket-accept')!r} (expected {accept!r})")

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError from None
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buf += chunk

    def _take(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, data, opcode=0x1):
        payload = data.encode() if isinstance(data, str) else bytes(data)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload)))

    def receive(self, deadline):
        """The next message as ("text" | "binary", bytes), or ("close", b"") at a close frame.
        Raises TimeoutError when the deadline (time.monotonic()) passes first."""
        kind, parts = None, []
        while True:
            b0, b1 = self._take(2, deadline)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._take(2, deadline))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._take(8, deadline))[0]
            mask = self._take(4, deadline) if b1 & 0x80 else None
            payload = self._take(n, deadline)
            if mask:
                payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
            if opcode == 0x8:
                return "close", b""
            if opcode in (0x9, 0xA):
                continue
            if opcode in (0x1, 0x2):
                kind, parts = ("text" if opcode == 0x1 else "binary"), [payload]
            elif opcode == 0x0 and kind:
                parts.append(payload)
            else:
                raise Failure(f"unexpected WebSocket frame (opcode {opcode})")
            if b0 & 0x80:
                return kind, b"".join(parts)

    def close(self, send_close=True):
        try:
            if send_close:
                self.send(struct.pack("!H", 1000), opcode=0x8)
            self.sock.close()
        except OSError:
            pass


def termproxy_probe(port, cookie, csrf, base, line, expect, timeout=10, host="127.0.0.1"):
    """termproxy, then its WebSocket: log in, set the size, type `line`; the output up to `expect`."""
    auth = {"Cookie": "PVEAuthCookie=" + cookie, "CSRFPreventionToken": csrf}  # the cookie's value as sent
    request = urllib.request.Request(f"https://{host}:{port}/api2/json{base}/termproxy", data=b"", method="POST", headers=auth)
    proxy = json.load(urllib.request.urlopen(request, context=ssl._create_unverified_context()))["data"]
    query = urllib.parse.urlencode({"port": proxy["port"], "vncticket": proxy["ticket"]})
    ws = WebSocket(host, port, f"/api2/json{base}/vncwebsocket?{query}", {"Cookie": auth["Cookie"]})
    try:
        ws.send(f"{proxy['user']}:{proxy['ticket']}\n", opcode=2)
        ws.send("1:100:30:", opcode=2)
        # as a person would: type once the terminal has shown something, or has stayed quiet for a second
        out = b""
        try:
            kind, data = ws.receive(time.monotonic() + 1)
            out += data
        except TimeoutError:
            pass
        time.sleep(0.3)
        text = line + "\n"
        ws.send(f"0:{len(text.encode())}:{text}", opcode=2)
        deadline = time.monotonic() + timeout
        while expect.encode() not in out.replace(line.encode(), b""):
            kind, data = ws.receive(deadline)
            if kind == "close":
                break
            out += data
        return out.decode(errors="replace")
    finally:
        ws.close()


if __name__ == "__main__":
    port, cookie, csrf, base, line, expect = sys.argv[1:7]
    try:
        # WSCLIENT_HOST: a node listening on an address of its own (cluster tests)
        out = termproxy_probe(int(port), cookie, csrf, base, line, expect, host=os.environ.get("WSCLIENT_HOST", "127.0.0.1"))
    except (TimeoutError, ConnectionError, Failure) as error:
        sys.exit(f"termproxy probe: {error}")
    print(out)
    sys.exit(0 if expect in out.replace(line, "") else 1)

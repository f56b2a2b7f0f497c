# SPDX-License-Identifier: BSD-2-Clause
"""The reverse proxy (upstreams, `proxy = "NAME"`, --proxy): small upstream
servers the tests start, which can misbehave on command (by path): GET,
HEAD, POST and PUT round trips byte-exact (8 MiB both ways, chunked and
not), keep-alive reuse of upstream connections counted at the upstream,
502 for a refused connection, a reset, a malformed head, both
Content-Length and Transfer-Encoding, two Content-Lengths, a bad chunk and
a short body; 504 when the server does not answer or take the request in
time; a retry on the second server for GET but not for POST, and for a
PUT with its body (kept up to retry_body_max) sent again byte-exact; passive
health; round robin and least_conn spreading; X-Forwarded-*, Forwarded and
Via set and hop-by-hop fields dropped both ways; a slow client on a
fast upstream with htd's memory staying bounded; and long bodies spliced
through a pipe a loop keeps: byte-exact, pipelined, several at once, cut
short by the server or left by the client, with no pipe left behind; and a
response sent behind a body (spliced, or ending where a read ends) never
taken for the next request's; a priced path's charge settling at the last
byte of a spliced body."""

import base64
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import zlib

import harness
from harness import ConfDir, check, connect, eq, get, req, start_htd_config, wait_until


def pattern(n):
    block = hashlib.sha256(b"htd").digest() * 32  # 1 KiB
    return (block * (n // len(block) + 1))[:n]


HTML_PIECES = {
    "split": (b"<html><body><p>hello</p></bo", b"dy>\n</html>\n"),
    "length": (b"<html><BODY><p>hello</p></BODY", b">\n</html>\n"),
    "chunked": (b"<html><body>a < b <", b"/body >\n</html>"),
    "none": (b"<p>no end tag, and a near miss: </bod", b"y, </bodyguard>"),
    "no-transform": (b"<html><body>kept</bo", b"dy></html>"),
    "gzip": (b"\x1f\x8b not really </bo", b"dy> gzip"),
    "json": (b'{"html": "</bo', b'dy>"}'),
}
APPEND = b"<script src=/x.js></script>"


class Upstream:
    """An HTTP/1.1 server on 127.0.0.1 with a thread per connection; what
    it does is chosen by the request's path. It counts the connections it
    accepted and the requests it served."""

    def __init__(self, name="up", port=0, unix=None):
        self.name = name
        if unix:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.bind(unix)
            self.port = None
        else:
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", port))
            self.port = self.sock.getsockname()[1]
        self.sock.listen(64)
        self.accepted = 0
        self.requests = []  # (method, target, headers, body)
        self.cut = 0  # requests reset in the middle of their body (/cut-if/NAME)
        self.lock = threading.Lock()
        self.closing = False
        self.conns = []
        self.stall = threading.Event()
        self.health = "ok"  # its health check paths: "ok", "503", "garbage", "silent"
        self.checks = {}  # health check path: times asked
        threading.Thread(target=self._accept, daemon=True).start()

    def checked(self, path="/healthz"):
        with self.lock:
            return self.checks.get(path, 0)

    def served(self, path):
        """How many requests for path it had (health checks are not counted
        apart: give a path that is not one)."""
        with self.lock:
            return sum(1 for r in self.requests if r[1].split("?")[0] == path)

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        self.closing = True
        self.stall.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept, which holds the socket
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        for c in list(self.conns):
            try:
                c.shutdown(socket.SHUT_RDWR)  # a thread's makefile keeps the socket open
                c.close()
            except OSError:
                pass

    def _accept(self):
        while not self.closing:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _reset(self, c):
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    def _read_request(self, f, c):
        line = f.readline()
        if not line:
            return None
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers = []
        while True:
            h = f.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.decode("latin-1").partition(":")
            headers.append((k, v.strip()))
        hd = {k.lower(): v for k, v in headers}
        if target == "/cut-if/" + self.name:  # a part of the body, then a reset
            f.read(2000)
            with self.lock:
                self.cut += 1
            self._reset(c)
            return None
        body = b""
        if hd.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(f.readline().split(b";")[0], 16)
                if size == 0:
                    while f.readline() not in (b"\r\n", b""):
                        pass
                    break
                body += f.read(size)
                f.readline()
        elif "content-length" in hd:
            body = f.read(int(hd["content-length"]))
        return method, target, headers, body

    def _serve(self, c):
        f = c.makefile("rb")
        try:
            while True:
                r = self._read_request(f, c)
                if r is None:
                    return
                with self.lock:
                    self.requests.append(r)
                if not self._answer(c, *r):
                    return
        except (OSError, ValueError):
            return
        finally:
            c.close()

    def _answer(self, c, method, target, headers, body):
        path = target.split("?")[0]
        send = c.sendall
        if path.split("/")[1] in ("reset-if", "cut-if", "silent-if"):
            if path.endswith("/" + self.name):
                if path.startswith("/silent-if/"):
                    self.stall.wait(10)
                else:
                    self._reset(c)
                return False
            send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        elif path == "/echo":
            send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + (b"" if method == "HEAD" else body))
        elif path == "/echo-chunked":
            send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(body), 100000):
                piece = body[i:i + 100000]
                send(b"%x\r\n" % len(piece) + piece + b"\r\n")
            send(b"0\r\n\r\n")
        elif path == "/seen":
            doc = json.dumps({"method": method, "target": target, "headers": headers,
                              "body": len(body)}).encode()
            send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\nConnection: X-Hop\r\nX-Hop: secret\r\n"
                 b"Keep-Alive: timeout=5\r\nX-Kept: yes\r\nServer: upstream/1\r\n"
                 b"date: Mon, 01 Jan 2001 00:00:00 GMT\r\n\r\n" % len(doc) + doc)
        elif path == "/name":
            b = self.name.encode()
            send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(b) + b)
        elif path == "/slow-name":
            time.sleep(0.3)
            b = self.name.encode()
            send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(b) + b)
        elif path == "/name-then-close":  # kept alive, then closed while idle
            b = self.name.encode()
            send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(b) + b)
            time.sleep(0.2)
            return False
        elif path == "/big":
            n = int(target.split("=")[1])
            send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
            data = pattern(n)
            for i in range(0, n, 1 << 20):
                send(data[i:i + (1 << 20)])
        elif path == "/close-delimited":
            send(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
            return False
        elif path == "/status":
            code = int(target.split("=")[1])
            send(b"HTTP/1.1 %d Whatever\r\nETag: \"x\"\r\nContent-Length: 0\r\n\r\n" % code)
        elif path == "/bad/cl-te":
            send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"5\r\nhello\r\n0\r\n\r\n")
        elif path == "/bad/two-cl":
            send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
        elif path == "/bad/chunk":
            send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
        elif path == "/bad/short":
            send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..")
            return False
        elif path == "/bad/long-then-more":  # a long body, and a response nobody asked for
            send(b"HTTP/1.1 200 OK\r\nContent-Length: 40000\r\n\r\n" + pattern(40000) +
                 b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!")
        elif path == "/bad/aligned-then-more":
            # head and body fill htd's first read (4 KiB) to the byte, and
            # a response nobody asked for follows at once
            head = b"HTTP/1.1 200 OK\r\nContent-Length: %04d\r\n\r\n"
            n = 4096 - len(head % 0)
            send(head % n + pattern(n) + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!")
        elif path == "/bad/short-big":  # a long body, a quarter of it sent
            send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (1 << 20))
            send(pattern(1 << 18))
            time.sleep(0.2)
            return False
        elif path == "/bad/garbage":
            send(b"HELLO THERE\r\n\r\n")
            return False
        elif path == "/reset":
            self._reset(c)
            return False
        elif path == "/ws":
            hd = {k.lower(): v for k, v in headers}
            if hd.get("upgrade", "").lower() != "websocket" or "upgrade" not in \
                    hd.get("connection", "").lower():
                send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                return True
            accept = base64.b64encode(hashlib.sha1(
                (hd["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
                .digest())
            send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            f = c.makefile("rb")
            while True:  # echo each text frame, unmasked, until a close frame
                b0, b1 = f.read(2)
                n = b1 & 0x7f
                if n == 126:
                    n = int.from_bytes(f.read(2), "big")
                mask = f.read(4)
                data = bytes(x ^ mask[i % 4] for i, x in enumerate(f.read(n)))
                if b0 & 0x0f == 8:
                    send(b"\x88\x00")
                    return False
                send(bytes([0x81, 126]) + len(data).to_bytes(2, "big") + data if n >= 126
                     else bytes([0x81, len(data)]) + data)
        elif path in ("/text", "/text-no-transform", "/text-chunked"):
            text = b"a line of text that compresses well\n" * 400
            cc = b"Cache-Control: no-transform\r\n" if path == "/text-no-transform" else b""
            if path == "/text-chunked":
                send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nETag: \"t1\"\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
                for i in range(0, len(text), 5000):
                    send(b"%x\r\n" % len(text[i:i + 5000]) + text[i:i + 5000] + b"\r\n")
                send(b"0\r\n\r\n")
            else:
                send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nETag: \"t1\"\r\n" + cc +
                     b"Content-Length: %d\r\n\r\n" % len(text) + (b"" if method == "HEAD" else text))
        elif path in ("/kept", "/kept-no-store", "/kept-vary"):
            b = ("%s from %s\n" % (path, self.name)).encode()
            extra = {"/kept-no-store": b"Cache-Control: no-store\r\n",
                     "/kept-vary": b"Vary: Accept-Language\r\n"}.get(path, b"")
            send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Origin: yes\r\n" + extra +
                 b"Content-Length: %d\r\n\r\n" % len(b) + b)
        elif path == "/silent":
            self.stall.wait(10)
            return False
        elif path.startswith("/html/"):
            # HTML in two pieces sent apart, so that htd reads them apart:
            # the second begins where the first ends, which may be inside
            # "</body>".
            kind = path[len("/html/"):]
            one, two = HTML_PIECES.get(kind, HTML_PIECES["split"])
            extra = {"no-transform": b"Cache-Control: public, no-transform\r\n",
                     "gzip": b"Content-Encoding: gzip\r\n"}.get(kind, b"")
            ctype = b"application/json" if kind == "json" else b"text/html; charset=utf-8"
            head = (b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype + b"\r\nETag: \"h1\"\r\n"
                    b"X-Frame-Options: SAMEORIGIN\r\nX-Origin: yes\r\nAccept-Ranges: bytes\r\n"
                    + extra)
            if kind in ("chunked", "split"):
                send(head + b"Transfer-Encoding: chunked\r\n\r\n")
                if method != "HEAD":
                    send(b"%x\r\n%s\r\n" % (len(one), one))
                    time.sleep(0.1)
                    send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(two), two))
            else:
                send(head + b"Content-Length: %d\r\n\r\n" % (len(one) + len(two)))
                if method != "HEAD":
                    send(one)
                    time.sleep(0.1)
                    send(two)
        elif path in ("/healthz", "/health2"):
            with self.lock:
                self.checks[path] = self.checks.get(path, 0) + 1
            if self.health == "silent":
                self.stall.wait(10)
                return False
            if self.health == "garbage":
                send(b"HTTP/1.1 2OO OK\r\n\r\n")
                return False
            send(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n" if self.health == "ok"
                 else b"HTTP/1.1 503 Down\r\nContent-Length: 0\r\n\r\n")
        else:
            send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        return True


class Proxied:
    """htd with upstreams over the Upstream servers given."""

    def __init__(self, ups, extra_upstream="", rules=None, top="", threads=2):
        self.ups = ups
        self.cd = ConfDir({"www/local.txt": b"served here\n"})
        self.srv = start_htd_config(self.conf(ups, extra_upstream, rules, top), confdir=self.cd,
                                    threads=threads)

    @staticmethod
    def conf(ups, extra_upstream="", rules=None, top=""):
        servers = ", ".join('"%s"' % u.addr for u in ups)
        return ('root = "www";\n%s'
                'upstreams = ( { name = "app"; servers = [%s]; %s } );\n'
                'rules = ( %s );\n' % (top, servers, extra_upstream,
                                       rules or '{ prefix = "/"; proxy = "app"; }'))

    def reload(self, ups, extra_upstream="", rules=None, top=""):
        """The config rewritten and reloaded (SIGHUP), waited for."""
        self.cd.write_conf(self.conf(ups, extra_upstream, rules, top))
        since = len(self.srv.stderr())
        self.srv.send_signal(signal.SIGHUP)
        wait_until(lambda: "reloaded" in self.srv.stderr()[since:], what="the reload")

    def __enter__(self):
        return self

    def __exit__(self, etype, *a):
        rc = self.srv.stop()
        rep = self.srv.sanitizer_report()
        err = self.srv.stderr()
        self.srv.cleanup()
        self.cd.cleanup()
        for u in self.ups:
            u.stop()
        if etype is None:  # a stop with checks and upstream connections in flight
            check(rep is None, "sanitizer report on stderr:\n%s" % rep)
            eq(rc, 0, "exit status after SIGTERM (stderr tail %r)" % err[-800:])
        return False

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.srv.proc.pid))


def test_proxy_round_trips_byte_exact_both_ways_chunked_and_not(ctx):
    with Proxied([Upstream()]) as p:
        data = pattern(8 << 20)
        for method in ("POST", "PUT"):
            r = get(p.srv, "/echo", method, headers=[("Content-Length", str(len(data)))],
                    body=data)
            eq((r.status, len(r.body)), (200, len(data)), method)
            check(r.body == data, "%s: the body differs" % method)
        # chunked to htd, chunked from the upstream
        c = connect(p.srv)
        c.send(b"POST /echo-chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(data), 1 << 20):
            piece = data[i:i + (1 << 20)]
            c.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
        c.send(b"0\r\n\r\n")
        r = c.read_response()
        c.close()
        eq((r.status, r.chunked), (200, True), "chunked both ways")
        check(r.body == data, "the chunked body differs")
        r = get(p.srv, "/big?n=%d" % (8 << 20))
        check(r.body == pattern(8 << 20), "8 MiB down")
        r = get(p.srv, "/echo", "HEAD")
        eq((r.status, r.get("Content-Length"), r.body), (200, "0", b""), "HEAD")
        r = get(p.srv, "/close-delimited")
        eq((r.status, r.body), (200, b"until the end"), "a body that ends with the connection")
        eq(get(p.srv, "/status?c=304").status, 304, "304 passed on")
        eq(get(p.srv, "/nothing").status, 404, "the upstream's 404")


def test_proxy_keeps_upstream_connections_alive_and_reuses_them(ctx):
    up = Upstream()
    with Proxied([up], threads=1) as p:
        c = connect(p.srv)
        for i in range(20):
            c.send(req("/name"))
            eq(c.read_response().body, b"up", "request %d" % i)
        c.close()
        for i in range(10):
            eq(get(p.srv, "/name").body, b"up", "fresh client %d" % i)
        check(up.accepted <= 2, "30 requests over %d upstream connections" % up.accepted)
        eq(len(up.requests), 30, "every request reached the upstream")


def test_proxy_keeps_at_most_keepalive_idle_connections_and_drops_those_closed(ctx):
    up = Upstream()
    with Proxied([up], extra_upstream="keepalive = 2;", threads=1) as p:

        def at_once(n):
            """n slow requests at the same time, each on a connection of its own."""
            cs = [connect(p.srv) for _ in range(n)]
            for c in cs:
                c.send(req("/slow-name"))
            for c in cs:
                eq(c.read_response().body, b"up", "a slow request of %d at once" % n)
                c.close()

        at_once(4)
        eq(up.accepted, 4, "four at once: four connections")
        wait_until(lambda: len(_to_port(up.port)) == 2, what="htd closing all but two")
        at_once(2)
        eq(up.accepted, 4, "two at once: the two kept")
        at_once(3)
        eq(up.accepted, 5, "three at once: the two kept and one more")
        wait_until(lambda: len(_to_port(up.port)) == 2, what="htd closing all but two again")
        # the server closes a kept connection: htd lets it go too, and the
        # next request gets a new one, not an error
        eq(get(p.srv, "/name-then-close").body, b"up", "a response, then the server closes")
        wait_until(lambda: len(_to_port(up.port)) == 1 and not _to_port(up.port, "close-wait"),
                   what="htd closing its end of the connection the server closed")
        eq(get(p.srv, "/name").body, b"up", "the next request")
        eq(up.accepted, 5, "it took a kept connection")


def test_proxy_502_for_refused_reset_malformed_and_smuggling_responses(ctx):
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing listens there now
    cd = ConfDir({"www/x": b"x"})
    srv = start_htd_config('root = "www";\nupstreams = ( { name = "gone"; servers = '
                           '["127.0.0.1:%d"]; } );\nrules = ( { prefix = "/"; proxy = "gone"; } );\n'
                           % port, confdir=cd)
    try:
        eq(get(srv, "/").status, 502, "a refused connection")
        t = time.monotonic()
        eq(get(srv, "/").status, 502, "the server left out: 502 at once")
        check(time.monotonic() - t < 1, "at once")
    finally:
        srv.stop()
        srv.cleanup()
        cd.cleanup()
    with Proxied([Upstream()], extra_upstream="max_fails = 1000;") as p:
        for path in ("/reset", "/bad/garbage", "/bad/cl-te", "/bad/two-cl"):
            r = get(p.srv, path)
            eq(r.status, 502, path)
            check(b"hello" not in r.body, "%s: nothing of the response passed on" % path)
        # a bad chunk or a short body after the head went out: the response is cut
        for path in ("/bad/chunk", "/bad/short"):
            c = connect(p.srv)
            c.send(req(path))
            raw = c.read_to_eof()
            c.close()
            check(raw.startswith(b"HTTP/1.1 502") or not raw.endswith(b"0\r\n\r\n"),
                  "%s: never a whole response: %r" % (path, raw[:200]))
        eq(get(p.srv, "/name").status, 200, "the server still serves")


def test_proxy_504_when_the_server_does_not_answer_in_time(ctx):
    up = Upstream()
    with Proxied([up], extra_upstream="read_timeout = 1; max_fails = 1000;") as p:
        t = time.monotonic()
        r = get(p.srv, "/silent")
        took = time.monotonic() - t
        eq(r.status, 504, "no answer")
        check(0.9 <= took < 4, "after the 1 s read timeout: %.2f s" % took)
    # a server that takes nothing of the request body: the send timeout
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.bind(("127.0.0.1", 0))
    slow.listen(8)
    held = []
    threading.Thread(target=lambda: held.append(slow.accept()), daemon=True).start()
    cd = ConfDir({"www/x": b"x"})
    srv = start_htd_config('root = "www";\nupstreams = ( { name = "s"; servers = ["127.0.0.1:%d"]; '
                           'send_timeout = 1; } );\nrules = ( { prefix = "/"; proxy = "s"; } );\n'
                           % slow.getsockname()[1], confdir=cd)
    try:
        data = pattern(16 << 20)
        c = connect(srv)
        c.send(b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(data))
        sender = threading.Thread(target=lambda: _send_quietly(c, data), daemon=True)
        sender.start()
        r = c.read_response()
        eq(r.status, 504, "the request not taken")
        c.close()
    finally:
        srv.stop()
        srv.cleanup()
        cd.cleanup()
        slow.close()


def test_proxy_504_when_the_server_does_not_accept_the_connection_in_time(ctx):
    # A listener nobody accepts on, its backlog full: further connects hang.
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    fillers = []
    for _ in range(8):
        f = socket.socket()
        f.setblocking(False)
        try:
            f.connect(full.getsockname())
        except BlockingIOError:
            pass
        fillers.append(f)
    time.sleep(0.2)
    cd = ConfDir({"www/x": b"x"})
    srv = start_htd_config('root = "www";\nupstreams = ( { name = "s"; servers = ["127.0.0.1:%d"]; '
                           'connect_timeout = 1; } );\nrules = ( { prefix = "/"; proxy = "s"; } );\n'
                           % full.getsockname()[1], confdir=cd)
    try:
        t = time.monotonic()
        r = get(srv, "/x")
        took = time.monotonic() - t
        eq(r.status, 504, "the connect timed out")
        check(0.9 <= took < 4, "after the 1 s connect timeout: %.2f s" % took)
    finally:
        srv.stop()
        srv.cleanup()
        cd.cleanup()
        for f in fillers:
            f.close()
        full.close()


def test_proxy_to_a_unix_socket(ctx):
    cd = ConfDir({"www/x": b"x"})
    up = Upstream("unix", unix=cd.p("app.sock"))
    srv = start_htd_config('root = "www";\nupstreams = ( { name = "u"; servers = ["unix:%s"]; } );\n'
                           'rules = ( { prefix = "/"; proxy = "u"; } );\n' % cd.p("app.sock"),
                           confdir=cd)
    try:
        for _ in range(3):
            eq(get(srv, "/name").body, b"unix", "over the unix socket")
        data = pattern(1 << 20)
        r = get(srv, "/echo", "POST", headers=[("Content-Length", str(len(data)))], body=data)
        check(r.body == data, "a body both ways")
    finally:
        srv.stop()
        srv.cleanup()
        up.stop()
        cd.cleanup()


def test_proxy_in_front_of_htd_itself(ctx):
    files = {"www/a.txt": b"alpha\n", "www/big.bin": pattern(3 << 20)}
    inner_cd = ConfDir(files)
    inner = start_htd_config('root = "www";\n', confdir=inner_cd)
    cd = ConfDir({"www/x": b"x"})
    srv = start_htd_config('root = "www";\nupstreams = ( { name = "htd"; servers = ["127.0.0.1:%d"]; '
                           'host = "inner.example"; } );\nrules = ( { prefix = "/"; proxy = "htd"; } );\n'
                           % inner.port, confdir=cd)
    try:
        r = get(srv, "/big.bin")
        eq((r.status, r.body == files["www/big.bin"]), (200, True), "3 MiB through")
        eq(r.get("Via"), "1.1 htd", "Via")
        r = get(srv, "/big.bin", headers=[("Range", "bytes=10-19")])
        eq((r.status, r.body), (206, files["www/big.bin"][10:20]), "a range, passed on")
        r = get(srv, "/a.txt", headers=[("If-None-Match", get(srv, "/a.txt").get("ETag"))])
        eq(r.status, 304, "a conditional request")
        eq(get(srv, "/missing").status, 404, "the inner 404")
    finally:
        srv.stop()
        srv.cleanup()
        cd.cleanup()
        inner.stop()
        inner.cleanup()
        inner_cd.cleanup()


def _send_quietly(c, data):
    try:
        c.sock.sendall(data)
    except OSError:
        pass


def test_proxy_retries_get_on_the_second_server_but_not_post(ctx):
    good = Upstream("good")
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()
    # a server that accepts and resets: the request reached it
    rst = Upstream("rst")
    cd = ConfDir({"www/x": b"x"})
    conf = ('root = "www";\nupstreams = ( { name = "a"; servers = ["%s", "%s"]; max_fails = 1000; } );\n'
            'rules = ( { prefix = "/"; proxy = "a"; } );\n' % (rst.addr, good.addr))
    srv = start_htd_config(conf, confdir=cd, threads=1)
    try:
        # round robin starts at the first server: /reset there, then retried
        seen = set()
        for i in range(4):
            r = get(srv, "/reset")
            seen.add(r.status)
        eq(seen, {502}, "the good server resets too on /reset")
        names = [get(srv, "/name").body for _ in range(4)]
        eq(sorted(set(names)), [b"good", b"rst"], "both serve")
        # GET /reset on rst: retried on good, which also resets (502); the
        # count shows the retry
        before = len(good.requests)
        get(srv, "/reset")
        get(srv, "/reset")
        check(len(good.requests) - before >= 1, "a GET that failed was tried on the other server")
        before_rst, before_good = len(rst.requests), len(good.requests)
        r1 = get(srv, "/reset", "POST", headers=[("Content-Length", "2")], body=b"hi")
        r2 = get(srv, "/reset", "POST", headers=[("Content-Length", "2")], body=b"hi")
        eq((r1.status, r2.status), (502, 502), "POSTs")
        eq(len(rst.requests) - before_rst + len(good.requests) - before_good, 2,
           "each POST went to one server only")
    finally:
        srv.stop()
        srv.cleanup()
        cd.cleanup()
        good.stop()
        rst.stop()
    # connect refused: tried on the other server whatever the method
    good = Upstream("good")
    cd = ConfDir({"www/x": b"x"})
    conf = ('root = "www";\nupstreams = ( { name = "a"; servers = ["127.0.0.1:%d", "%s"]; } );\n'
            'rules = ( { prefix = "/"; proxy = "a"; } );\n' % (dead_port, good.addr))
    srv = start_htd_config(conf, confdir=cd, threads=1)
    try:
        for i in range(4):
            r = get(srv, "/echo", "POST", headers=[("Content-Length", "2")], body=b"ok")
            eq((r.status, r.body), (200, b"ok"), "POST %d: a refused connect goes elsewhere" % i)
    finally:
        srv.stop()
        srv.cleanup()
        cd.cleanup()
        good.stop()


def test_proxy_retries_a_put_with_its_body_kept_but_not_beyond_the_bound_nor_a_post(ctx):
    rst, good = Upstream("rst"), Upstream("good")
    # keepalive = 0: a reset on a kept connection would be tried once more
    # on a new one to the same server, and blur the counts below
    with Proxied([rst, good], extra_upstream='max_fails = 1000; retry_body_max = "16K"; '
                 'keepalive = 0; read_timeout = 1;', threads=1) as p:
        # one thread, round robin from the first server: each PUT meets rst
        # first, which reads the body and resets without an answer
        data = pattern(5000)
        r = get(p.srv, "/reset-if/rst", "PUT", headers=[("Content-Length", str(len(data)))],
                body=data)
        eq((r.status, r.body == data), (200, True), "the PUT answered by the second server")
        eq([q[3] == data for q in rst.requests + good.requests], [True, True],
           "both servers got the exact body")
        check("the server reset the connection; trying %s" % good.addr in p.srv.stderr(),
              "the first server's failure in the log")
        # chunked, and rst resets after 2000 bytes, while the client has
        # sent only a part: the part goes again, the rest follows
        c = connect(p.srv)
        c.send(b"PUT /cut-if/rst HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"%x\r\n%s\r\n" % (3000, data[:3000]))
        wait_until(lambda: rst.cut == 1, what="rst cutting the request")
        time.sleep(0.1)
        c.send(b"%x\r\n%s\r\n0\r\n\r\n" % (2000, data[3000:]))
        r = c.read_response()
        c.close()
        eq((r.status, r.body == data), (200, True), "the chunked PUT, on the second server")
        eq((len(good.requests), good.requests[-1][3] == data), (2, True), "its exact body")
        # /reset resets on both servers: the count shows who was tried
        def tried(method, body):
            before = len(rst.requests) + len(good.requests)
            r = get(p.srv, "/reset", method, headers=[("Content-Length", str(len(body)))],
                    body=body)
            return r.status, len(rst.requests) + len(good.requests) - before
        eq(tried("PUT", pattern(8000)), (502, 2), "a PUT within retry_body_max, tried twice")
        eq(tried("PUT", pattern(20000)), (502, 1), "a PUT beyond retry_body_max, tried once")
        eq(tried("POST", b"hi"), (502, 1), "a small POST, tried once")
        # rst's turn again: it takes the body and is silent past read_timeout
        t = time.monotonic()
        r = get(p.srv, "/silent-if/rst", "PUT", headers=[("Content-Length", str(len(data)))],
                body=data)
        took = time.monotonic() - t
        eq((r.status, r.body == data), (200, True), "the PUT after a read timeout")
        check(0.9 <= took < 4, "after the 1 s read timeout: %.2f s" % took)
        eq(rst.served("/silent-if/rst"), 1, "rst had it first")


def test_proxy_passive_health_leaves_a_failing_server_out_then_tries_it_again(ctx):
    a, b = Upstream("a"), Upstream("b")
    with Proxied([a, b], extra_upstream="max_fails = 2; fail_timeout = 1;",
                 threads=1) as p:
        for i in range(6):
            get(p.srv, "/bad/garbage")
        # both failed twice: out for 1 s, so 502 at once
        r = get(p.srv, "/name")
        eq(r.status, 502, "every server out")
        time.sleep(1.2)
        eq(get(p.srv, "/name").status, 200, "tried again after fail_timeout")


CHECKED = ('health_check = "/healthz"; health_interval = 0.2; health_timeout = 0.5; '
           'max_fails = 1000;')


def test_proxy_health_check_takes_a_server_out_before_requests_meet_it_and_back(ctx):
    a, b = Upstream("a"), Upstream("b")
    b.health = "503"
    with Proxied([a, b], extra_upstream=CHECKED, top='error_log_level = "notice";\n') as p:
        # Its second check starts only once the first one's verdict is in.
        wait_until(lambda: b.checked() >= 2, what="two checks of b")
        names = [get(p.srv, "/name").body for _ in range(10)]
        eq(set(names), {b"a"}, "b failing its check gets no request")
        eq(b.served("/name"), 0, "no request reached b")
        b.health = "ok"
        wait_until(lambda: get(p.srv, "/name").body == b"b", timeout=5, what="b back in")
        # A malformed answer fails the check as a 503 does.
        b.health = "garbage"
        n = b.checked()
        wait_until(lambda: b.checked() >= n + 2, what="two more checks of b")
        eq({get(p.srv, "/name").body for _ in range(6)}, {b"a"}, "a malformed answer: out")
        err = p.srv.stderr()
        eq(err.count("server %s is down" % b.addr), 2, "each going down logged once: %r"
           % err[-1500:])
        eq(err.count("server %s is up" % b.addr), 1, "coming back logged once")
        check("server %s is down" % a.addr not in err, "a never went down")
        # Every server down: 502 at once, with no request sent.
        a.health = "503"
        wait_until(lambda: get(p.srv, "/local.txt").status == 502, timeout=5,
                   what="every server out")
        t = time.monotonic()
        eq(get(p.srv, "/name").status, 502, "every server down")
        check(time.monotonic() - t < 0.3, "502 at once")


def test_proxy_health_checks_do_not_multiply_with_threads(ctx):
    a, b = Upstream("a"), Upstream("b")
    with Proxied([a, b], extra_upstream=CHECKED, threads=4):
        time.sleep(1.1)
        for u in (a, b):
            # one round each 0.2 s (the first at the start): about 6, and
            # four checkers would make 24
            n = u.checked()
            check(3 <= n <= 9, "%s checked %d times in 1.1 s at 0.2 s with 4 threads"
                  % (u.name, n))


def test_proxy_reload_changes_the_health_check(ctx):
    a, b = Upstream("a"), Upstream("b")
    b.health = "503"
    with Proxied([a, b], extra_upstream=CHECKED) as p:
        wait_until(lambda: b.checked() >= 2, what="two checks of b")
        # The reload keeps b out (its state carried over) until its new
        # check passes: the new path, which says the same for now.
        p.reload([a, b], extra_upstream=CHECKED.replace("/healthz", "/health2"))
        eq({get(p.srv, "/name").body for _ in range(6)}, {b"a"}, "b still out after the reload")
        wait_until(lambda: b.checked("/health2") >= 1, what="the new path checked")
        n = a.checked()
        time.sleep(0.5)
        check(a.checked() <= n + 1, "the old path is no longer checked")
        b.health = "ok"
        wait_until(lambda: get(p.srv, "/name").body == b"b", timeout=5, what="b back in")
        # Rounds and reloads leave no descriptor behind (a check in flight
        # may hold one for a moment).
        fds = p.fds()
        for _ in range(3):
            p.reload([a, b], extra_upstream=CHECKED)
        time.sleep(0.5)
        check(p.fds() <= fds + 2, "descriptors %d after rounds and reloads, %d before"
              % (p.fds(), fds))
        # A reload without the check: no more checks at all.
        p.reload([a, b])
        n1, n2 = a.checked("/health2"), b.checked("/health2")
        time.sleep(0.5)
        check(a.checked("/health2") <= n1 + 1 and b.checked("/health2") <= n2 + 1,
              "no check once the setting is gone")


def test_proxy_health_check_without_an_answer_in_time_fails(ctx):
    a, b = Upstream("a"), Upstream("b")
    b.health = "silent"
    with Proxied([a, b], extra_upstream=CHECKED.replace("0.5", "0.2")) as p:
        wait_until(lambda: "no answer in time" in p.srv.stderr(), what="the check timing out")
        eq({get(p.srv, "/name").body for _ in range(6)}, {b"a"}, "b out")
        check("server %s is down: its health check /healthz: no answer in time" % b.addr
              in p.srv.stderr(), "the reason logged: %r" % p.srv.stderr()[-600:])


def test_proxy_reload_adds_a_health_check(ctx):
    a, b = Upstream("a"), Upstream("b")
    b.health = "503"
    with Proxied([a, b]) as p:
        time.sleep(0.3)
        eq(b.checked(), 0, "no check without health_check")
        p.reload([a, b], extra_upstream=CHECKED)
        wait_until(lambda: b.checked() >= 2, what="two checks of b after the reload")
        eq({get(p.srv, "/name").body for _ in range(6)}, {b"a"}, "b out once checked")


def test_proxy_round_robin_and_least_conn_spread_requests(ctx):
    ups = [Upstream("a"), Upstream("b"), Upstream("c")]
    with Proxied(ups, threads=1) as p:
        names = [get(p.srv, "/name").body for _ in range(30)]
        eq(sorted(names.count(n) for n in (b"a", b"b", b"c")), [10, 10, 10], "round robin")
    ups = [Upstream("a"), Upstream("b")]
    with Proxied(ups, extra_upstream='balance = "least_conn";', threads=1) as p:
        # one slow request on a; the next goes to b, which has none
        results = []
        th = threading.Thread(target=lambda: results.append(get(p.srv, "/slow-name").body))
        th.start()
        time.sleep(0.1)
        fast = [get(p.srv, "/name").body for _ in range(3)]
        th.join()
        check(results[0] not in fast, "least_conn: %r while %r was busy" % (fast, results))


def test_proxy_sets_forwarded_fields_and_drops_hop_by_hop_both_ways(ctx):
    up = Upstream()
    with Proxied([up]) as p:
        r = get(p.srv, "/seen?x=1", headers=[
            ("Connection", "X-Private, keep-alive"), ("X-Private", "drop me"),
            ("Keep-Alive", "timeout=9"), ("TE", "trailers"), ("Proxy-Authorization", "Basic x"),
            ("X-Forwarded-For", "6.6.6.6"), ("Forwarded", "for=6.6.6.6"), ("X-Kept", "1")])
        eq(r.status, 200, "status")
        doc = json.loads(r.body)
        names = [k.lower() for k, v in doc["headers"]]
        hd = {k.lower(): v for k, v in doc["headers"]}
        for gone in ("x-private", "keep-alive", "te", "proxy-authorization", "connection"):
            check(gone not in names, "%s passed to the upstream: %r" % (gone, doc["headers"]))
        eq(hd.get("x-kept"), "1", "an end-to-end field")
        eq(hd.get("x-forwarded-for"), "127.0.0.1", "a client's own X-Forwarded-For is not trusted")
        eq(hd.get("forwarded"), "for=127.0.0.1;proto=http;host=localhost", "Forwarded")
        eq((hd.get("x-forwarded-proto"), hd.get("via")), ("http", "1.1 htd"), "proto and Via")
        eq(doc["target"], "/seen?x=1", "the target as sent")
        for gone in ("X-Hop", "Keep-Alive"):
            check(not r.has(gone), "%s passed to the client: %r" % (gone, r.headers))
        eq((r.get("X-Kept"), r.get("Via")), ("yes", "1.1 htd"), "the response's own fields")
        eq(r.get_all("Server"), ["htd"], "the Server is htd's, once")
        eq(len(r.get_all("Date")), 1, "one Date")
        check("2001" not in r.get("Date"), "the Date is htd's: %r" % r.get("Date"))
        eq(r.get_all("Content-Length"), [str(len(r.body))], "one Content-Length, htd's")
        eq(hd.get("host"), "localhost", "the client's Host passed on")
    with Proxied([Upstream()], top='trusted_proxies = ["127.0.0.1/32"];\n') as p:
        doc = json.loads(get(p.srv, "/seen", headers=[("X-Forwarded-For", "6.6.6.6")]).body)
        hd = {k.lower(): v for k, v in doc["headers"]}
        eq((hd.get("x-forwarded-for"), hd.get("forwarded")),
           ("6.6.6.6, 127.0.0.1", "for=6.6.6.6;proto=http;host=localhost"),
           "from a trusted proxy: its X-Forwarded-For kept, the client it names")
        doc = json.loads(get(p.srv, "/seen", headers=[("X-Forwarded-For", "2001:db8::5")]).body)
        hd = {k.lower(): v for k, v in doc["headers"]}
        eq((hd.get("x-forwarded-for"), hd.get("forwarded")),
           ("2001:db8::5, 127.0.0.1", 'for="[2001:db8::5]";proto=http;host=localhost'),
           "an IPv6 client: quoted and bracketed in Forwarded (RFC 7239 6)")
    with Proxied([Upstream()], extra_upstream='host = "app.internal";') as p:
        doc = json.loads(get(p.srv, "/seen").body)
        eq({k.lower(): v for k, v in doc["headers"]}.get("host"), "app.internal",
           "the upstream's host setting")
        # a rule without proxy under the proxied one is served here
    with Proxied([Upstream()], rules='{ prefix = "/"; proxy = "app"; }, '
                 '{ exact = "/local.txt"; proxy = "off"; }') as p:
        eq(get(p.srv, "/local.txt").body, b"served here\n", "proxy = \"off\"")


def test_proxy_slow_client_on_a_fast_upstream_keeps_memory_bounded(ctx):
    up = Upstream()
    with Proxied([up], threads=1) as p:
        n = 256 << 20
        c = connect(p.srv, rcvbuf=65536)
        c.send(req("/big?n=%d" % n))
        time.sleep(1.0)  # the upstream could send it all by now, if htd read it all
        rss = _rss_kib(p.srv.proc.pid)
        check(rss < 64 * 1024, "htd's memory with a 256 MiB response not read: %d KiB" % rss)
        got = 0
        while got < 4 << 20:
            d = c.sock.recv(1 << 16)
            check(d, "closed early")
            got += len(d)
        c.close()


def test_proxy_203_for_a_response_compressed_on_the_fly_and_200_with_no_transform(ctx):
    text = b"a line of text that compresses well\n" * 400
    gz = [("Accept-Encoding", "gzip")]
    with Proxied([Upstream()], top="gzip = true;\n") as p:
        for path in ("/text", "/text-chunked"):
            r = get(p.srv, path, headers=gz)
            eq((r.status, r.reason, r.get("Content-Encoding")),
               (203, "Non-Authoritative Information", "gzip"), path)
            eq(zlib.decompress(r.body, 31), text, "%s: the same content" % path)
            eq((r.get("ETag"), r.get("Vary")), ('W/"t1"', "Accept-Encoding"), "weak ETag, Vary")
            check(r.get("Content-Length") is None, "no length: chunked")
        r = get(p.srv, "/text", "HEAD", headers=gz)
        eq((r.status, r.get("Content-Encoding")), (203, "gzip"), "HEAD says what GET gets")
        r = get(p.srv, "/text-no-transform", headers=gz)
        eq((r.status, r.get("Content-Encoding"), r.body), (200, None, text),
           "no-transform: passed on as it is")
        r = get(p.srv, "/text")
        eq((r.status, r.body, r.get("ETag")), (200, text, '"t1"'), "a client without gzip")
    with Proxied([Upstream()], top="gzip = true;\n", extra_upstream="transform_203 = false;") as p:
        r = get(p.srv, "/text", headers=gz)
        eq((r.status, r.get("Content-Encoding")), (200, "gzip"), "transform_203 = false")
        eq(zlib.decompress(r.body, 31), text, "compressed all the same")


def _copies(p):
    """The kept copies htd wrote under the config's directory "copies": not
    a copy still being written (".tmp.*", renamed once whole)."""
    d = p.cd.p("copies")
    return [f for f in os.listdir(d) if not f.startswith(".")] if os.path.isdir(d) else []


def test_proxy_serves_a_kept_copy_as_203_while_the_upstream_is_down(ctx):
    up = Upstream("first")
    port = up.port
    with Proxied([up], rules='{ prefix = "/"; proxy = "app"; keep_copies = { path = "copies"; '
                 'max_size = "64K"; max_count = 2; }; }',
                 extra_upstream="fail_timeout = 0.2;") as p:
        fr = [("Accept-Language", "fr")]
        eq(get(p.srv, "/kept").body, b"/kept from first\n", "a 200, kept")
        eq(get(p.srv, "/kept-no-store").status, 200, "no-store: not kept")
        eq(get(p.srv, "/kept-vary", headers=fr).status, 200, "kept for fr")
        wait_until(lambda: len(_copies(p)) == 2, what="two copies on disk")
        time.sleep(1.1)
        up.stop()
        r = get(p.srv, "/kept")
        eq((r.status, r.body, r.get("X-Origin"), r.get("Content-Type")),
           (203, b"/kept from first\n", "yes", "text/plain"), "the kept copy")
        check(int(r.get("Age")) >= 1, "Age: %r" % r.get("Age"))
        eq(get(p.srv, "/kept", "HEAD").status, 203, "HEAD too")
        eq(get(p.srv, "/kept-no-store").status, 502, "nothing kept of a no-store response")
        eq(get(p.srv, "/kept-vary", headers=fr).status, 203, "the copy for fr")
        eq(get(p.srv, "/kept-vary", headers=[("Accept-Language", "de")]).status, 502,
           "no copy for de: Vary")
        eq(get(p.srv, "/other").status, 502, "nothing kept")
        back = Upstream("second", port=port)
        time.sleep(0.3)  # fail_timeout
        r = get(p.srv, "/kept")
        eq((r.status, r.body), (200, b"/kept from second\n"), "200 again once it is back")
        # max_count = 2: a third copy pushes the oldest out
        get(p.srv, "/kept-vary", headers=fr)
        get(p.srv, "/kept?x")
        wait_until(lambda: len(_copies(p)) == 2, what="at most max_count copies")
        back.stop()


def test_proxy_kept_copy_is_the_origins_and_gets_the_overlay_when_served(ctx):
    keep = ' keep_copies = { path = "copies"; max_size = "64K"; max_count = 10; }; }'
    up = Upstream()
    with Proxied([up], rules=OVERLAY[:-1] + keep, extra_upstream="fail_timeout = 0.2;") as p:
        kinds = ("length", "split", "json", "no-transform")
        live = {kind: get(p.srv, "/html/" + kind) for kind in kinds}
        eq(get(p.srv, "/name").body, b"up", "a 200 with no field but its length")
        wait_until(lambda: len(_copies(p)) == len(kinds) + 1, what="the copies on disk")
        up.stop()
        r = get(p.srv, "/name")
        eq((r.status, r.body, r.get("X-Added")), (203, b"up", "by htd"), "its copy, overlaid")
        for kind in kinds:
            g = get(p.srv, "/html/" + kind)
            h = get(p.srv, "/html/" + kind, "HEAD")
            eq((g.status, h.status), (203, 203), kind + ": the kept copy")
            check(g.has("Age") and h.has("Age"), kind + ": with its Age")
            eq(g.body, live[kind].body, kind + ": the body the live response had")
            fields = [(k, v) for k, v in live[kind].headers
                      if k.lower() not in ("date", "transfer-encoding", "content-length")]
            for k, v in fields:
                eq((g.get_all(k), h.get_all(k)), ([v], [v]), "%s: %s as live" % (kind, k))
            eq(h.get("Content-Length"), str(len(g.body)), kind + ": HEAD's length")
            eq(h.body, b"", kind + ": HEAD without a body")
        r = get(p.srv, "/html/length")
        eq((r.get("X-Frame-Options"), r.get("Content-Length"), r.get("Accept-Ranges")),
           ("DENY", str(len(r.body)), None), "the security field, the length grown")
        r = get(p.srv, "/html/no-transform")
        eq((r.get("X-Frame-Options"), r.get("X-Added"), r.get("ETag")),
           ("SAMEORIGIN", None, '"h1"'), "no-transform, as the origin said")
        # Kept as the origin sent it: an overlay changed by a reload is the one applied.
        p.reload([up], extra_upstream="fail_timeout = 0.2;",
                 rules='{ prefix = "/"; proxy = "app"; proxy_headers = { X-Frame-Options = '
                 '"SAMEORIGIN"; };' + keep)
        r = get(p.srv, "/html/length")
        one, two = HTML_PIECES["length"]
        eq((r.status, r.body, r.get("X-Frame-Options"), r.get("ETag"), r.get("Accept-Ranges")),
           (203, one + two, "SAMEORIGIN", '"h1"', "bytes"), "the origin's copy, today's overlay")


OVERLAY = ('{ prefix = "/"; proxy = "app"; proxy_headers = { X-Frame-Options = "DENY"; '
           'X-Added = "by htd"; }; proxy_body_append = "%s"; }' % APPEND.decode())


def test_proxy_overlay_sets_headers_and_appends_before_body_end_as_203(ctx):
    with Proxied([Upstream()], rules=OVERLAY) as p:
        want = {
            "split": b"<html><body><p>hello</p>" + APPEND + b"</body>\n</html>\n",
            "length": b"<html><BODY><p>hello</p>" + APPEND + b"</BODY>\n</html>\n",
            "chunked": b"<html><body>a < b " + APPEND + b"</body >\n</html>",
            "none": b"<p>no end tag, and a near miss: </body, </bodyguard>" + APPEND,
        }
        for kind, body in want.items():
            r = get(p.srv, "/html/" + kind)
            eq(r.status, 203, kind + ": changed content is a 203")
            eq(r.body, body, kind + ": the text put in, byte-exact")
            eq(r.get_all("X-Frame-Options"), ["DENY"], kind + ": the upstream's field replaced")
            eq((r.get("X-Added"), r.get("X-Origin")), ("by htd", "yes"), kind + ": fields")
            eq(r.get("ETag"), 'W/"h1"', kind + ": the entity-tag made weak")
            eq(r.get("Accept-Ranges"), None, kind + ": no ranges of the upstream's body")
        r = get(p.srv, "/html/length")
        eq((r.get("Content-Length"), r.chunked), (str(len(want["length"])), False),
           "a length fixed up, not chunked")
        # A body it cannot read or is not HTML: its fields only, still a 203.
        for kind in ("gzip", "json"):
            r = get(p.srv, "/html/" + kind)
            one, two = HTML_PIECES[kind]
            eq((r.status, r.body, r.get("X-Frame-Options")), (203, one + two, "DENY"), kind)
            eq(r.get("ETag"), '"h1"', kind + ": the same bytes, the same entity-tag")
        # no-transform: nothing changed, the upstream's status and bytes.
        r = get(p.srv, "/html/no-transform")
        one, two = HTML_PIECES["no-transform"]
        eq((r.status, r.body), (200, one + two), "no-transform")
        eq((r.get_all("X-Frame-Options"), r.get("X-Added")), (["SAMEORIGIN"], None),
           "no-transform: the upstream's fields")
        # HEAD: the head a GET gets (see the test below); 304: untouched.
        r = get(p.srv, "/html/length", "HEAD")
        eq((r.status, r.get("Content-Length"), r.get("X-Frame-Options"), r.body),
           (203, str(len(want["length"])), "DENY", b""), "HEAD")
        r = get(p.srv, "/status?c=304")
        eq((r.status, r.get("X-Added"), r.get("ETag")), (304, None, '"x"'), "304")


HEADERS_ONLY = ('{ prefix = "/"; proxy = "app"; proxy_headers = { X-Frame-Options = "DENY"; '
                'X-Added = "by htd"; }; }')


def _head_fields(r):
    """A response's status and fields, but those that may differ between
    two answers (Date) or between a GET and a HEAD (the framing of a body
    that is not sent: RFC 9110 9.3.2 lets a HEAD leave Transfer-Encoding
    out)."""
    return r.status, sorted((k.lower(), v) for k, v in r.headers
                            if k.lower() not in ("date", "transfer-encoding"))


def test_proxy_overlay_gives_head_the_status_and_fields_a_get_gets(ctx):
    one, two = HTML_PIECES["length"]
    grown = str(len(one + two + APPEND))
    for rules, what in ((OVERLAY, "headers and body"), (HEADERS_ONLY, "headers only")):
        with Proxied([Upstream()], rules=rules) as p:
            for kind in ("length", "split", "chunked", "json", "gzip", "no-transform"):
                g = get(p.srv, "/html/" + kind)
                h = get(p.srv, "/html/" + kind, "HEAD")
                eq(_head_fields(h), _head_fields(g), "%s, %s: HEAD as GET" % (what, kind))
                eq(h.body, b"", "%s, %s: no body" % (what, kind))
            h = get(p.srv, "/html/length", "HEAD")
            eq((h.status, h.get("X-Frame-Options"), h.get("X-Added")), (203, "DENY", "by htd"),
               what + ": the overlay in a HEAD's head")
            if rules == OVERLAY:
                eq((h.get("Content-Length"), h.get("ETag"), h.get("Accept-Ranges")),
                   (grown, 'W/"h1"', None), "the length the GET's body has")
                h = get(p.srv, "/html/chunked", "HEAD")
                eq((h.status, h.get("Content-Length"), h.get("ETag")), (203, None, 'W/"h1"'),
                   "a chunked upstream's HEAD: no length to fix up")
            else:
                eq((h.get("Content-Length"), h.get("ETag"), h.get("Accept-Ranges")),
                   (str(len(one + two)), '"h1"', "bytes"), "the origin's bytes, length, tag")
            h = get(p.srv, "/html/no-transform", "HEAD")
            eq((h.status, h.get("X-Frame-Options"), h.get("X-Added")), (200, "SAMEORIGIN", None),
               what + ": no-transform: nothing changed for HEAD either")


def test_proxy_overlay_through_gzip_and_with_transform_203_off(ctx):
    want = b"<html><body><p>hello</p>" + APPEND + b"</body>\n</html>\n"
    with Proxied([Upstream()], rules=OVERLAY, top="gzip = true;\n") as p:
        r = get(p.srv, "/html/split", headers=[("Accept-Encoding", "gzip")])
        eq((r.status, r.get("Content-Encoding")), (203, "gzip"), "put in, then compressed")
        eq(zlib.decompress(r.body, 31), want, "the compressed body")
    with Proxied([Upstream()], rules=OVERLAY, extra_upstream="transform_203 = false;") as p:
        r = get(p.srv, "/html/split")
        eq((r.status, r.get("X-Frame-Options"), r.body), (200, "DENY", want),
           "the overlay without the 203")


def _ws_frame(data, opcode=1):
    mask = os.urandom(4)
    body = bytes(x ^ mask[i % 4] for i, x in enumerate(data))
    n = len(data)
    head = bytes([0x80 | opcode, 0x80 | (n if n < 126 else 126)])
    if n >= 126:
        head += n.to_bytes(2, "big")
    return head + mask + body


def test_proxy_relays_a_websocket_both_ways(ctx):
    with Proxied([Upstream()]) as p:
        c = connect(p.srv)
        key = base64.b64encode(os.urandom(16)).decode()
        c.send(("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n" % key).encode())
        r = c.read_response("HEAD")  # a 101 has no body
        eq(r.status, 101, "switched")
        eq((r.get("Upgrade"), r.get("Connection")), ("websocket", "Upgrade"), "the upgrade")
        want = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        eq(r.get("Sec-WebSocket-Accept"), want, "the server's accept")
        for msg in (b"hello", b"x" * 5000, "caf\u00e9".encode()):
            c.send(_ws_frame(msg))
            head = c.read_exact(2)
            n = head[1] & 0x7f
            if n == 126:
                n = int.from_bytes(c.read_exact(2), "big")
            eq((head[0], c.read_exact(n)), (0x81, msg), "echoed")
        c.send(_ws_frame(b"", opcode=8))
        eq(c.read_exact(2), b"\x88\x00", "the close frame")
        check(c.at_eof(5), "the connection ends with the tunnel")
        c.close()
        # an upgrade the server does not take: an ordinary response
        r = get(p.srv, "/ws", headers=[("Connection", "Upgrade"), ("Upgrade", "h2c")])
        eq(r.status, 400, "refused upgrade")


def _pipes(pid):
    """The pipe ends htd has open."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("pipe:")
        except OSError:
            pass
    return n


def test_proxy_splices_long_bodies_through_a_pipe_it_keeps(ctx):
    with Proxied([Upstream()], threads=1) as p:
        pid = p.srv.proc.pid
        base = _pipes(pid)
        for n in (1 << 20, 100000, 40000, 33000, 8 << 20):
            r = get(p.srv, "/big?n=%d" % n)
            eq((r.status, r.get("Content-Length")), (200, str(n)), "%d bytes" % n)
            check(r.body == pattern(n), "%d bytes: the body differs" % n)
        eq(_pipes(pid), base + 2, "one pipe (two ends) kept for the next long body")
        # pipelined: long, short, long, in one send, answered in order
        c = connect(p.srv)
        c.send(req("/big?n=300000") + req("/name") + req("/big?n=70001"))
        r1, r2, r3 = c.read_response(), c.read_response(), c.read_response()
        c.close()
        check(r1.body == pattern(300000), "the first pipelined long body")
        eq(r2.body, b"up", "the short one between")
        check(r3.body == pattern(70001), "the second pipelined long body")
        # several at once, each through a pipe of its own
        out = {}

        def fetch(i):
            out[i] = get(p.srv, "/big?n=%d" % ((4 << 20) + i))

        ts = [threading.Thread(target=fetch, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for i in range(4):
            check(out[i].body == pattern((4 << 20) + i), "concurrent body %d" % i)
        kept = _pipes(pid)
        check(base + 2 <= kept <= base + 8, "pipes kept after 4 at once: %d over %d" % (kept, base))
        for i in range(3):
            check(get(p.srv, "/big?n=200000").body == pattern(200000), "again %d" % i)
        eq(_pipes(pid), kept, "the kept pipes serve again: none more")


def _to_port(port, state="established", opts=""):
    """ss's lines (ss -tnH, and opts) of the sockets in state that connect
    to 127.0.0.1:port: those htd opened to an upstream listening there."""
    return subprocess.run(["ss", "-tnH" + opts, "state", state, "( dport = :%d )" % port],
                          capture_output=True, text=True, check=True).stdout.splitlines()


def _up_rcvbufs(port):
    """The receive buffers (skmem rb) of the connections to 127.0.0.1:port."""
    return [int(x) for x in re.findall(r"skmem:\(r\d+,rb(\d+),", "\n".join(_to_port(port, opts="m")))]


def test_proxy_sets_the_buffer_of_a_connection_that_splices(ctx):
    # Left to the kernel's tuning, a connection that splices stalled about
    # 200 ms now and then (bench/README.md); one that splices gets a set
    # buffer (SO_RCVBUF 1 MiB, doubled by the kernel, capped by rmem_max),
    # once, and one that never does keeps the tuned one.
    with open("/proc/sys/net/core/rmem_max") as f:
        want = 2 * min(1 << 20, int(f.read()))
    up = Upstream()
    with Proxied([up], threads=1) as p:
        eq(get(p.srv, "/name").body, b"up", "a short response")
        bufs = _up_rcvbufs(up.port)
        eq(len(bufs), 1, "one connection to the upstream")
        check(bufs[0] != want, "not set before a splice: %d" % bufs[0])
        r = get(p.srv, "/big?n=%d" % (1 << 20))
        check(r.body == pattern(1 << 20), "the spliced body")
        eq(_up_rcvbufs(up.port), [want], "set by the splice, on the connection kept")
        r = get(p.srv, "/big?n=%d" % (1 << 20))
        check(r.body == pattern(1 << 20), "again, on the same connection")
        eq(_up_rcvbufs(up.port), [want], "and still one connection")


def test_proxy_spliced_body_cut_by_either_side_leaves_nothing_behind(ctx):
    with Proxied([Upstream()], threads=1, extra_upstream="max_fails = 1000;") as p:
        pid = p.srv.proc.pid
        base = _pipes(pid)
        for i in range(3):
            # the server ends a long body at a quarter: the client's response is cut
            c = connect(p.srv)
            c.send(req("/bad/short-big"))
            raw = c.read_to_eof()
            c.close()
            head, _, body = raw.partition(b"\r\n\r\n")
            check(head.startswith(b"HTTP/1.1 200"), "the head went: %r" % head[:60])
            eq(body, pattern(1 << 18), "what the server sent, and the connection closed")
            # the client goes with most of a long body unread
            c = connect(p.srv, rcvbuf=16384)
            c.send(req("/big?n=%d" % (64 << 20)))
            got = c.sock.recv(65536)
            check(got.startswith(b"HTTP/1.1 200"), "a long body began")
            c.close()
            eq(get(p.srv, "/name").body, b"up", "htd serves on (%d)" % i)
        wait_until(lambda: _pipes(pid) <= base + 2, what="a pipe left with bytes in it closed")
        # a second response behind a body is never taken for the next request's:
        # behind a spliced one, or behind one that ends where a read does
        for i in range(3):
            for path, n in (("/bad/long-then-more", 40000), ("/bad/aligned-then-more", None)):
                c = connect(p.srv)
                c.send(req(path))
                r = c.read_response()
                check(r.status == 200 and r.body == pattern(n or len(r.body)), path + ": the body")
                c.send(req("/name"))
                eq(c.read_response().body, b"up", "%s: the next request's own answer (%d)" % (path, i))
                c.close()
        eq(get(p.srv, "/big?n=100000").body, pattern(100000), "and splices on")
        check(_pipes(pid) <= base + 2, "no pipe behind: %d over %d" % (_pipes(pid), base))


def test_proxy_charges_a_spliced_body_at_its_last_byte(ctx):
    # A price on a proxied path: the charge settles at a gate before the
    # response's last byte, which here lies in a pipe.
    top = 'state_db = "state.db";\n'
    rules = '{ prefix = "/"; proxy = "app"; price = 3; }'
    with Proxied([Upstream()], rules=rules, top=top, threads=1) as p:
        def ledger(*args):
            r = subprocess.run([harness.HTD, "ledger", "-c", p.cd.conf] + list(args),
                               capture_output=True, timeout=harness.TIMEOUT)
            eq(r.returncode, 0, "htd ledger %s (%r)" % (" ".join(args), r.stderr))
            return r.stdout.decode()
        key = ledger("create", "acme").strip()
        ledger("credit", "acme", "10")
        pay = [("ChargeTo", "acme"), ("Authorization", "Bearer " + key)]
        eq(get(p.srv, "/big?n=%d" % (1 << 20)).status, 402, "unpaid")
        for n in ((1 << 20), 300000):
            r = get(p.srv, "/big?n=%d" % n, headers=pay)
            eq(r.status, 200, "paid, %d bytes" % n)
            check(r.body == pattern(n), "%d bytes: the body differs" % n)
        wait_until(lambda: int(ledger("balance", "acme").split()[2]) == 4,
                   what="two responses charged 3 each")


def _rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A soak run: steady, mixed traffic against htd for a number of minutes.

    python3 tests/live/soak.py --htd build-asan/htd --minutes 10 [--interval 5]

htd runs on the site of livesite.py (store, scripts, gzip, listings, auth,
rules all on; 5 s timeouts) and these clients run side by side until the
time is up, each checking every answer it gets:

    static (3)  keep-alive GETs of small and large files, byte for byte; gzip
                decoded back to the file; single and multipart ranges;
                If-None-Match and If-Modified-Since (304); HEAD; listings; the
                vhost; 404s with the error page; four requests pipelined
    store (2)   PUT (by length or chunked, some with Expect: 100-continue),
                GET back, If-Match right (204) and wrong (412), DELETE, 404
                after; POST to a collection, GET the Location, DELETE
    cgi (2)     POST bodies to echo.sh and get them back; PATH_INFO and
                QUERY_STRING; slow.sh; every 20th time fail.sh, a 500 on purpose
    rules (1)   Basic auth good (200), bad and missing (401); redirects; 403s;
                traversal (400); 405; an unknown method, a 501 on purpose
    slow (1)    a head trickled over 1.5 s; a 1 MiB file read 8 KiB at a time
                through a small window; a body trickled over 1.5 s; slow.sh
                read slowly
    reset (1)   resets (SO_LINGER 0) mid-head, mid-download, mid-upload and
                while a script runs; a connect reset at once; a request sent
                and the connection closed unread

Every --interval seconds it samples htd's VmRSS (/proc/PID/status), its
descriptors (/proc/PID/fd) and the requests and 5xx so far, and prints the
line. At the end, with the clients gone, it requires:

- RSS flat: the largest sample of the last third of the run at most 5 % +
  2 MiB over the largest of the middle third. After its warm-up a server
  that does not leak has filled its pools, caches and (under ASan) its
  allocator's caches and quarantine, so RSS plateaus; what is left is the
  noise of ASan's allocator, a few MiB from sample to sample (a build
  without ASan stays within 0.1 MiB), which the margin absorbs. A leak of
  30 bytes a request at the ~1,300 requests/s of this traffic on two cores
  is 8 MB per third of a 10-minute run, over the margin; and a leak of
  memory that stays unreachable is LeakSanitizer's at the exit. Peaks are
  compared, not single samples, so that one noisy sample decides nothing.
  The first third is the warm-up and only reported. ASAN_OPTIONS gets
  quarantine_size_mb=64 (unless set), so that the quarantine fills within
  the first third instead of growing all run.
- no 5xx but those asked for (fail.sh's 500, an unknown method's 501), and
  no answer that was wrong;
- descriptors back to their count after warm-up: both counts are taken with
  no client connected, after the same settling requests (livesite.settle:
  every worker's cache emptied, then small files, which hold no descriptor),
  so what remains is the listening sockets, epoll, eventfds, inotify,
  the log and the roots;
- no temporary file left in the store, every document a store client
  believes in is there with its bytes, htd exits 0 on SIGTERM and its
  stderr has no sanitizer report (LeakSanitizer included).
"""

import argparse
import gzip
import os
import random
import socket
import sys
import threading
import time
import traceback
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import livesite  # noqa: E402
import harness  # noqa: E402
from harness import req  # noqa: E402

TIMEOUT = 5.0        # htd's header, body, idle and send timeouts here
CGI_TIMEOUT = 10.0


class Soak:
    def __init__(self, site, addr, deadline):
        self.site = site
        self.addr = addr
        self.deadline = deadline
        self.lock = threading.Lock()
        self.requests = 0
        self.status = {}
        self.unexpected_5xx = 0
        self.on_purpose_5xx = 0
        self.resets = 0
        self.failures = []
        self.kinds = {}
        self.stop = threading.Event()

    def running(self):
        return time.monotonic() < self.deadline and not self.stop.is_set()

    def count(self, kind, n=1):
        with self.lock:
            self.kinds[kind] = self.kinds.get(kind, 0) + n

    def answered(self, r, on_purpose=False):
        with self.lock:
            self.requests += 1
            self.status[r.status] = self.status.get(r.status, 0) + 1
            if r.status >= 500:
                if on_purpose:
                    self.on_purpose_5xx += 1
                else:
                    self.unexpected_5xx += 1

    def fail(self, who, msg):
        with self.lock:
            self.failures.append("%s: %s" % (who, msg))
            n = len(self.failures)
        if n <= 20:
            print("FAILURE %s: %s" % (who, msg[:1500]))
            sys.stdout.flush()


class Client:
    """A client thread: scenarios picked at random until the time is up."""

    name = "client"

    def __init__(self, soak, ident):
        self.s = soak
        self.ident = ident
        self.rng = random.Random("%s-%d" % (self.name, ident))
        self.conn = None
        self.used = 0
        self.who = "%s-%d" % (self.name, ident)

    # ---- a keep-alive connection, renewed now and then
    def c(self):
        if self.conn is None or self.used >= self.rng.randrange(1, 30) or self.conn.eof:
            self.close()
            self.conn = harness.connect_addr(self.s.addr, nodelay=True)
            self.used = 0
        self.used += 1
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def exchange(self, data, method="GET", expect=(200,), on_purpose=False, what=""):
        """Sends data on the keep-alive connection and reads the answer; a
        status outside expect is a failure. Returns the response."""
        c = self.c()
        c.send(data)
        r = c.read_response(method)
        self.s.answered(r, on_purpose)
        if r.status not in expect:
            raise harness.TestFailure("%s: status %d, expected %s; head %r"
                                      % (what or data[:80], r.status, expect, r.head_raw[:300]))
        if (r.get("Connection") or "").lower() == "close":
            self.close()
        return r

    def loop(self):
        while self.s.running():
            try:
                self.step()
            except (harness.TestFailure, OSError) as e:
                self.s.fail(self.who, "%s: %s" % (type(e).__name__, e))
                self.close()
                time.sleep(0.2)
            except Exception as e:  # a bug in this tool
                self.s.fail(self.who, "tool error: %s\n%s" % (e, traceback.format_exc()))
                self.close()
                time.sleep(0.2)
            time.sleep(self.rng.uniform(0, 0.01))
        self.close()

    def step(self):
        raise NotImplementedError

    def finish(self):
        """After the run, with htd still up: checks of the final state."""


def check_eq(got, want, what):
    if got != want:
        raise harness.TestFailure("%s: got %d bytes, want %d (first difference at %s)" % (
            what, len(got), len(want),
            next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))))


class Static(Client):
    name = "static"

    def step(self):
        rng = self.rng
        files = self.s.site.files
        small = [p for p in files if len(files[p]) < 128 * 1024 and not p.startswith(("/private/",
                                                                                         "/closed/"))]
        k = rng.randrange(12)
        if k <= 2:
            p = rng.choice(small)
            r = self.exchange(req(quote(p)), what="GET " + p)
            check_eq(r.body, files[p], "GET " + p)
        elif k == 3:
            r = self.exchange(req("/big.bin"), what="GET /big.bin")
            check_eq(r.body, files["/big.bin"], "GET /big.bin")
        elif k == 4:
            p = rng.choice(["/large.txt", "/medium.txt", "/style.css"])
            r = self.exchange(req(p, headers=[("Accept-Encoding", "gzip")]), what="gzip " + p)
            body = gzip.decompress(r.body) if r.get("Content-Encoding") == "gzip" else r.body
            check_eq(body, files[p], "GET %s with gzip" % p)
        elif k == 5:
            p = rng.choice(["/big.bin", "/large.txt", "/bytes.bin", "/file.txt"])
            f = files[p]
            a = rng.randrange(len(f))
            b = rng.randrange(a, len(f))
            r = self.exchange(req(p, headers=[("Range", "bytes=%d-%d" % (a, b))]), expect=(206,),
                              what="range of " + p)
            if r.get("Content-Range") != "bytes %d-%d/%d" % (a, b, len(f)):
                raise harness.TestFailure("Content-Range %r for bytes=%d-%d" % (r.get("Content-Range"), a, b))
            check_eq(r.body, f[a:b + 1], "range %d-%d of %s" % (a, b, p))
        elif k == 6:
            f = files["/bytes.bin"]
            r = self.exchange(req("/bytes.bin", headers=[("Range", "bytes=0-9,100-119,-5")]), expect=(206,),
                              what="multipart range")
            if not (r.get("Content-Type") or "").startswith("multipart/byteranges"):
                raise harness.TestFailure("multipart: Content-Type %r" % r.get("Content-Type"))
            for part in (f[0:10], f[100:120], f[-5:]):
                if part not in r.body:
                    raise harness.TestFailure("multipart body lacks a part")
        elif k == 7:
            p = rng.choice(small)
            r = self.exchange(req(quote(p), "HEAD"), "HEAD", what="HEAD " + p)
            if r.get("Content-Length") != str(len(files[p])):
                raise harness.TestFailure("HEAD %s: Content-Length %r" % (p, r.get("Content-Length")))
            r2 = self.exchange(req(quote(p), headers=[("If-None-Match", r.get("ETag"))]), expect=(304,),
                               what="If-None-Match " + p)
            self.exchange(req(quote(p), headers=[("If-Modified-Since", r.get("Last-Modified"))]),
                          expect=(304,), what="If-Modified-Since " + p)
            if r2.body:
                raise harness.TestFailure("a 304 with a body")
        elif k == 8:
            r = self.exchange(req("/list/", headers=[("Accept", rng.choice(["text/html", "application/json"]))]),
                              what="listing")
            if b"n039.txt" not in r.body:
                raise harness.TestFailure("listing lacks n039.txt")
        elif k == 9:
            r = self.exchange(req("/v.txt", host=livesite.VHOST), what="vhost")
            check_eq(r.body, self.s.site.vfiles["/v.txt"], "the vhost's file")
        elif k == 10:
            r = self.exchange(req("/nope-%d" % rng.randrange(10000)), expect=(404,), what="404")
            if b"custom 404 page" not in r.body:
                raise harness.TestFailure("404 without its error page")
        else:
            ps = [rng.choice(small) for _ in range(4)]
            c = self.c()
            c.send(b"".join(req(quote(p)) for p in ps))
            for p in ps:
                r = c.read_response()
                self.s.answered(r)
                if r.status != 200:
                    raise harness.TestFailure("pipelined GET %s: %d" % (p, r.status))
                check_eq(r.body, files[p], "pipelined GET " + p)
            self.used += 3


def quote(p):
    return urllib.parse.quote(p, safe="/")


class Store(Client):
    name = "store"

    def __init__(self, soak, ident):
        super().__init__(soak, ident)
        self.base = "/uploads/soak-%d" % ident
        self.docs = {}        # name: bytes htd must have
        self.posts = False

    def put(self, path, body, headers=(), expect=(201, 204)):
        rng = self.rng
        hdrs = list(headers)
        chunked = rng.random() < 0.3
        if rng.random() < 0.2:
            hdrs.append(("Expect", "100-continue"))
        if chunked:
            hdrs.append(("Transfer-Encoding", "chunked"))
            data = req(path, "PUT", hdrs) + harness.chunk_encode(body, [rng.choice([100, 4096, 65536])])
        else:
            hdrs.append(("Content-Length", str(len(body))))
            data = req(path, "PUT", hdrs) + body
        c = self.c()
        c.send(data)
        r = c.read_response("PUT")
        while r.status == 100:
            r = c.read_response("PUT")
        self.s.answered(r)
        if (r.get("Connection") or "").lower() == "close":
            self.close()
        if r.status not in expect:
            raise harness.TestFailure("PUT %s: %d, expected %s: %r" % (path, r.status, expect, r.body[:200]))
        return r

    def step(self):
        rng = self.rng
        if not self.posts:
            self.put(self.base + "/posts/keep.txt", b"keep\n")
            self.posts = True
        name = "doc-%d.bin" % rng.randrange(8)
        path = "%s/%s" % (self.base, name)
        k = rng.randrange(6)
        if k <= 2:
            body = rng.randbytes(rng.choice([0, 10, 1000, 50000, 200000]))
            r = self.put(path, body, expect=(204,) if name in self.docs else (201,))
            self.docs[name] = body
            g = self.exchange(req(path), what="GET back " + path)
            check_eq(g.body, body, "GET back " + path)
        elif k == 3:
            if name not in self.docs:
                return
            etag = self.exchange(req(path, "HEAD"), "HEAD", what="HEAD " + path).get("ETag")
            self.put(path, b"x", [("If-Match", '"not-it"')], expect=(412,))
            body = rng.randbytes(rng.randrange(1, 5000))
            self.put(path, body, [("If-Match", etag)], expect=(204,))
            self.docs[name] = body
            check_eq(self.exchange(req(path), what="GET after If-Match").body, body, "after If-Match")
        elif k == 4:
            if name in self.docs:
                self.exchange(req(path, "DELETE"), "DELETE", expect=(204,), what="DELETE " + path)
                del self.docs[name]
                self.exchange(req(path), expect=(404,), what="GET after DELETE")
            else:
                self.exchange(req(path, "DELETE"), "DELETE", expect=(404,), what="DELETE of nothing")
        else:
            body = rng.randbytes(rng.randrange(1, 20000))
            r = self.exchange(req(self.base + "/posts/", "POST", [("Content-Type", "application/json"),
                                                                  ("Content-Length", str(len(body)))]) + body,
                              "POST", expect=(201,), what="POST")
            loc = r.get("Location")
            if not loc or not loc.startswith(self.base + "/posts/"):
                raise harness.TestFailure("POST: Location %r" % loc)
            check_eq(self.exchange(req(loc), what="GET " + loc).body, body, "GET the POSTed " + loc)
            self.exchange(req(loc, "DELETE"), "DELETE", expect=(204,), what="DELETE " + loc)

    def finish(self):
        for i in range(8):
            name = "doc-%d.bin" % i
            r = harness.get_addr(self.s.addr, "%s/%s" % (self.base, name))
            if name in self.docs:
                if r.status != 200 or r.body != self.docs[name]:
                    self.s.fail(self.who, "at the end %s is %d with %d bytes, want its %d bytes"
                                % (name, r.status, len(r.body), len(self.docs[name])))
            elif r.status != 404:
                self.s.fail(self.who, "at the end %s is %d, want 404" % (name, r.status))


class Cgi(Client):
    name = "cgi"

    def step(self):
        rng = self.rng
        k = rng.randrange(20)
        if k == 0:
            self.exchange(req("/cgi-bin/fail.sh"), expect=(500,), on_purpose=True, what="fail.sh")
        elif k <= 9:
            body = rng.randbytes(rng.choice([0, 1, 100, 5000, 65536]))
            if rng.random() < 0.4:
                data = req("/cgi-bin/echo.sh", "POST", [("Transfer-Encoding", "chunked")]) + \
                    harness.chunk_encode(body, [rng.choice([7, 1000, 16384])])
            else:
                data = req("/cgi-bin/echo.sh", "POST", [("Content-Length", str(len(body)))]) + body
            r = self.exchange(data, "POST", what="POST echo.sh")
            i = r.body.find(b"--body--\n")
            if i < 0 or b"REQUEST_METHOD=POST\n" not in r.body[:i]:
                raise harness.TestFailure("echo.sh: no environment or body marker")
            check_eq(r.body[i + 9:], body, "the body echo.sh gave back")
        elif k <= 14:
            q = "n=%d" % rng.randrange(1000)
            r = self.exchange(req("/cgi-bin/echo.sh/a/b?" + q), what="GET echo.sh")
            if b"PATH_INFO=/a/b\n" not in r.body or ("QUERY_STRING=%s\n" % q).encode() not in r.body:
                raise harness.TestFailure("echo.sh: PATH_INFO or QUERY_STRING wrong")
        else:
            r = self.exchange(req("/cgi-bin/slow.sh"), what="slow.sh")
            want = b"".join(b"slow line %d\n" % i for i in range(1, 6))
            check_eq(r.body, want, "slow.sh")


class Rules(Client):
    name = "rules"

    def step(self):
        rng = self.rng
        k = rng.randrange(9)
        if k <= 2:
            r = self.exchange(req("/private/secret.txt", headers=[("Authorization", livesite.auth_header())]),
                              what="auth good")
            check_eq(r.body, self.s.site.files["/private/secret.txt"], "behind auth")
        elif k == 3:
            hdrs = rng.choice([[], [("Authorization", livesite.auth_header("live", "wrong"))],
                               [("Authorization", "Basic !!!")]])
            r = self.exchange(req("/private/secret.txt", headers=hdrs), expect=(401,), what="auth bad")
            if not (r.get("WWW-Authenticate") or "").startswith('Basic realm="Live"'):
                raise harness.TestFailure("401 without WWW-Authenticate: %r" % r.headers)
        elif k == 4:
            r = self.exchange(req("/old/sub/page.txt"), expect=(301,), what="redirect")
            if r.get("Location") != "/sub/page.txt":
                raise harness.TestFailure("redirect to %r" % r.get("Location"))
        elif k == 5:
            self.exchange(req(rng.choice(["/closed/x.txt", "/.secret", "/sub/.hidden"])), expect=(403,),
                          what="403")
        elif k == 6:
            self.exchange(req(rng.choice(["/../etc/passwd", "/%2e%2e/x", "/a/%00"])), expect=(400,),
                          what="traversal")
        elif k == 7:
            self.exchange(req("/file.txt", "PUT", [("Content-Length", "3")]) + b"abc", "PUT", expect=(405,),
                          what="PUT outside the store")
        else:
            self.exchange(req("/file.txt", "BREW"), expect=(501,), on_purpose=True, what="an unknown method")


class Slow(Client):
    name = "slow"

    def step(self):
        rng = self.rng
        k = rng.randrange(4)
        site = self.s.site
        if k == 0:  # a head over 1.5 s
            s = livesite.connect(self.s.addr)
            c = harness.Conn(s)
            data = req("/medium.txt", headers=[("User-Agent", "slow-head"), ("Connection", "close")])
            step = max(1, len(data) // 30)
            for i in range(0, len(data), step):
                s.sendall(data[i:i + step])
                time.sleep(0.05)
            r = c.read_response()
            self.s.answered(r)
            c.close()
            if r.status != 200:
                raise harness.TestFailure("slow head: %d" % r.status)
            check_eq(r.body, site.files["/medium.txt"], "slow head's file")
        elif k == 1:  # 1 MiB through a small window, 8 KiB at a time
            s = livesite.connect(self.s.addr, rcvbuf=8192)
            s.sendall(req("/big.bin", headers=[("Connection", "close")]))
            got = bytearray()
            while True:
                d = s.recv(8192)
                if not d:
                    break
                got += d
                time.sleep(0.005)
            s.close()
            c = harness.Conn(None)
            c.buf = bytes(got)
            c.eof = True
            r = c.read_response()
            self.s.answered(r)
            check_eq(r.body, site.files["/big.bin"], "slow reader's big.bin")
        elif k == 2:  # a body over 1.5 s
            body = rng.randbytes(120 * 1024)
            path = "/uploads/soak-slow/doc.bin"
            s = livesite.connect(self.s.addr)
            c = harness.Conn(s)
            s.sendall(req(path, "PUT", [("Content-Length", str(len(body)))]))
            for i in range(0, len(body), 4096):
                s.sendall(body[i:i + 4096])
                time.sleep(0.05)
            r = c.read_response("PUT")
            self.s.answered(r)
            c.close()
            if r.status not in (201, 204):
                raise harness.TestFailure("slow upload: %d" % r.status)
            check_eq(harness.get_addr(self.s.addr, path).body, body, "the slow upload")
        else:  # slow.sh, read 64 bytes at a time
            s = livesite.connect(self.s.addr, rcvbuf=4096)
            s.sendall(req("/cgi-bin/slow.sh", headers=[("Connection", "close")]))
            got = bytearray()
            while True:
                d = s.recv(64)
                if not d:
                    break
                got += d
                time.sleep(0.01)
            s.close()
            c = harness.Conn(None)
            c.buf = bytes(got)
            c.eof = True
            r = c.read_response()
            self.s.answered(r)
            check_eq(r.body, b"".join(b"slow line %d\n" % i for i in range(1, 6)), "slow.sh read slowly")
        self.s.count("slow clients")


class Resetter(Client):
    name = "reset"

    def step(self):
        rng = self.rng
        k = rng.randrange(6)
        s = livesite.connect(self.s.addr)
        try:
            if k == 0:  # mid-head
                s.sendall(req("/file.txt")[:rng.randrange(1, 30)])
                time.sleep(rng.uniform(0, 0.05))
            elif k == 1:  # mid-download
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
                s.sendall(req("/big.bin"))
                n = 0
                while n < 65536:
                    d = s.recv(16384)
                    if not d:
                        raise harness.TestFailure("big.bin cut before the reset")
                    n += len(d)
            elif k == 2:  # mid-upload
                s.sendall(req("/uploads/soak-reset/doc.bin", "PUT", [("Content-Length", "100000")]))
                s.sendall(rng.randbytes(rng.randrange(0, 60000)))
                time.sleep(rng.uniform(0, 0.05))
            elif k == 3:  # while a script runs
                s.sendall(req("/cgi-bin/slow.sh"))
                time.sleep(rng.uniform(0.05, 0.5))
            elif k == 4:  # at once
                pass
            else:  # a request sent, then a close (not a reset) with nothing read
                s.sendall(req("/medium.txt"))
                s.close()
                self.s.count("closed unread")
                return
            livesite.reset(s)
            with self.s.lock:
                self.s.resets += 1
        finally:
            s.close()


CLIENTS = [(Static, 3), (Store, 2), (Cgi, 2), (Rules, 1), (Slow, 1), (Resetter, 1)]


def mib(kib):
    return kib / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--htd", required=True, help="the htd binary (an ASan build)")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--interval", type=float, default=5, help="seconds between samples")
    args = ap.parse_args()
    if "quarantine_size_mb" not in os.environ.get("ASAN_OPTIONS", ""):
        os.environ["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                                            "quarantine_size_mb=64"]))
    site = livesite.Site()
    ok = False
    try:
        srv = site.start(args.htd, timeout=TIMEOUT, cgi_timeout=CGI_TIMEOUT)
        pid = srv.proc.pid
        print("soak: %.1f minutes, htd %s (%s), pid %d, ASAN_OPTIONS=%s"
              % (args.minutes, args.htd, livesite.git_describe(), pid, os.environ.get("ASAN_OPTIONS")))
        # warm-up: each kind of client once, then the descriptors to come back to
        warm = Soak(site, srv.addr, time.monotonic() + 3600)
        for cls, _ in CLIENTS:
            for _ in range(3 if cls is Slow else 12):
                cl = cls(warm, 99)
                try:
                    cl.step()
                finally:
                    cl.close()
        if warm.failures:
            print("warm-up failed")
            return 1
        livesite.wait_fds_stable(pid, quiet=1.0)
        site.settle()
        fd_start = livesite.wait_fds_stable(pid, quiet=1.0)
        print("descriptors after warm-up: %d (%s)" % (len(fd_start), livesite.fd_kinds(fd_start)))

        t0 = time.monotonic()
        soak = Soak(site, srv.addr, t0 + args.minutes * 60)
        clients = [cls(soak, i) for cls, n in CLIENTS for i in range(n)]
        threads = [threading.Thread(target=cl.loop, daemon=True) for cl in clients]
        for t in threads:
            t.start()
        samples = []
        print("%8s %10s %6s %10s %6s" % ("time s", "RSS MiB", "fds", "requests", "5xx"))
        while soak.running():
            time.sleep(max(0.0, min(args.interval, soak.deadline - time.monotonic())))
            if not srv.alive():
                soak.fail("htd", "htd died (status %s)" % srv.proc.returncode)
                soak.stop.set()
                break
            sample = (time.monotonic() - t0, livesite.rss_kib(pid), len(livesite.fds(pid)),
                      soak.requests, soak.unexpected_5xx + soak.on_purpose_5xx)
            samples.append(sample)
            print("%8.0f %10.1f %6d %10d %6d" % (sample[0], mib(sample[1]), sample[2], sample[3], sample[4]))
            sys.stdout.flush()
            if srv.sanitizer_report():
                soak.fail("htd", "sanitizer report during the run")
                soak.stop.set()
        for t in threads:
            t.join(60)
        elapsed = time.monotonic() - t0
        problems = []
        fd_end = None
        if srv.alive():
            for cl in clients:
                cl.finish()
            # the clients' connections closed, lingering ones and scripts gone
            livesite.wait_fds_stable(pid, quiet=TIMEOUT + 0.5, timeout=60)
            site.settle()
            fd_end = livesite.wait_fds_stable(pid, quiet=1.0)
            left = site.leftover_temporaries()
            if left:
                problems.append("temporary files left in the store: %s" % left[:5])
        problems += site.stop()

        # ---- the verdict
        n = len(samples)
        thirds = [samples[:n // 3], samples[n // 3:2 * n // 3], samples[2 * n // 3:]]
        print("\nsoak summary (%.1f minutes, %d clients):" % (elapsed / 60, len(clients)))
        print("  requests      %d answered (%.0f/s), %d resets by clients, %s" % (
            soak.requests, soak.requests / max(elapsed, 1), soak.resets,
            ", ".join("%s %d" % kv for kv in sorted(soak.kinds.items()))))
        print("  statuses      %s" % " ".join("%d:%d" % kv for kv in sorted(soak.status.items())))
        print("  5xx           %d unexpected, %d on purpose (fail.sh's 500s, BREW's 501s)"
              % (soak.unexpected_5xx, soak.on_purpose_5xx))
        if n >= 3 and all(thirds):
            rss = [[s[1] for s in t] for t in thirds]
            start, mid_max, end_max, last = rss[0][0], max(rss[1]), max(rss[2]), rss[2][-1]
            allowed = mid_max * 1.05 + 2048
            # least squares over the last two thirds, KiB per minute
            pts = [(s[0], s[1]) for s in thirds[1] + thirds[2]]
            mx = sum(p[0] for p in pts) / len(pts)
            my = sum(p[1] for p in pts) / len(pts)
            slope = sum((x - mx) * (y - my) for x, y in pts) / max(1e-9, sum((x - mx) ** 2 for x, _ in pts))
            print("  RSS MiB       first sample %.1f, first third max %.1f, middle third max %.1f, "
                  "last third max %.1f, last sample %.1f; slope over the last two thirds %+.0f KiB/min"
                  % (mib(start), mib(max(rss[0])), mib(mid_max), mib(end_max), mib(last), slope * 60))
            print("  RSS flat      last third's max %.1f MiB <= %.1f MiB (middle third's max + 5 %% + 2 MiB): %s"
                  % (mib(end_max), mib(allowed), "yes" if end_max <= allowed else "NO"))
            if end_max > allowed:
                problems.append("RSS grew: last third's max %.1f MiB over %.1f MiB" % (mib(end_max), mib(allowed)))
        else:
            problems.append("too few samples (%d) to judge RSS" % n)
        if fd_end is not None:
            print("  descriptors   %d after warm-up (%s); at most %d during the run; %d at the end (%s)"
                  % (len(fd_start), livesite.fd_kinds(fd_start), max(s[2] for s in samples) if samples else 0,
                     len(fd_end), livesite.fd_kinds(fd_end)))
            if len(fd_end) != len(fd_start):
                problems.append("descriptors: %d after warm-up, %d at the end" % (len(fd_start), len(fd_end)))
        if soak.unexpected_5xx:
            problems.append("%d unexpected 5xx" % soak.unexpected_5xx)
        if soak.failures:
            problems.append("%d failed checks (the first are printed above)" % len(soak.failures))
        for p in problems:
            print("FAILURE: " + p)
        ok = not problems
        print("soak %s" % ("passed" if ok else "FAILED"))
        return 0 if ok else 1
    finally:
        site.cleanup()


if __name__ == "__main__":
    sys.exit(main())

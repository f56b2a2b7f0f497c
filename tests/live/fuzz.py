#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A live fuzzer: mutated, valid-looking traffic against a running htd.

    python3 tests/live/fuzz.py --htd build-asan/htd --seconds 30 [--seed S] [--conns K]
    python3 tests/live/fuzz.py --htd build-asan/htd --replay SESSION   # one session, verbose

htd runs on the site of livesite.py (store, scripts, gzip, listings, auth,
rules all on) with 2 s timeouts. K threads each run client sessions until
the time is up. A session is one connection: 1 to 10 requests built from a
grammar (methods, paths that exist or not, traversal tries, encodings,
dotfiles, scripts, the store; Range, conditionals, Accept-Encoding, good and
bad credentials, Expect, bodies by Content-Length or chunked, Connection),
in about half the sessions mutated (bits flipped, header lines duplicated or
dropped, requests cut short, bad chunk sizes, huge values, stray bytes),
sent in random pieces with small pauses, one at a time or pipelined. The
client then reads normally, or slowly, or half-closes after sending, or
resets (SO_LINGER 0) in the middle of its request or of the response.

What must hold, for every connection the client does not reset itself:

- every byte htd sends parses as HTTP/1.x responses (status line, header
  lines, a body framed by Content-Length, chunked coding, or a close that
  the head announced), or as the body of an HTTP/0.9 answer when a request
  line the session sent could be one;
- the connection ends (answers, then a close) and never goes quiet: no
  byte and no close for STUCK seconds while the client waits is a failure;
  nothing follows a response that said Connection: close; a half-closed
  connection is closed once answered, not at the idle timeout;
- a session that was not mutated gets one answer per request, files with
  their bytes (ranges, gzip and HEAD included), the echo script its body,
  and no 500 (only fail.sh fails, on purpose).

Besides: a thread GETs known files on fresh connections every second (the
server stays healthy); at the end the store has no temporary file left,
htd's descriptors are back where they were after warm-up, htd exits 0 on
SIGTERM and its stderr has no sanitizer report. Each failure is printed with
its session seed (--replay SEED runs that session again, printing what it
sends and gets) and the bytes sent; they are also written to --out.
"""

import argparse
import gzip
import os
import random
import re
import selectors
import socket
import sys
import threading
import time
import traceback
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import livesite  # noqa: E402
import harness  # noqa: E402

TIMEOUT = 2.0       # htd's header, body, idle and send timeouts
CGI_TIMEOUT = 3.0   # and its scripts' (slow.sh takes 1 s)
SLACK = 5.0         # for an ASan build on a loaded machine
STUCK = max(TIMEOUT, CGI_TIMEOUT) + SLACK


# --------------------------------------------------------------------------
# statistics

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}
        self.status = {}
        self.failures = []

    def add(self, key, n=1):
        with self.lock:
            self.c[key] = self.c.get(key, 0) + n

    def get(self, key):
        return self.c.get(key, 0)

    def status_seen(self, code):
        with self.lock:
            self.status[code] = self.status.get(code, 0) + 1

    def fail(self, f):
        with self.lock:
            self.failures.append(f)


# Known htd bugs, reported and left to be fixed: counted and shown with an
# example, not failures, unless --strict. Each name is used where it is found.
# (None at present; "head-error-body", a HEAD refused by the parser answered
# with its error's body, was fixed.)
KNOWN = {}
STRICT = False


def known(stats, name, example, sess):
    if STRICT:
        raise Failure("known:" + name, example)
    stats.add("known:" + name)
    with stats.lock:
        stats.c.setdefault("known example:" + name, (sess.seed, example))


# --------------------------------------------------------------------------
# the request grammar

class Req:
    def __init__(self):
        self.method = "GET"
        self.target = "/"
        self.version = "HTTP/1.1"
        self.headers = []      # (name, value)
        self.body = b""
        self.framing = None    # "cl", "chunked" or None
        self.chunks = []       # chunk sizes for "chunked"
        self.file = None       # bytes a plain GET must give, when known
        self.path = None       # the decoded path, for the record
        self.raw = b""
        self.mutations = []
        self.http09 = False

    def has(self, name):
        return any(k.lower() == name.lower() for k, _ in self.headers)

    def value(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def weighted(rng, table):
    total = sum(w for w, _ in table)
    x = rng.uniform(0, total)
    for w, v in table:
        x -= w
        if x <= 0:
            return v
    return table[-1][1]


METHODS = [(60, "GET"), (10, "HEAD"), (8, "POST"), (8, "PUT"), (4, "DELETE"), (3, "OPTIONS"),
           (1, "PATCH"), (1, "TRACE"), (1, "CONNECT"), (1, "BREW"), (1, "get")]

TRAVERSAL = ["/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/sub/../../etc/passwd",
             "/..%2f..%2fetc%2fpasswd", "/%2E%2E%5C..%5Cetc", "/sub/%2e%2e/%2e%2e/x",
             "/file.txt%00.html", "/a/%00b", "/.%2e/.%2e/etc/passwd", "/uploads/../../x",
             "/cgi-bin/../.secret", "/static/..%252f..%252fetc"]
ENCODED = ["/fil%65.txt", "/%66%69%6c%65.txt", "/sub/%2E/page.txt", "/sub//page.txt",
           "/sub/./page.txt", "/%7a", "/%zz", "/%", "/%2", "/with%20space.txt",
           "/caf%C3%A9.txt", "/caf%c3%a9.txt", "/list/b%20b.txt", "/list/x%2520y.txt",
           "/list/%3Ci%3E%26amp%3B%22.txt", "/file.txt?a=1&b=%20&c", "/?q=%ff%fe",
           "/sub?x=1", "/%2fsub%2fpage.txt", "//file.txt", "/file.txt#frag", "/\u00e9"]
DOTFILES = ["/.secret", "/sub/.hidden", "/.well-known/x.txt", "/.well-known/", "/list/.hidden",
            "/.htaccess", "/.settle", "/uploads/.htd-tmp-0", "/cgi-bin/.x.sh", "/.git/config"]
MISSING = ["/nope", "/missing/deep/path.html", "/list/nothing.txt", "/sub/nope/", "/file.txt/",
           "/index.html/extra", "/cgi-bin/missing.sh", "/uploads/nothing-here", "/private/nope",
           "/errors/nope"]
RULES = ["/private/secret.txt", "/private/", "/old/file.txt", "/old/sub/page.txt", "/moved",
         "/moved?x=1", "/r/2024/file.txt", "/r/1/%0d%0aSet-Cookie:x", "/closed/x.txt",
         "/closed/", "/%63losed/x.txt", "//closed/./x.txt", "/local/x.txt", "/static/site.css",
         "/old/%0d%0aX-Injected:%20yes", "/old/" + "a" * 300, "/metrics"]
CGI = ["/cgi-bin/echo.sh", "/cgi-bin/echo.sh/extra/path?x=1&y=%20", "/cgi-bin/slow.sh",
       "/cgi-bin/fail.sh", "/cgi-bin/echo.sh?" + "q" * 200, "/cgi-bin/", "/cgi-bin"]


def quote(path):
    return urllib.parse.quote(path, safe="/")


class Grammar:
    def __init__(self, site, etags, port):
        self.site = site
        self.etags = etags
        self.port = port
        # files any client may GET (not those behind auth or an access rule)
        self.static = sorted(p for p in site.files if not p.startswith(("/private/", "/closed/")))
        self.all_files = sorted(site.files)

    def target(self, rng, r):
        """A request-target for r.method; sets r.file when a GET of it must
        give a known file's bytes."""
        m = r.method
        if m in ("PUT", "DELETE") and rng.random() < 0.8 or m == "POST" and rng.random() < 0.4:
            return rng.choice(["/uploads/fz-%d.txt" % rng.randrange(32),
                               "/uploads/d%d/fz.bin" % rng.randrange(4),
                               "/uploads/", "/uploads/posts/", "/uploads/d1/", "/uploads",
                               "/uploads/%2e%2e/x", "/uploads/" + "n" * 300])
        if m == "POST" and rng.random() < 0.8:
            return rng.choice(CGI)
        kind = weighted(rng, [(45, "static"), (6, "dir"), (6, "missing"), (6, "traversal"),
                              (8, "encoded"), (5, "dotfile"), (10, "rules"), (10, "cgi"),
                              (4, "uploads"), (2, "long"), (2, "absolute")])
        if kind == "static":
            p = rng.choice(self.static)
            r.file, r.path = self.site.files[p], p
            return quote(p)
        if kind == "dir":
            return rng.choice(["/", "/list/", "/list", "/sub/", "/sub", "/list/z-dir/",
                               "/uploads/", "/list/?x=1"])
        if kind == "missing":
            return rng.choice(MISSING)
        if kind == "traversal":
            return rng.choice(TRAVERSAL)
        if kind == "encoded":
            return rng.choice(ENCODED)
        if kind == "dotfile":
            return rng.choice(DOTFILES)
        if kind == "rules":
            return rng.choice(RULES)
        if kind == "cgi":
            return rng.choice(CGI)
        if kind == "uploads":
            return "/uploads/fz-%d.txt" % rng.randrange(32)
        if kind == "long":
            return rng.choice(["/" + "a" * rng.choice([1000, 5000, 9000]),
                               "/a" * rng.randrange(100, 2000), "/file.txt?" + "x" * 9000])
        p = rng.choice(self.static)
        if p in ("/file.txt", "/big.bin", "/style.css"):
            r.file, r.path = self.site.files[p], p
        return "http://localhost" + quote(p)

    def body(self, rng):
        n = weighted(rng, [(15, 0), (35, rng.randrange(1, 100)), (25, rng.randrange(100, 4096)),
                           (15, rng.randrange(4096, 65536)), (8, rng.randrange(65536, 300000)),
                           (2, 1024 * 1024 + rng.randrange(1, 4096))])
        return rng.randbytes(n) if rng.random() < 0.5 else (b"body-%d " % n * (n // 8 + 1))[:n]

    def request(self, rng, clean_only=False, max_body=None):
        r = Req()
        r.method = weighted(rng, METHODS)
        if clean_only and r.method == "HEAD":
            # the only method whose response has no body whatever its head
            # says: a mutated session may not know which answer is whose
            r.method = "GET"
        r.target = self.target(rng, r)
        if r.method not in ("GET", "HEAD"):
            r.file = None
        r.version = weighted(rng, [(85, "HTTP/1.1"), (11, "HTTP/1.0"), (1, "HTTP/1.9"),
                                   (1, "HTTP/2.0"), (1, "HTTP/0.9"), (1, "HTTP/1.10")])
        if r.version not in ("HTTP/1.1", "HTTP/1.0", "HTTP/1.9"):
            r.file = None
        h = r.headers
        host = weighted(rng, [(85, "localhost"), (6, livesite.VHOST), (4, "127.0.0.1:%d" % self.port),
                              (2, None), (1, ""), (1, "bad host!"), (1, "LOCALHOST.")])
        if host is not None:
            h.append(("Host", host))
        if host in (livesite.VHOST, None, "", "bad host!"):
            r.file = None
        if r.target.startswith("http://"):
            pass
        elif host == livesite.VHOST and rng.random() < 0.5:
            r.target = rng.choice(["/v.txt", "/index.html", "/", "/nope"])
            if r.target == "/v.txt" and r.method in ("GET", "HEAD"):
                r.file = self.site.vfiles["/v.txt"]
        p = rng.random
        if p() < 0.2:
            h.append(("Range", rng.choice([
                "bytes=0-99", "bytes=-500", "bytes=100-", "bytes=0-0,5-10", "bytes=0-9,5-14",
                "bytes=5-1,0-1", "bytes=999999999-", "bytes=abc", "bytes=0-,0-", "bytes=-0",
                "bytes=" + ",".join("%d-%d" % (i * 3, i * 3 + 1) for i in range(20)),
                "bytes=1-2,4-5,7-8", "items=0-1", "bytes=0-18446744073709551616"])))
            if p() < 0.3:
                h.append(("If-Range", rng.choice(['"nope"', self.etag(rng),
                                                  "Wed, 01 Jan 2020 12:00:00 GMT"])))
        if p() < 0.15:
            h.append(("If-None-Match", rng.choice(["*", self.etag(rng), 'W/"x"', '"a", "b"',
                                                   self.etag(rng) + ", \"z\""])))
        if p() < 0.08:
            h.append(("If-Modified-Since", rng.choice(["Wed, 01 Jan 2020 12:00:00 GMT",
                                                       "Fri, 01 Jan 2100 00:00:00 GMT",
                                                       "yesterday", "Sunday, 06-Nov-94 08:49:37 GMT"])))
        if p() < 0.05:
            h.append(("If-Match", rng.choice(["*", self.etag(rng), '"nope"'])))
        if p() < 0.04:
            h.append(("If-Unmodified-Since", rng.choice(["Wed, 01 Jan 2020 12:00:00 GMT",
                                                         "Fri, 01 Jan 2100 00:00:00 GMT"])))
        if p() < 0.35:
            h.append(("Accept-Encoding", rng.choice([
                "gzip", "gzip, deflate, br", "br;q=0, gzip;q=0.5", "identity", "*",
                "gzip;q=0", "identity;q=0", "*;q=0", "x-gzip", "gzip;q=abc"])))
        if p() < 0.1:
            h.append(("Accept", rng.choice(["application/json", "text/html",
                                            "application/json;q=0.9, text/html", "*/*"])))
        if p() < 0.25 or "/private" in r.target and p() < 0.7:
            h.append(("Authorization", rng.choice([
                livesite.auth_header(), livesite.auth_header(), livesite.auth_header("live", "bad"),
                livesite.auth_header("nobody", "x"), "Basic !!!notbase64", "Basic ",
                "Bearer abc", "basic " + livesite.auth_header()[6:],
                "Basic " + "QUFB" * 400])))
        if p() < 0.1:
            h.append(("User-Agent", "livefuzz/1.0 (%d)" % rng.randrange(1000)))
        if p() < 0.05:
            h.append(("Cookie", "a=" + "c" * rng.randrange(10, 3000)))
        if p() < 0.05:
            h.append(("X-Forwarded-For", "10.0.0.%d" % rng.randrange(256)))
        if p() < 0.03:
            h.append(("Proxy", "http://evil.test/"))
        if p() < 0.03:
            h.append(("X_Under", "score"))
        if p() < 0.03:
            h.append(("Upgrade", "h2c"))
        if r.method in ("PUT", "POST") or p() < 0.04:
            r.body = self.body(rng)[:max_body]
            r.framing = weighted(rng, [(60, "cl"), (36, "chunked"), (4, None)])
            if r.framing and p() < 0.15:
                h.append(("Expect", "100-continue"))
            if p() < 0.5:
                h.append(("Content-Type", rng.choice(["application/json", "text/plain; charset=utf-8",
                                                      "application/octet-stream", "x/y"])))
            if r.framing == "cl":
                h.append(("Content-Length", str(len(r.body))))
            elif r.framing == "chunked":
                if r.version != "HTTP/1.1":
                    r.file = None  # chunked from an HTTP/1.0 client is refused (RFC 9112 6.1)
                h.append(("Transfer-Encoding", "chunked"))
                sizes, left = [], len(r.body)
                while left > 0:
                    n = min(left, rng.choice([1, 7, 100, 1000, 4096, 16384, 65536]))
                    sizes.append(n)
                    left -= n
                r.chunks = sizes
            else:
                r.body = b""
        elif p() < 0.02:
            h.append(("Expect", rng.choice(["100-continue", "200-ok"])))
            r.file = None
        if r.version == "HTTP/1.0" and p() < 0.5:
            h.append(("Connection", "keep-alive"))
        elif p() < 0.1:
            h.append(("Connection", rng.choice(["close", "keep-alive", "Close", "upgrade, close"])))
        if rng.random() < 0.1:
            rng.shuffle(h)
        if r.version not in ("HTTP/1.1", "HTTP/1.0", "HTTP/1.9"):
            r.file = None
        if any(k in ("If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since",
                     "If-Range") for k, _ in h) and r.file is not None:
            r.conditional = True
        self.serialize(rng, r)
        return r

    def etag(self, rng):
        return rng.choice(self.etags) if self.etags else '"x"'

    def serialize(self, rng, r):
        head = "%s %s %s\r\n" % (r.method, r.target, r.version)
        head += "".join("%s: %s\r\n" % kv for kv in r.headers) + "\r\n"
        raw = head.encode("utf-8")
        if r.framing == "chunked":
            out, i = [], 0
            for n in r.chunks:
                ext = rng.choice([b"", b"", b"", b";ext=1", b";a=\"b c\""])
                out.append(b"%x%s\r\n" % (n, ext) + r.body[i:i + n] + b"\r\n")
                i += n
            out.append(b"0\r\n" + (b"X-Trailer: t\r\n" if rng.random() < 0.2 else b"") + b"\r\n")
            raw += b"".join(out)
        else:
            raw += r.body
        r.raw = raw

    def http09(self, rng):
        r = Req()
        r.http09 = True
        r.version = ""
        p = rng.choice(self.static + ["/nope", "/list/", "/cgi-bin/echo.sh"])
        r.target = quote(p)
        if p in self.site.files:
            r.file, r.path = self.site.files[p], p
        r.raw = ("GET %s\r\n" % r.target).encode()
        return r


# --------------------------------------------------------------------------
# mutations: each returns the new bytes, or None if it does not apply

def _head_end(raw):
    i = raw.find(b"\r\n\r\n")
    return i + 4 if i >= 0 else len(raw)


def m_flip(rng, r, raw):
    b = bytearray(raw)
    he = _head_end(raw)
    for _ in range(rng.randrange(1, 4)):
        i = rng.randrange(he) if rng.random() < 0.85 or he == len(b) else rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def _lines(raw):
    he = _head_end(raw)
    return raw[:he].split(b"\r\n"), raw[he:]


def m_dup_line(rng, r, raw):
    lines, rest = _lines(raw)
    if len(lines) < 4:
        return None
    i = rng.randrange(1, len(lines) - 2)
    lines.insert(i, lines[i])
    return b"\r\n".join(lines) + rest


def m_drop_line(rng, r, raw):
    lines, rest = _lines(raw)
    if len(lines) < 4:
        return None
    del lines[rng.randrange(1, len(lines) - 2)]
    return b"\r\n".join(lines) + rest


def m_truncate(rng, r, raw):
    if len(raw) < 2:
        return None
    return raw[:rng.randrange(1, len(raw))]


def m_chunk_size(rng, r, raw):
    if r.framing != "chunked":
        return None
    he = _head_end(raw)
    bad = rng.choice([b"zz", b"-1", b"fffffffffffffffff", b"1;ext=\x01", b" 5", b"5 ", b"0x10",
                      b"", b"10000000000", b"7fffffffffffffff"])
    if r.chunks and rng.random() < 0.7:
        first = raw.find(b"\r\n", he)
        return raw[:he] + bad + raw[first:]
    return raw[:he] + bad + b"\r\n" + raw[he:]


def m_huge(rng, r, raw):
    he = _head_end(raw)
    lines, rest = _lines(raw)
    k = rng.randrange(6)
    if k == 0:
        lines.insert(1, b"Content-Length: " + rng.choice([b"99999999999999999999", b"4294967296",
                                                          b"18446744073709551615", b"1e9", b"-1"]))
    elif k == 1:
        lines.insert(1, b"X-Big: " + b"v" * rng.choice([9000, 20000, 70000]))
    elif k == 2:
        for i in range(rng.choice([99, 150, 300])):
            lines.insert(1, b"X-H%d: %d" % (i, i))
    elif k == 3:
        lines.insert(1, b"Range: bytes=" + b",".join(b"%d-%d" % (i, i) for i in range(2000)))
    elif k == 4:
        parts = lines[0].split(b" ")
        if len(parts) < 2:
            return None
        parts[1] = parts[1] + b"?" + b"x" * rng.choice([5000, 9000, 70000])
        lines[0] = b" ".join(parts)
    else:
        if r.framing != "chunked":
            return None
        return raw[:he] + b"ffffffffffff\r\n" + raw[he:]
    return b"\r\n".join(lines) + rest


def m_junk(rng, r, raw):
    he = _head_end(raw)
    i = rng.randrange(he)
    j = rng.choice([b"\x00", b"\r", b"\n", b" ", b"\t", b"\x7f", b"\xff", b":", b"\r\n ",
                    b"\r\n\r\n", b"\r\n\tfolded", b"%", b"\x1b[0m"])
    return raw[:i] + j + raw[i:]


def m_lf(rng, r, raw):
    he = _head_end(raw)
    return raw[:he].replace(b"\r\n", b"\n") + raw[he:]


def m_case(rng, r, raw):
    lines, rest = _lines(raw)
    i = rng.randrange(len(lines))
    lines[i] = bytes(c ^ 0x20 if 65 <= (c & ~0x20) <= 90 and rng.random() < 0.5 else c
                     for c in lines[i])
    return b"\r\n".join(lines) + rest


def m_smuggle(rng, r, raw):
    lines, rest = _lines(raw)
    add = rng.choice([[b"Transfer-Encoding: chunked", b"Content-Length: 4"],
                      [b"Content-Length: 4", b"Content-Length: 5"],
                      [b"Transfer-Encoding: gzip, chunked"], [b"Transfer-Encoding: chunked, chunked"],
                      [b"Content-Length: +4"], [b"Transfer-Encoding : chunked"],
                      [b"Content-Length: 4, 4"], [b"Host: other.test"]])
    for a in add:
        lines.insert(rng.randrange(1, max(2, len(lines) - 1)), a)
    return b"\r\n".join(lines) + rest + b"0\r\n\r\nGET /secret HTTP/1.1\r\nHost: x\r\n\r\n"


MUTATIONS = [(20, "flip", m_flip), (10, "dup_line", m_dup_line), (10, "drop_line", m_drop_line),
             (8, "truncate", m_truncate), (8, "chunk_size", m_chunk_size), (8, "huge", m_huge),
             (10, "junk", m_junk), (4, "lf", m_lf), (6, "case", m_case), (6, "smuggle", m_smuggle)]


def mutate(rng, r, stats):
    raw = r.raw
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        name, fn = weighted(rng, [(w, (n, f)) for w, n, f in MUTATIONS])
        new = fn(rng, r, raw)
        if new is not None and new != raw:
            raw = new
            r.mutations.append(name)
            stats.add("mutation:" + name)
    r.raw = raw
    if r.mutations:
        r.file = None


# --------------------------------------------------------------------------
# responses: a strict, incremental parser

class Malformed(Exception):
    pass


class NotHTTP(Exception):
    """The bytes at a response boundary do not start with HTTP/."""


TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
STATUS_RE = re.compile(rb"^HTTP/1\.([01]) ([1-5][0-9][0-9]) ([\t\x20-\x7e]*)$")
VALUE_BAD = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
CHUNK_RE = re.compile(rb"^([0-9a-fA-F]{1,15})(;[\t\x20-\x7e]*)?$")
SCRIPT_HEAD = re.compile(rb"^HTTP/1\.1 200 OK\r\n(?:[^\r]*\r\n)*?(?:X-Method: |Content-Type: text/plain\r\n)")
HTTP09_LINE = re.compile(rb"GET [^ \r\n]+\r?\n")  # anywhere: a request may start mid-line


class Resp:
    def __init__(self):
        self.status = 0
        self.minor = 1
        self.headers = {}
        self.body = b""
        self.close = False
        self.raw_head = b""
        self.head_only = False
        self.close_delimited = False

    def get(self, name):
        v = self.headers.get(name)
        return v[0] if v else None


def begins_head(raw):
    """Whether htd takes raw for a HEAD: after the empty lines it skips (LF
    or CRLF), it begins "HEAD "."""
    i = 0
    while True:
        if raw[i:i + 1] == b"\n":
            i += 1
        elif raw[i:i + 2] == b"\r\n":
            i += 2
        else:
            return raw[i:i + 5] == b"HEAD "


def parse_response(buf, eof, head_only):
    """(Resp, bytes used) for a whole response at the start of buf, or None
    if more bytes are needed. Raises Malformed, or NotHTTP."""
    if len(buf) < 5:
        if not eof:
            return None
        if b"HTTP/".startswith(bytes(buf)):
            raise Malformed("connection closed in a status line: %r" % bytes(buf))
        raise NotHTTP()
    if buf[:5] != b"HTTP/":
        raise NotHTTP()
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > 65536:
            raise Malformed("a response head over 64 KiB")
        if eof:
            raise Malformed("connection closed in a response head: %r" % bytes(buf[:300]))
        return None
    head = bytes(buf[:end])
    lines = head.split(b"\r\n")
    r = Resp()
    r.raw_head = head
    for ln in lines:
        if b"\n" in ln or b"\r" in ln:
            raise Malformed("bare CR or LF in a response head: %r" % head[:500])
    m = STATUS_RE.match(lines[0])
    if not m:
        raise Malformed("malformed status line %r" % lines[0][:200])
    r.minor, r.status = int(m.group(1)), int(m.group(2))
    for ln in lines[1:]:
        name, sep, value = ln.partition(b":")
        if not sep or not TOKEN.match(name):
            raise Malformed("malformed header line %r" % ln[:200])
        if VALUE_BAD.search(value):
            raise Malformed("control character in header %r" % ln[:200])
        r.headers.setdefault(name.decode().lower(), []).append(value.strip(b" \t").decode("latin-1"))
    for name in ("content-length", "transfer-encoding", "date", "server", "connection",
                 "content-type", "location", "etag"):
        if len(r.headers.get(name, ())) > 1:
            raise Malformed("%s sent %d times" % (name, len(r.headers[name])))
    conn = (r.get("connection") or "").lower()
    r.close = "close" in conn
    pos = end + 4
    if 100 <= r.status < 200:
        if r.headers.get("content-length") or r.headers.get("transfer-encoding"):
            raise Malformed("a 1xx response with a body: %r" % head[:300])
        return r, pos
    if r.get("server") != "htd" or r.get("date") is None:
        raise Malformed("no Server: htd or no Date: %r" % head[:500])
    te, cl = r.get("transfer-encoding"), r.get("content-length")
    if r.status == 204 and (te or cl):
        raise Malformed("a 204 with framing headers: %r" % head[:300])
    if te and cl:
        raise Malformed("both Transfer-Encoding and Content-Length: %r" % head[:300])
    if cl is not None and not re.match(r"^[0-9]{1,15}$", cl):
        raise Malformed("bad Content-Length %r" % cl)
    if head_only or r.status in (204, 304):
        return r, pos
    if te is not None:
        if te.lower() != "chunked":
            raise Malformed("Transfer-Encoding %r" % te)
        body = []
        p = pos
        while True:
            i = buf.find(b"\r\n", p)
            if i < 0:
                if eof:
                    raise Malformed("connection closed in a chunk size line")
                if len(buf) - p > 1024:
                    raise Malformed("chunk size line over 1 KiB")
                return None
            m = CHUNK_RE.match(bytes(buf[p:i]))
            if not m:
                raise Malformed("bad chunk size line %r" % bytes(buf[p:i])[:100])
            n = int(m.group(1), 16)
            if n == 0:
                p = i + 2
                while True:  # trailers, then the empty line
                    j = buf.find(b"\r\n", p)
                    if j < 0:
                        if eof:
                            raise Malformed("connection closed in the trailers")
                        return None
                    if j == p:
                        r.body = b"".join(body)
                        return r, j + 2
                    p = j + 2
            if len(buf) < i + 2 + n + 2:
                if eof:
                    raise Malformed("connection closed in a chunk (%d of %d bytes)"
                                    % (len(buf) - i - 2, n))
                return None
            if buf[i + 2 + n:i + 4 + n] != b"\r\n":
                raise Malformed("chunk data not followed by CRLF")
            body.append(bytes(buf[i + 2:i + 2 + n]))
            p = i + 4 + n
    if cl is not None:
        n = int(cl)
        if len(buf) < pos + n:
            if eof:
                raise Malformed("connection closed after %d of %d body bytes (status %d)"
                                % (len(buf) - pos, n, r.status))
            return None
        r.body = bytes(buf[pos:pos + n])
        return r, pos + n
    # a body that ends with the connection: only if the head said so
    if not r.close and r.minor != 0:
        raise Malformed("no Content-Length, no chunked coding and no Connection: close: %r"
                        % head[:300])
    if not eof:
        return None
    r.body = bytes(buf[pos:])
    r.close_delimited = True
    return r, len(buf)


# --------------------------------------------------------------------------
# checks of a clean (unmutated) request's answer

def content_range(v):
    m = re.match(r"^bytes (\d+)-(\d+)/(\d+)$", v or "")
    return tuple(int(x) for x in m.groups()) if m else None


def check_answer(req, r):
    """Returns a problem with r as the answer to the clean request req, or None."""
    if r.status == 500 and not req.target.startswith("/cgi-bin/fail.sh"):
        return "500 for a clean request"
    if req.file is not None and req.method in ("GET", "HEAD"):
        f = req.file
        cond = getattr(req, "conditional", False)
        ranged = req.has("Range")
        body = r.body
        enc = (r.get("content-encoding") or "").lower()
        if r.status == 200:
            if req.method == "HEAD":
                if not enc and r.get("content-length") != str(len(f)):
                    return "HEAD: Content-Length %r, file has %d" % (r.get("content-length"), len(f))
                return None
            if enc == "gzip":
                try:
                    body = gzip.decompress(body)
                except (OSError, EOFError) as e:
                    return "gzip body does not decode: %s" % e
            elif enc:
                return "unexpected Content-Encoding %r" % enc
            if body != f:
                return "body differs from the file %s (%d bytes, want %d)" % (req.path, len(body), len(f))
            return None
        if r.status == 206 and ranged:
            if req.method == "HEAD":
                return None
            ct = r.get("content-type") or ""
            if ct.startswith("multipart/byteranges"):
                return None
            cr = content_range(r.get("content-range"))
            if enc:
                return None  # a range of the encoded bytes
            if not cr or cr[2] != len(f) or body != f[cr[0]:cr[1] + 1]:
                return "206 with Content-Range %r does not match the file %s" % (
                    r.get("content-range"), req.path)
            return None
        if r.status in (304, 412) and cond:
            return None
        if r.status == 416 and ranged:
            return None
        if r.status == 406 and req.has("Accept-Encoding"):
            return None
        return "status %d for a GET of the file %s" % (r.status, req.path)
    if (req.target.startswith("/cgi-bin/echo.sh") and req.method in ("POST", "PUT")
            and r.status == 200 and req.framing):
        i = r.body.find(b"--body--\n")
        if i < 0 or r.body[i + 9:] != req.body:
            return "echo.sh did not give the body back (%d bytes sent)" % len(req.body)
    return None


# --------------------------------------------------------------------------
# a session: one connection

class Failure(Exception):
    def __init__(self, kind, msg):
        super().__init__("%s: %s" % (kind, msg))
        self.kind, self.msg = kind, msg


class Session:
    """One connection's plan, made from its seed alone."""

    def __init__(self, seed, grammar, stats):
        self.seed = seed
        rng = self.rng = random.Random(seed)
        self.stats = stats
        self.mutated = rng.random() < 0.5
        n = rng.choice([1, 1, 1, 2, 2, 3, 4, 6, 10])
        self.pipelined = rng.random() < 0.3
        self.reqs = []
        for _ in range(n):
            # pipelined bodies stay small: a client that sends much while
            # not reading could fill both directions' buffers on its own
            r = grammar.request(rng, clean_only=self.mutated, max_body=65536 if self.pipelined else None)
            if self.mutated and rng.random() < 0.6:
                mutate(rng, r, stats)
            self.reqs.append(r)
        if rng.random() < 0.04:
            self.reqs[-1] = grammar.http09(rng)
        self.mutated = any(r.mutations for r in self.reqs)
        self.behaviour = weighted(rng, [(55, "normal"), (12, "half_close"), (10, "reset_request"),
                                        (10, "reset_response"), (13, "slow_read")])
        self.linger = rng.random() < 0.3  # after the answers, wait for htd to close
        self.reset_after = rng.choice([0, 1, 100, 5000, 65536, 300000])
        total = sum(len(r.raw) for r in self.reqs)
        self.reset_at = rng.randrange(total) if total else 0
        # the pieces: (request index, bytes, pause before them)
        self.pieces = []
        for i, r in enumerate(self.reqs):
            raw = r.raw
            cuts = []
            if rng.random() < 0.5 and len(raw) > 1:
                cuts = sorted(rng.sample(range(1, len(raw)), min(len(raw) - 1, rng.randrange(1, 8))))
            # with Expect: 100-continue, most clients wait for the 100 (or
            # an answer, or a second) before the body
            he = _head_end(raw)
            wait100 = (r.value("Expect") == "100-continue" and r.version == "HTTP/1.1" and not r.mutations
                       and he < len(raw) and rng.random() < 0.6)
            if wait100 and he not in cuts:
                cuts = sorted(cuts + [he])
            last = 0
            for c in cuts + [len(raw)]:
                pause = 0 if rng.random() < 0.6 else rng.uniform(0.001, 0.03)
                self.pieces.append((i, raw[last:c], pause, wait100 and last == he))
                last = c
        self.slow_reads = [(rng.randrange(256, 4096), rng.uniform(0.001, 0.05)) for _ in range(64)]
        # a request before the last that asks htd to close: sending more
        # after it is the client's mistake, and the reset it can bring too
        self.closes_early = any(
            "close" in (r.value("Connection") or "").lower() or r.http09 or
            (r.version == "HTTP/1.0" and "keep-alive" not in (r.value("Connection") or "").lower()) or
            r.version not in ("HTTP/1.1", "HTTP/1.0", "HTTP/1.9") for r in self.reqs[:-1])
        self.has_cgi = any(r.target.startswith("/cgi-bin/") for r in self.reqs)
        # a one-line request that mutations made, maybe across requests
        self.may_09 = any(r.http09 for r in self.reqs) or (self.mutated and HTTP09_LINE.search(
            b"".join(r.raw for r in self.reqs)) is not None)

    def sent_bytes(self):
        return b"".join(r.raw for r in self.reqs)

    def describe(self):
        out = ["session %d: %s, %s, %d requests%s" % (
            self.seed, self.behaviour, "pipelined" if self.pipelined else "one at a time",
            len(self.reqs), ", mutated" if self.mutated else "")]
        for i, r in enumerate(self.reqs):
            out.append("  [%d] %s%s" % (i, ("mutations %s: " % ",".join(r.mutations)) if r.mutations else "",
                                        repr(r.raw[:300]) + ("...(%d bytes)" % len(r.raw) if len(r.raw) > 300 else "")))
        return "\n".join(out)


def run_session(sess, addr, verbose=False):
    """Runs the session; raises Failure. Counts into sess.stats."""
    st = sess.stats
    beh = sess.behaviour
    st.add("connections")
    st.add("behaviour:" + beh)
    if sess.pipelined:
        st.add("pipelined")
    if sess.mutated:
        st.add("mutated sessions")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if beh == "slow_read":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(STUCK)
    try:
        sock.connect(addr)
    except OSError as e:
        raise Failure("connect", "cannot connect: %s" % e)
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    buf = bytearray()
    eof = server_reset = False
    pieces = list(sess.pieces)
    cur = b""          # the rest of the piece being sent
    cur_req = -1
    next_send = time.monotonic()
    sent = 0
    sending_done = not pieces
    responses = []     # final responses, in order
    interim = 0
    received = 0
    last_progress = time.monotonic()
    slow_i = 0
    read_at = 0.0      # slow readers: no read before this
    half_closed = False
    reqs_started = set()
    close_seen_at = None   # index of the response that said Connection: close
    last_answer_t = None
    resp_start_t = last_start_t = None
    cut_by_client = False
    send_failed = False
    wait_since = None  # when a body began to wait for a 100 Continue
    interim_before = {}  # request: interim answers before it was sent
    script_from = None  # when the first script request began to be sent

    def script_time_up():
        # htd kills a script at its time limit, however long its client
        # took to read; once part of the answer is out, the connection is
        # closed (and reset, if body bytes are still unread): a slow reader
        # of a large echo can meet that on a loaded machine
        return script_from is not None and time.monotonic() - script_from >= 0.9 * CGI_TIMEOUT

    def idle_race():
        # htd's idle timeout runs from its last write, which may be long
        # before the client has read it all: the client's next request can
        # then meet a close (HTTP/1.1's keep-alive race; clients retry)
        return last_start_t is not None and time.monotonic() - last_start_t >= 0.9 * TIMEOUT
    rx_log = bytearray()

    def log(msg):
        if verbose:
            print("  %.3f %s" % (time.monotonic() - t0, msg))

    t0 = time.monotonic()

    def do_reset(why):
        st.add("client resets")
        log("reset by the client (%s)" % why)
        sel.close()
        livesite.reset(sock)

    def answered_all():
        return len(responses) >= len(sess.reqs) or close_seen_at is not None

    try:
        while True:
            now = time.monotonic()
            # ---- send
            if not sending_done and not cur and pieces and now >= next_send:
                i, data, pause, wait100 = pieces[0]
                gate_ok = True
                if wait100:
                    if wait_since is None:
                        wait_since = now
                    got100 = interim > interim_before[i]
                    if not got100 and len(responses) <= i and now - wait_since < 1.0:
                        gate_ok = False
                    else:
                        st.add("bodies sent after a 100 Continue" if got100 else
                               "bodies sent after an answer instead of a 100" if len(responses) > i else
                               "bodies sent after waiting 1 s for a 100")
                        wait_since = None
                if not sess.pipelined and i > 0 and i not in reqs_started:
                    # one at a time: the next request once the last is
                    # answered (a mutated one may never be: then after a pause)
                    if len(responses) < i and not (sess.mutated and now - last_progress > 0.3):
                        gate_ok = False
                if close_seen_at is not None or eof or server_reset:
                    sending_done = True
                    gate_ok = False
                if gate_ok:
                    pieces.pop(0)
                    cur, cur_req = data, i
                    if i not in reqs_started:
                        reqs_started.add(i)
                        interim_before[i] = interim
                        if script_from is None and sess.reqs[i].target.startswith("/cgi-bin/"):
                            script_from = now
                        st.add("requests")
                    next_send = now + (pieces[0][2] if pieces else 0)
            if cur:
                if beh == "reset_request" and sent + len(cur) > sess.reset_at:
                    k = sess.reset_at - sent
                    try:
                        if k > 0:
                            sock.send(cur[:k])
                    except OSError:
                        pass
                    do_reset("mid-request, after %d bytes" % sess.reset_at)
                    return
                try:
                    n = sock.send(cur)
                    log("sent %d bytes of request %d: %r" % (n, cur_req, cur[:n][:60]))
                    sent += n
                    cur = cur[n:]
                    last_progress = now
                except BlockingIOError:
                    pass
                except (BrokenPipeError, ConnectionResetError) as e:
                    # htd closed; what it sent before may still be readable
                    log("send: %s" % e)
                    send_failed = True
                    cur, pieces, sending_done = b"", [], True
            if not cur and not pieces and not sending_done:
                sending_done = True
            if sending_done and not cur and beh == "half_close" and not half_closed and not eof:
                try:
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                half_closed = True
                st.add("half-closes")
                log("half-closed")
            # ---- the end?
            if eof or server_reset:
                break
            if sending_done and not cur and not sess.mutated and answered_all() and close_seen_at is None:
                if beh in ("normal", "slow_read") and not sess.linger:
                    break   # the client closes
            # ---- wait for something
            want_write = bool(cur)
            timeout = 0.05
            if pieces and not cur:
                timeout = max(0.0, min(timeout, next_send - now))
            can_read = not (beh == "slow_read" and now < read_at)
            if not can_read:
                timeout = max(0.0, min(timeout, read_at - now))
            mask = (selectors.EVENT_READ if can_read else 0) | (selectors.EVENT_WRITE if want_write else 0)
            if mask:
                sel.modify(sock, mask)
                events = sel.select(timeout)
            else:
                time.sleep(timeout)
                events = []
            now = time.monotonic()
            readable = any(mask & selectors.EVENT_READ for _, mask in events)
            if readable and can_read:
                size = 65536
                if beh == "slow_read" and slow_i < len(sess.slow_reads):
                    size, pause = sess.slow_reads[slow_i]
                    slow_i += 1
                    read_at = now + pause
                try:
                    d = sock.recv(size)
                except BlockingIOError:
                    d = None
                except ConnectionResetError:
                    server_reset = True
                    d = None
                    log("reset by htd")
                if d is not None:
                    last_progress = now
                    if not d:
                        eof = True
                        log("EOF")
                    else:
                        if not buf:
                            resp_start_t = now  # the first byte of an answer
                        buf += d
                        received += len(d)
                        if len(rx_log) < 4096:
                            rx_log += d[:4096 - len(rx_log)]
            elif not readable and can_read:
                if now - last_progress > STUCK:
                    raise Failure("stuck", "no byte and no close for %.1f s (%d answers, %d bytes in, "
                                  "%d bytes out)" % (now - last_progress, len(responses), received, sent))
            # ---- parse what came
            while buf:
                if close_seen_at is not None:
                    raise Failure("after-close", "bytes after a response with Connection: close: %r"
                                  % bytes(buf[:300]))
                k = len(responses)
                req = sess.reqs[k] if k < len(sess.reqs) else None
                # a request whose bytes begin "HEAD " is answered without a
                # body, whether it parses or is refused (mutated); the bytes
                # before it must not have moved where it begins
                head_only = req is not None and begins_head(req.raw) and all(
                    not r.mutations for r in sess.reqs[:k])
                try:
                    got = parse_response(buf, eof, head_only)
                    if got is not None:
                        got[0].head_only = head_only
                except NotHTTP:
                    if not sess.may_09:
                        raise Failure("malformed", "bytes that are not a response: %r" % bytes(buf[:300]))
                    if not eof:
                        break
                    # an HTTP/0.9 answer: the body, to the close
                    st.add("http/0.9 answers")
                    if req is not None and req.http09 and req.file is not None and \
                            bytes(buf) != req.file and not server_reset:
                        raise Failure("wrong-bytes", "HTTP/0.9 GET %s: %d bytes, want %d"
                                      % (req.path, len(buf), len(req.file)))
                    responses.append(None)
                    buf.clear()
                    break
                except Malformed as e:
                    if server_reset:
                        break
                    if eof and sess.closes_early:
                        # the client sent more after saying its request was
                        # the last: htd closed at once, as it may, and the
                        # reset those bytes brought cut what was in flight
                        st.add("answers cut by the client's own bytes after its close")
                        cut_by_client = True
                        buf.clear()
                        break
                    if eof and script_time_up() and SCRIPT_HEAD.search(bytes(buf[:4096])):
                        st.add("script answers cut (time limit)")
                        buf.clear()
                        break
                    if eof and (half_closed or sess.mutated) and SCRIPT_HEAD.search(bytes(buf[:4096])):
                        # A script's answer is cut when htd gives up on its
                        # client after the head went out: a request body
                        # that never came whole (the body timeout), or a
                        # client that half-closed, which htd takes, as
                        # nginx does, for one that left.
                        st.add("script answers cut" + (" (half-close)" if half_closed else
                                                       " (body timeout)"))
                        buf.clear()
                        break
                    raise Failure("malformed", str(e))
                if got is None:
                    break
                r, used = got
                del buf[:used]
                if 100 <= r.status < 200:
                    interim += 1
                    st.add("interim (1xx)")
                    continue
                responses.append(r)
                last_answer_t = time.monotonic()
                last_start_t = resp_start_t
                resp_start_t = last_answer_t
                st.status_seen(r.status)
                log("answer %d: %d %s (%d body bytes)%s" % (k, r.status, r.raw_head[:60], len(r.body),
                                                            ", close" if r.close else ""))
                if r.close:
                    close_seen_at = k
                if r.status >= 500 and r.status not in (501, 503, 505):
                    if not any(x.target.startswith("/cgi-bin/fail.sh") for x in sess.reqs):
                        raise Failure("5xx", "status %d: %r" % (r.status, r.raw_head[:300]))
                if r.close_delimited and (sess.closes_early or half_closed and sess.has_cgi):
                    # its end is the close, so a cut cannot be seen: bytes
                    # the client sent after its own close can reset it away,
                    # and a script's answer ends when htd takes a half-close
                    # for a client that left: not checked
                    st.add("close-delimited answers left unchecked")
                elif not sess.mutated and req is not None and not req.http09:
                    why = check_answer(req, r)
                    if why:
                        raise Failure("wrong-answer", "request %d: %s; head %r" % (k, why, r.raw_head[:400]))
                if eof and not buf:
                    break
            if beh == "reset_response" and sending_done and not cur and received >= sess.reset_after:
                do_reset("mid-response, after %d bytes in" % received)
                return
        # ---- the connection is over
        st.add("answers", len(responses))
        if server_reset:
            st.add("resets by htd")
            if not sess.mutated and not sess.closes_early and len(responses) < len(sess.reqs) \
                    and not any(r is not None and r.close for r in responses) and beh != "half_close" \
                    and not idle_race():
                if script_time_up():
                    st.add("script answers cut (time limit)")
                    return
                raise Failure("reset", "htd reset a clean session after %d of %d answers"
                              % (len(responses), len(sess.reqs)))
            return
        if eof and buf:
            raise Failure("malformed", "connection closed in a response: %r" % bytes(buf[:300]))
        if eof and not sess.mutated:
            started = len(reqs_started)
            # (with bytes sent after the client's own close, the reset they
            # meet may destroy any answer still queued for it)
            closes = close_seen_at is not None or any(r is None for r in responses) or cut_by_client \
                or (sess.closes_early and send_failed)
            if len(responses) < started and not closes and half_closed and sess.has_cgi and \
                    any(r.target.startswith("/cgi-bin/") for r in sess.reqs[len(responses):]):
                st.add("script answers cut (half-close)")
            elif len(responses) < started and not closes and idle_race():
                st.add("idle closes racing a request")
            elif len(responses) < started and not closes:
                raise Failure("unanswered", "closed after %d answers to %d requests, none of them "
                              "saying Connection: close" % (len(responses), started))
            if beh == "half_close" and last_answer_t is not None and \
                    time.monotonic() - last_answer_t > 0.9 * TIMEOUT and len(responses) == started:
                raise Failure("half-close", "closed %.2f s after the last answer to a half-closed "
                              "connection (the idle timeout, not the client's FIN)"
                              % (time.monotonic() - last_answer_t))
        if eof:
            st.add("closed by htd")
        else:
            st.add("closed by the client")
    except Failure:
        sess.rx = bytes(rx_log)
        raise
    finally:
        try:
            sel.close()
        except Exception:
            pass
        try:
            sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------------
# the run

def health_loop(site, addr, stats, stop, interval=1.0):
    """Fresh GETs of known files, byte for byte, while the fuzzer runs."""
    files = site.files
    n = 0
    while not stop.wait(interval):
        n += 1
        path = "/big.bin" if n % 5 == 0 else "/file.txt"
        t = time.monotonic()
        try:
            c = harness.connect_addr(addr)
            c.sock.settimeout(STUCK)
            c.send(harness.req(path, headers=[("Connection", "close")]))
            r = c.read_response()
            c.close()
            if r.status != 200 or r.body != files[path]:
                raise Failure("health", "GET %s gave %d with %d bytes" % (path, r.status, len(r.body)))
            stats.add("health checks")
            dt = time.monotonic() - t
            with stats.lock:
                stats.c["health max ms"] = max(stats.c.get("health max ms", 0), int(dt * 1000))
        except Failure as e:
            stats.fail({"seed": None, "kind": e.kind, "msg": e.msg, "sent": b"", "desc": "health check"})
        except (OSError, harness.TestFailure) as e:
            stats.fail({"seed": None, "kind": "health", "msg": "GET %s: %s" % (path, e), "sent": b"",
                        "desc": "health check"})
        if not site.srv.alive() or site.srv.sanitizer_report():
            stats.fail({"seed": None, "kind": "died", "msg": "htd died or wrote a sanitizer report",
                        "sent": b"", "desc": ""})
            stop.set()


def worker(wid, master_seed, grammar, addr, stats, deadline, stop):
    wrng = random.Random("%d-%d" % (master_seed, wid))
    while time.monotonic() < deadline and not stop.is_set():
        seed = wrng.getrandbits(48)
        sess = Session(seed, grammar, stats)
        try:
            run_session(sess, addr)
        except Failure as e:
            stats.fail({"seed": seed, "kind": e.kind, "msg": e.msg, "sent": sess.sent_bytes(),
                        "desc": sess.describe(), "rx": getattr(sess, "rx", b"")})
        except Exception as e:  # a bug in this tool: say so, keep going
            stats.add("tool errors")
            stats.fail({"seed": seed, "kind": "tool-error", "msg": "%s\n%s" % (e, traceback.format_exc()),
                        "sent": sess.sent_bytes(), "desc": sess.describe()})


def report_failures(stats, out_dir, htd):
    for i, f in enumerate(stats.failures):
        print("FAILURE %d: %s: %s" % (i + 1, f["kind"], f["msg"]))
        if f.get("seed") is not None:
            print("  replay: python3 tests/live/fuzz.py --htd %s --replay %d" % (htd, f["seed"]))
            print("  " + f["desc"].replace("\n", "\n  "))
            if f.get("rx"):
                print("  received: %r" % f["rx"][:600])
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
            base = os.path.join(out_dir, "failure-%d" % (i + 1))
            with open(base + ".bin", "wb") as fh:
                fh.write(f.get("sent") or b"")
            with open(base + ".txt", "w") as fh:
                fh.write("%s: %s\nseed %s\n%s\nreceived %r\n" % (f["kind"], f["msg"], f.get("seed"),
                                                                 f.get("desc", ""), f.get("rx", b"")))
        if i >= 19:
            print("... %d more failures" % (len(stats.failures) - 20))
            break


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--htd", required=True, help="the htd binary (an ASan build)")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--conns", type=int, default=24, help="concurrent client connections")
    ap.add_argument("--replay", type=int, default=None, metavar="SESSION",
                    help="run one session (a failure's seed) and print what happens")
    ap.add_argument("--out", default=None, help="directory for failures' bytes (default: a temp dir)")
    ap.add_argument("--strict", action="store_true", help="known htd bugs (KNOWN) are failures too")
    args = ap.parse_args()
    global STRICT
    STRICT = args.strict
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    site = livesite.Site()
    os.makedirs(os.path.join(site.root, "uploads", "posts"), exist_ok=True)
    stats = Stats()
    srv = None
    try:
        srv = site.start(args.htd, timeout=TIMEOUT, cgi_timeout=CGI_TIMEOUT)
        etags = [e for e in (site.etag(p) for p in ("/file.txt", "/big.bin", "/style.css", "/medium.txt"))
                 if e]
        grammar = Grammar(site, etags, srv.port)
        if args.replay is not None:
            sess = Session(args.replay, grammar, stats)
            print(sess.describe())
            try:
                run_session(sess, srv.addr, verbose=True)
                print("session passed")
            except Failure as e:
                print("FAILURE %s: %s" % (e.kind, e.msg))
            problems = site.stop()
            for p in problems:
                print("FAILURE: " + p)
            return 1 if problems else 0
        print("livefuzz: seed %d, %d connections at once, %.0f s, htd %s (%s), stuck after %.0f s"
              % (seed, args.conns, args.seconds, args.htd, livesite.git_describe(), STUCK))
        sys.stdout.flush()
        # warm-up, then the descriptors to come back to
        site.settle()
        fd_start = livesite.wait_fds_stable(srv.proc.pid)
        t0 = time.monotonic()
        deadline = t0 + args.seconds
        stop = threading.Event()
        hstop = threading.Event()
        threads = [threading.Thread(target=worker, args=(w, seed, grammar, srv.addr, stats, deadline, stop),
                                    daemon=True) for w in range(args.conns)]
        ht = threading.Thread(target=health_loop, args=(site, srv.addr, stats, hstop), daemon=True)
        for t in threads:
            t.start()
        ht.start()
        last_print = t0
        while any(t.is_alive() for t in threads):
            time.sleep(0.5)
            if time.monotonic() - last_print >= 10:
                last_print = time.monotonic()
                print("  %4.0f s: %d connections, %d requests, %d answers, %d failures"
                      % (last_print - t0, stats.get("connections"), stats.get("requests"),
                         stats.get("answers"), len(stats.failures)))
                sys.stdout.flush()
            if hstop.is_set():
                stop.set()
        hstop.set()
        ht.join()
        elapsed = time.monotonic() - t0
        # after the clients: nothing left over
        alive = srv.alive()
        if alive:
            livesite.wait_fds_stable(srv.proc.pid, quiet=TIMEOUT + 0.5)
            try:
                site.settle()
            except (OSError, harness.TestFailure) as e:
                stats.fail({"seed": None, "kind": "health", "msg": "settle: %s" % e, "sent": b"", "desc": ""})
            fd_end = livesite.wait_fds_stable(srv.proc.pid, quiet=TIMEOUT + 0.5)
            if len(fd_end) != len(fd_start):
                stats.fail({"seed": None, "kind": "descriptors", "sent": b"", "desc": "",
                            "msg": "%d descriptors after warm-up (%s), %d at the end (%s)"
                            % (len(fd_start), livesite.fd_kinds(fd_start), len(fd_end),
                               livesite.fd_kinds(fd_end))})
            left = site.leftover_temporaries()
            if left:
                stats.fail({"seed": None, "kind": "temporaries", "sent": b"", "desc": "",
                            "msg": "temporary files left in the store: %s" % left[:5]})
        for p in site.stop():
            stats.fail({"seed": None, "kind": "exit", "msg": p, "sent": b"", "desc": ""})
        # ---- summary
        c = stats.c
        classes = {}
        for code, n in stats.status.items():
            classes["%dxx" % (code // 100)] = classes.get("%dxx" % (code // 100), 0) + n
        print("livefuzz summary (seed %d, %.0f s, %d threads of clients):" % (seed, elapsed, args.conns))
        print("  connections     %d (%s)" % (c.get("connections", 0), ", ".join(
            "%s %d" % (k[10:], v) for k, v in sorted(c.items()) if k.startswith("behaviour:"))))
        print("  requests        %d (%d sessions mutated, %d pipelined)" % (
            c.get("requests", 0), c.get("mutated sessions", 0), c.get("pipelined", 0)))
        print("  answers         %d: %s; HTTP/0.9 %d" % (
            c.get("answers", 0), ", ".join("%s %d" % kv for kv in sorted(classes.items())),
            c.get("http/0.9 answers", 0)))
        print("  100 Continue    %d; bodies held for it: %d sent after it, %d after a final answer, "
              "%d after waiting 1 s" % (c.get("interim (1xx)", 0), c.get("bodies sent after a 100 Continue", 0),
                                       c.get("bodies sent after an answer instead of a 100", 0),
                                       c.get("bodies sent after waiting 1 s for a 100", 0)))
        print("  statuses        %s" % " ".join("%d:%d" % kv for kv in sorted(stats.status.items())))
        print("  resets          %d by the client, %d by htd" % (c.get("client resets", 0),
                                                                 c.get("resets by htd", 0)))
        print("  half-closes     %d" % c.get("half-closes", 0))
        print("  ends            %d closed by htd, %d by the client after their answers; %d idle "
              "closes met a late request" % (c.get("closed by htd", 0), c.get("closed by the client", 0),
                                             c.get("idle closes racing a request", 0)))
        print("  mutations       %d: %s" % (sum(v for k, v in c.items() if k.startswith("mutation:")),
                                            ", ".join("%s %d" % (k[9:], v) for k, v in sorted(c.items())
                                                      if k.startswith("mutation:"))))
        print("  health checks   %d (slowest %d ms)" % (c.get("health checks", 0), c.get("health max ms", 0)))
        if alive:
            print("  descriptors     %d after warm-up, %d at the end" % (len(fd_start), len(fd_end)))
        for name, what in KNOWN.items():
            if c.get("known:" + name):
                kseed, example = c["known example:" + name]
                print("  known bug       %d times: %s; e.g. session %d: %s"
                      % (c["known:" + name], what, kseed, example))
        print("  scripts cut     %d after a half-close (htd takes the FIN for a client that left), "
              "%d after a body timeout, %d at their time limit"
              % (c.get("script answers cut (half-close)", 0), c.get("script answers cut (body timeout)", 0),
                 c.get("script answers cut (time limit)", 0)))
        print("  failures        %d" % len(stats.failures))
        out_dir = args.out or (os.path.join("/tmp", "htd-livefuzz-%d" % seed) if stats.failures else None)
        report_failures(stats, out_dir, args.htd)
        if stats.failures and out_dir:
            print("failures' bytes in %s" % out_dir)
        return 1 if stats.failures else 0
    finally:
        site.cleanup()


if __name__ == "__main__":
    sys.exit(main())

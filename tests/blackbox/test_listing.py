# SPDX-License-Identifier: BSD-2-Clause
"""Directory listings (--list-dirs): off by default (403); an HTML page with
hostile file names escaped; the same listing as JSON when the client asks
for it; dotfiles hidden, and symlinks that lead to them neither listed nor
served; folders first; and a 10,000-entry directory listed on the pool
while another client's GETs keep being answered at once."""

import json
import os
import shutil
import statistics
import tempfile
import threading
import time

import harness
from harness import check, connect, eq, get, req

HOSTILE = [b"<script>alert(1)<\\script>", b"a\"b'c", b"100%", b"x?y#z", b"\xff\xfe bad utf-8", b"caf\xc3\xa9"]


class Site:
    def __init__(self, extra=("--list-dirs",)):
        self.root = os.path.realpath(tempfile.mkdtemp(prefix="htd-list-"))
        os.chmod(self.root, 0o755)
        rootb = self.root.encode()
        for name in HOSTILE:
            with open(os.path.join(rootb, name), "wb") as f:
                f.write(b"x" * 1536)
        os.mkdir(os.path.join(self.root, "zfolder"))
        os.mkdir(os.path.join(self.root, "Afolder"))
        with open(os.path.join(self.root, ".secret"), "wb") as f:
            f.write(b"hidden\n")
        big = os.path.join(self.root, "big")
        os.mkdir(big)
        src = os.path.join(big, "f00000")
        open(src, "wb").close()
        for i in range(1, 10000):  # hard links: 10,000 entries without 10,000 inodes
            os.link(src, os.path.join(big, "f%05d" % i))
        with open(os.path.join(self.root, "plain.txt"), "wb") as f:
            f.write(b"plain\n")
        self.srv = harness.start_htd(self.root, extra=list(extra), threads=1)

    def close(self):
        rc = self.srv.stop()
        rep = self.srv.sanitizer_report()
        self.srv.cleanup()
        shutil.rmtree(self.root, ignore_errors=True)
        eq(rc, 0, "exit status")
        check(rep is None, "sanitizer report:\n%s" % rep)


def _with(fn, extra=("--list-dirs",)):
    s = Site(extra)
    try:
        fn(s.srv)
    finally:
        s.close()


def test_listing_off_by_default_is_403(ctx):
    _with(lambda srv: harness.check_error(get(srv, "/"), 403), extra=())


def test_listing_html_escapes_hostile_names(ctx):
    def t(srv):
        r = get(srv, "/")
        eq((r.status, r.get("Content-Type"), r.get("Vary")), (200, "text/html; charset=utf-8", "Accept"), "head")
        body = r.body
        check(body.startswith(b"<!doctype html>"), "an HTML page")
        check(b"<script>" not in body and b"alert(1)<" not in body, "no raw script tag")
        check(b"&lt;script&gt;alert(1)&lt;\\script&gt;" in body, "the script name escaped as text")
        check(b"a&quot;b&#39;c" in body or b"a&quot;b&#x27;c" in body, "quotes escaped")
        check(b'href="100%25"' in body, "%% encoded in the link")
        check(b'href="x%3Fy%23z"' in body, "? and # encoded in the link")
        check(b"\xff" not in body, "no invalid UTF-8 passed through")
        check(b"caf\xc3\xa9" in body, "valid UTF-8 shown as it is")
        check(b".secret" not in body, "dotfiles hidden")
        check(b"1.5 KiB" in body, "human sizes")
        check(body.index(b"Afolder") < body.index(b"zfolder") < body.index(b"plain.txt"), "folders first, sorted")
        r = get(srv, "/big/")
        eq(r.status, 200, "a subfolder")
        check(b'href="../"' in r.body, "a parent link below the root")
        r = get(srv, "/", "HEAD")
        eq((r.status, r.body), (200, b""), "HEAD: no body")
    _with(t)


def test_listing_json_when_asked(ctx):
    def t(srv):
        r = get(srv, "/", headers=[("Accept", "application/json")])
        eq((r.status, r.get("Content-Type")), (200, "application/json"), "JSON head")
        doc = json.loads(r.body)
        eq(doc["path"], "/", "path")
        names = [e["name"] for e in doc["entries"]]
        eq(names[:3], ["Afolder", "big", "zfolder"], "folders first")
        check("<script>alert(1)<\\script>" in names and "\ufffd\ufffd bad utf-8" in names, "names %r" % names)
        check(".secret" not in names, "dotfiles hidden")
        f = [e for e in doc["entries"] if e["name"] == "plain.txt"][0]
        eq((f["type"], f["size"]), ("file", 6), "a file's entry")
        r = get(srv, "/", headers=[("Accept", "text/html,application/json;q=0.9")])
        eq(r.get("Content-Type"), "text/html; charset=utf-8", "HTML preferred")
    _with(t)


def test_links_to_dotfiles_are_neither_listed_nor_served(ctx):
    s = Site()
    outside = os.path.realpath(tempfile.mkdtemp(prefix="htd-list-out-"))
    try:
        root, srv = s.root, s.srv
        os.makedirs(os.path.join(root, ".git"))
        with open(os.path.join(root, ".git", "config"), "wb") as f:
            f.write(b"[core] secret\n")
        os.makedirs(os.path.join(root, "docs"))
        with open(os.path.join(root, "docs", "real.txt"), "wb") as f:
            f.write(b"real\n")
        for link, target in (("envlink", ".secret"), ("cfg", ".git"), ("gitconfig", ".git/config"),
                             ("ok", "plain.txt"), ("out", outside), ("docs/up", "../.secret"),
                             ("docs/deep", "../cfg/config"), ("docs/fine", "../plain.txt")):
            os.symlink(target, os.path.join(root, link))
        r = get(srv, "/")
        eq(r.status, 200, "the listing")
        for name in (b"envlink", b"cfg", b"gitconfig", b"out"):
            check(name not in r.body, "%r is listed" % name)
        check(b'href="ok"' in r.body and b'href="docs/"' in r.body, "links that may be served stay")
        doc = json.loads(get(srv, "/docs/", headers=[("Accept", "application/json")]).body)
        eq(sorted(e["name"] for e in doc["entries"]), ["fine", "real.txt"], "/docs/ in JSON")
        url_rule = get(srv, "/.secret")
        harness.check_error(url_rule, 403)
        for path in ("/envlink", "/cfg/", "/cfg/config", "/gitconfig", "/docs/up", "/docs/deep"):
            r = get(srv, path)
            harness.check_error(r, 403)
            eq(r.body, url_rule.body, "%s is refused as a dotfile is" % path)
        eq(get(srv, "/cfg/", headers=[("Accept", "application/json")]).status, 403, "nor in JSON")
        eq(get(srv, "/ok").body, b"plain\n", "a link to a file that may be served")
    finally:
        s.close()
        shutil.rmtree(outside, ignore_errors=True)


def test_10000_entries_listed_while_other_gets_keep_answering(ctx):
    def t(srv):
        lat, stop, errors = [], [], []

        def poll():
            try:
                c = connect(srv)
                while not stop:
                    t0 = time.perf_counter()
                    c.send(req("/plain.txt"))
                    r = c.read_response()
                    eq(r.body, b"plain\n", "the static file")
                    lat.append(time.perf_counter() - t0)
                    if r.get("Connection") == "close":  # the per-connection request limit
                        c.close()
                        c = connect(srv)
                c.close()
            except Exception as e:  # reported by the test, not lost in the thread
                errors.append(e)

        th = threading.Thread(target=poll)
        th.start()
        try:
            for _ in range(10):
                r = get(srv, "/big/", headers=[("Accept", "application/json")])
                eq((r.status, len(json.loads(r.body)["entries"])), (200, 10000), "10,000 entries")
        finally:
            stop.append(1)
            th.join()
        check(not errors, "the polling client failed: %r" % errors)
        check(len(lat) >= 10, "the other client got answers (%d)" % len(lat))
        check(statistics.median(lat) < 0.05, "median GET latency %.1f ms" % (statistics.median(lat) * 1000))
    _with(t)


def test_large_listing_is_framed_by_its_length_for_slow_readers_pipelined_and_http10(ctx):
    def t(srv):
        js = [("Accept", "application/json")]
        n = int(get(srv, "/big/", "HEAD", headers=js).get("Content-Length"))
        check(n > 300000, "HEAD gives the length: %d" % n)
        # A small receive buffer: the page goes out over many writes.
        c = connect(srv, rcvbuf=4096)
        c.send(req("/big/", headers=js) + req("/big/") + req("/plain.txt"))
        r = c.read_response()
        eq((int(r.get("Content-Length")), len(r.body)), (n, n), "JSON length")
        eq(len(json.loads(r.body)["entries"]), 10000, "JSON entries")
        r = c.read_response()
        eq(int(r.get("Content-Length")), len(r.body), "HTML length")
        check(r.body.endswith(b"0 folders, 10000 files</footer>\n</main>\n</body>\n</html>\n"), "the page's end")
        eq(r.body.count(b'<a class="f" href="f0'), 10000, "HTML entries")
        eq(c.read_response().body, b"plain\n", "the request after them")
        c.close()
        c = connect(srv)
        c.send(req("/big/", headers=js + [("Connection", "keep-alive")], version="HTTP/1.0") +
               req("/plain.txt", version="HTTP/1.0"))
        r = c.read_response()
        eq((r.get("Connection"), len(r.body)), ("keep-alive", n), "HTTP/1.0 keep-alive")
        eq(c.read_response().body, b"plain\n", "HTTP/1.0: the request after it")
        c.close()
        # A client that leaves halfway: the listing is let go, the server goes on.
        for _ in range(3):
            c = connect(srv, rcvbuf=4096)
            c.send(req("/big/"))
            check(c.sock.recv(4096), "the listing starts")
            c.close()
        eq(get(srv, "/plain.txt").body, b"plain\n", "still serving")
    _with(t)


def test_listings_are_compressed_where_gzip_is_on(ctx):
    """With --gzip, a listing goes gzip-compressed (chunked, Vary: Accept,
    Accept-Encoding) to a client that takes it, and decompresses to the very
    page a client without gzip gets; HEAD says the same; HTTP/1.0 gets it
    until the connection closes."""
    import gzip as gz

    def t(srv):
        plain = get(srv, "/big/")
        eq(plain.status, 200, "the plain listing")
        eq(plain.get("Vary"), "Accept, Accept-Encoding", "Vary of the plain listing")
        r = get(srv, "/big/", headers=[("Accept-Encoding", "gzip")])
        eq((r.status, r.get("Content-Encoding")), (200, "gzip"), "the compressed listing")
        eq(r.get("Transfer-Encoding"), "chunked", "framed by chunks")
        body = gz.decompress(r.body)
        eq(body, plain.body, "the listing decompressed")
        check(len(r.body) * 5 < len(plain.body), "compressed: %d of %d bytes"
              % (len(r.body), len(plain.body)))
        h = get(srv, "/big/", method="HEAD", headers=[("Accept-Encoding", "gzip")])
        eq((h.status, h.get("Content-Encoding"), h.body), (200, "gzip", b""), "HEAD")
        r = get(srv, "/big/", headers=[("Accept-Encoding", "gzip")], version="HTTP/1.0")
        eq(gz.decompress(r.body), plain.body, "HTTP/1.0, the body up to the close")
        # HTTP/1.0 asking to keep the connection: no length to give, so the
        # head says the connection closes, and it does.
        c = connect(srv)
        c.send(req("/big/", headers=[("Accept-Encoding", "gzip"), ("Connection", "keep-alive")],
                   version="HTTP/1.0"))
        data = c.read_to_eof()
        c.close()
        head, _, body = data.partition(b"\r\n\r\n")
        check(b"\r\nConnection: close" in head and b"Content-Length" not in head,
              "an HTTP/1.0 keep-alive head: %r" % head)
        eq(gz.decompress(body), plain.body, "its body, up to the close")
        r = get(srv, "/big/", headers=[("Accept-Encoding", "gzip;q=0")])
        eq(r.get("Content-Encoding"), None, "gzip;q=0: not compressed")
    _with(t, extra=("--list-dirs", "--gzip"))


def test_listings_are_compressed_with_brotli_where_it_is_on(ctx):
    """With --brotli (and --gzip), a client that takes br gets the listing in
    br, which decodes to the plain page; one that takes only gzip gets gzip."""
    import gzip as gz
    import subprocess

    if not shutil.which("brotli"):
        raise harness.Skip("the brotli program is not installed (Debian package brotli)")

    def t(srv):
        plain = get(srv, "/big/")
        r = get(srv, "/big/", headers=[("Accept-Encoding", "gzip, br")])
        eq((r.status, r.get("Content-Encoding"), r.get("Vary")), (200, "br", "Accept, Accept-Encoding"),
           "the listing in br")
        p = subprocess.run(["brotli", "-d", "-c"], input=r.body, capture_output=True, timeout=30)
        eq((p.returncode, p.stdout), (0, plain.body), "it decodes to the plain listing")
        r = get(srv, "/big/", headers=[("Accept-Encoding", "gzip")])
        eq((r.get("Content-Encoding"), gz.decompress(r.body)), ("gzip", plain.body), "gzip alone")
        r = get(srv, "/big/", headers=[("Accept", "application/json"), ("Accept-Encoding", "br")])
        eq((r.get("Content-Type"), r.get("Content-Encoding")), ("application/json", "br"), "JSON too")
    _with(t, extra=("--list-dirs", "--gzip", "--brotli"))

# SPDX-License-Identifier: BSD-2-Clause
"""The document store (--writable): PUT 201/204 with Location, POST naming the
document, DELETE 204/404/409, 405 outside the writable areas, 409 for a file
in the way, 412 for If-Match and If-None-Match: *, 413 declared and chunked,
507 on a full disk, 100-continue only for acceptable uploads, byte-exact
round trips of 10 MiB, concurrent PUTs, a SIGKILL mid-upload, temporary files
never served and cleaned at start, and a slow upload not stalling GETs."""

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import harness
from harness import check, connect, eq, get, req


class Store:
    def __init__(self, extra=(), root=None, prefix=()):
        self.root = root or tempfile.mkdtemp(prefix="htd-store-")
        os.chmod(self.root, 0o755)
        os.makedirs(os.path.join(self.root, "docs"), exist_ok=True)
        with open(os.path.join(self.root, "readonly.txt"), "wb") as f:
            f.write(b"read only\n")
        self.srv = harness.start_htd(self.root, threads=2, prefix=prefix,
                                     extra=["--writable", "/docs", "--writable", "/small:1K"] + list(extra))

    def path(self, rel):
        return os.path.join(self.root, rel)

    def close(self):
        rc = self.srv.stop()
        rep = self.srv.sanitizer_report()
        self.srv.cleanup()
        subprocess.run(["rm", "-rf", self.root])
        eq(rc, 0, "exit status")
        check(rep is None, "sanitizer report:\n%s" % rep)


def _with(fn, extra=()):
    st = Store(extra)
    try:
        fn(st)
    finally:
        st.close()


def put(srv, path, body, headers=()):
    r, c = harness.exchange(srv, req(path, "PUT", [("Content-Length", str(len(body)))] + list(headers)) + body)
    c.close()
    return r


def test_put_creates_then_replaces(ctx):
    def t(st):
        r = put(st.srv, "/docs/new.txt", b"first\n")
        eq(r.status, 201, "PUT of a new document")
        eq(r.get("Location"), "/docs/new.txt", "Location")
        g = get(st.srv, "/docs/new.txt")
        eq(g.body, b"first\n", "GET after PUT")
        r = put(st.srv, "/docs/new.txt", b"second, longer\n")
        eq(r.status, 204, "PUT replacing")
        eq(r.body, b"", "no body on 204")
        g2 = get(st.srv, "/docs/new.txt")
        eq(g2.body, b"second, longer\n", "GET right after the replace")
        check(g2.get("ETag") != g.get("ETag"), "a new ETag")
    _with(t)


def test_put_makes_missing_directories_and_409_for_a_file_in_the_way(ctx):
    def t(st):
        eq(put(st.srv, "/docs/a/b/c.txt", b"deep").status, 201, "parents made")
        check(os.path.isdir(st.path("docs/a/b")), "directories exist")
        eq(put(st.srv, "/docs/a/b/c.txt/d.txt", b"x").status, 409, "a file where a directory must be")
        eq(put(st.srv, "/docs/a", b"x").status, 409, "a directory where the document would go")
    _with(t)


def test_post_names_the_document(ctx):
    def t(st):
        names = []
        for ctype, ext in (("application/json", ".json"), ("text/plain; charset=utf-8", ".txt"),
                           ("application/x-unknown", ".bin")):
            body = b'{"n": 1}'
            r, c = harness.exchange(st.srv, req("/docs/", "POST", [("Content-Type", ctype),
                                                                  ("Content-Length", str(len(body)))]) + body)
            c.close()
            eq(r.status, 201, "POST to a collection")
            loc = r.get("Location")
            check(re.match(r"^/docs/[0-9a-f]{16}-[0-9a-f]{4}\%s$" % ext, loc or "") is not None,
                  "Location %r: time-ordered, URL-safe, extension %s" % (loc, ext))
            check(loc.encode() in r.body, "the body gives the URI")
            eq(get(st.srv, loc).body, body, "the new document")
            names.append(loc)
        eq(names, sorted(names), "names are time-ordered")
        eq(harness.exchange(st.srv, req("/docs/none/", "POST", [("Content-Length", "1")]) + b"x")[0].status,
           404, "POST to a missing collection")
    _with(t)


def test_post_where_the_filesystem_cannot_rename_without_replacing(ctx):
    """NFS, and ZFS before 2.2, answer renameat2(RENAME_NOREPLACE) with
    EINVAL (here a seccomp filter does): POST still puts its document in
    place, by a hard link that fails rather than replace, and leaves no
    temporary file. Before, it was a 500."""
    refuse = os.path.join(os.path.dirname(os.path.abspath(__file__)), "refuse_syscall.py")
    st = Store(prefix=(sys.executable, refuse, "renameat2", "EINVAL"))
    try:
        locs = []
        for i in range(3):
            body = b"document %d\n" % i
            r = post(st.srv, "/docs/", body)
            eq(r.status, 201, "POST %d" % i)
            locs.append(r.get("Location"))
            eq(get(st.srv, locs[-1]).body, body, "the document POST %d made" % i)
        eq(len(set(locs)), 3, "three names")
        eq(sorted(os.listdir(st.path("docs"))), sorted(l.rsplit("/", 1)[1] for l in locs),
           "the documents, and no temporary file beside them")
        eq(put(st.srv, "/docs/put.txt", b"put\n").status, 201, "PUT, which renames over")
        eq(get(st.srv, "/docs/put.txt").body, b"put\n", "the document PUT made")
    finally:
        st.close()


def post(srv, path, body, ctype="text/plain"):
    r, c = harness.exchange(srv, req(path, "POST", [("Content-Type", ctype),
                                                    ("Content-Length", str(len(body)))]) + body)
    c.close()
    return r


def test_location_is_the_normalised_path_never_the_target(ctx):
    def t(st):
        r = put(st.srv, "//attacker.example/../up/loc.txt", b"loc\n")
        eq(r.status, 201, "PUT through a hostile target")
        eq(r.get("Location"), "/up/loc.txt", "Location")
        check(b"attacker" not in r.head_raw + r.body, "the target is not echoed: %r" % r.head_raw)
        eq(open(st.path("up/loc.txt"), "rb").read(), b"loc\n", "stored at /up/loc.txt")
        r = put(st.srv, "/up/./a%20b//c/%2e%2e/50%25%3f.txt", b"x")
        eq(r.get("Location"), "/up/a%20b/50%25%3F.txt", "decoded, normalised, encoded again")
        check(os.path.isfile(st.path("up/a b/50%?.txt")), "the name as decoded")
        eq(get(st.srv, r.get("Location")).body, b"x", "the Location serves the document")
        # POST: the collection's normalised path and the chosen name.
        for target in ("//attacker.example/../up/", "//attacker.example/../up", "/up/./"):
            r = post(st.srv, target, b"p")
            eq(r.status, 201, "POST to " + target)
            loc = r.get("Location") or ""
            check(re.match(r"^/up/[0-9a-f]{16}-[0-9a-f]{4}\.txt$", loc) is not None,
                  "POST %s: Location %r" % (target, loc))
            check(("created %s\n" % loc).encode() == r.body, "the body names it: %r" % r.body)
        r = post(st.srv, "/up//a%20b/", b"q")
        loc = r.get("Location") or ""
        check(re.match(r"^/up/a%20b/[0-9a-f]{16}-[0-9a-f]{4}\.txt$", loc) is not None,
              "POST into a folder with a space: %r" % loc)
        eq(get(st.srv, loc).body, b"q", "the POST's Location serves the document")
    _with(t, extra=["--writable", "/up"])


def test_no_write_through_a_symlink_into_a_dotfile_directory(ctx):
    def t(st):
        os.makedirs(st.path("up/.git"))
        with open(st.path("up/.git/config"), "wb") as f:
            f.write(b"[core]\n")
        with open(st.path("up/.env"), "wb") as f:
            f.write(b"SECRET=1\n")
        os.symlink(".git", st.path("up/cfg"))
        os.symlink(".env", st.path("up/envlink"))
        for path in ("/up/cfg/config", "/up/cfg/new/x.txt", "/up/cfg/hooks/post-commit"):
            r = put(st.srv, path, b"evil\n")
            harness.check_error(r, 403)
            eq(r.body, b"dotfiles cannot be written\n", "PUT %s: as for /up/.git/config" % path)
        eq(post(st.srv, "/up/cfg/", b"evil").status, 403, "POST into it")
        eq(get(st.srv, "/up/cfg/config", "DELETE").status, 403, "DELETE in it")
        eq(open(st.path("up/.git/config"), "rb").read(), b"[core]\n", ".git/config untouched")
        eq(sorted(os.listdir(st.path("up/.git"))), ["config"], "nothing made in .git")
        # A document named by a link is the link: a PUT replaces the link, and
        # never writes where it leads.
        eq(put(st.srv, "/up/envlink", b"replaced\n").status, 204, "PUT over the link")
        check(not os.path.islink(st.path("up/envlink")), "the link was replaced")
        eq(open(st.path("up/.env"), "rb").read(), b"SECRET=1\n", ".env untouched")
        eq(get(st.srv, "/up/envlink").body, b"replaced\n", "the document")
    _with(t, extra=["--writable", "/up"])


def test_delete(ctx):
    def t(st):
        put(st.srv, "/docs/d/x.txt", b"x")
        r = get(st.srv, "/docs/d/x.txt", "DELETE")
        eq(r.status, 204, "DELETE")
        eq(get(st.srv, "/docs/d/x.txt").status, 404, "gone")
        eq(get(st.srv, "/docs/d/x.txt", "DELETE").status, 404, "DELETE of something absent")
        put(st.srv, "/docs/d/y.txt", b"y")
        eq(get(st.srv, "/docs/d", "DELETE").status, 409, "a directory that is not empty")
        get(st.srv, "/docs/d/y.txt", "DELETE")
        eq(get(st.srv, "/docs/d/", "DELETE").status, 204, "an empty directory")
        check(not os.path.exists(st.path("docs/d")), "directory removed")
    _with(t)


def test_405_outside_the_writable_areas(ctx):
    def t(st):
        for m in ("PUT", "POST", "DELETE"):
            r = get(st.srv, "/readonly.txt", m)
            eq(r.status, 405, m + " outside")
            eq(r.get("Allow"), "GET, HEAD, OPTIONS", "Allow outside")
        r = get(st.srv, "/docs/x", "PATCH")
        eq(r.status, 405, "PATCH inside")
        eq(r.get("Allow"), "GET, HEAD, OPTIONS, PUT, POST, DELETE", "Allow inside")
        eq(open(st.path("readonly.txt"), "rb").read(), b"read only\n", "untouched")
        eq(put(st.srv, "/docs/.hidden", b"x").status, 403, "dotfiles cannot be written")
        eq(put(st.srv, "/docsx/a.txt", b"x").status, 405, "a prefix is a path segment, not a string")
    _with(t)


def test_412_preconditions(ctx):
    def t(st):
        put(st.srv, "/docs/p.txt", b"v1")
        etag = get(st.srv, "/docs/p.txt").get("ETag")
        eq(put(st.srv, "/docs/p.txt", b"v2", [("If-Match", '"nope"')]).status, 412, "If-Match mismatch")
        eq(put(st.srv, "/docs/p.txt", b"v2", [("If-None-Match", "*")]).status, 412, "create-only on existing")
        eq(get(st.srv, "/docs/p.txt").body, b"v1", "unchanged after 412s")
        eq(put(st.srv, "/docs/p.txt", b"v2", [("If-Match", etag)]).status, 204, "If-Match with the ETag")
        eq(put(st.srv, "/docs/p.txt", b"v3", [("If-Match", etag)]).status, 412, "the old ETag no longer")
        eq(put(st.srv, "/docs/q.txt", b"q", [("If-None-Match", "*")]).status, 201, "create-only, new")
        eq(put(st.srv, "/docs/r.txt", b"r", [("If-Match", "*")]).status, 412, "If-Match: * on nothing")
        r = get(st.srv, "/docs/p.txt", "DELETE", headers=[("If-Match", '"nope"')])
        eq(r.status, 412, "DELETE with a stale If-Match")
        eq(get(st.srv, "/docs/p.txt").body, b"v2", "still there")
    _with(t)


def test_413_declared_and_chunked(ctx):
    def t(st):
        r = put(st.srv, "/small/ok.txt", b"x" * 1024)
        eq(r.status, 201, "at the area's limit")
        r, c = harness.exchange(st.srv, req("/small/big.txt", "PUT", [("Content-Length", "1025")]))
        eq(r.status, 413, "declared too large, answered before the body")
        c.close()
        check(not os.path.exists(st.path("small/big.txt")), "nothing written")
        c = connect(st.srv)
        c.send(req("/small/ok.txt", "PUT", [("Transfer-Encoding", "chunked")]))
        try:
            for _ in range(3):
                c.send(b"200\r\n" + b"y" * 512 + b"\r\n")
                time.sleep(0.05)
        except OSError:
            pass
        r = c.read_response()
        eq(r.status, 413, "chunked body that runs over")
        c.close()
        time.sleep(0.2)
        eq(get(st.srv, "/small/ok.txt").body, b"x" * 1024, "the old version intact")
        eq([n for n in os.listdir(st.path("small")) if n.startswith(".htd-tmp")], [], "no temporary file left")
    _with(t)


def test_100_continue_only_when_acceptable(ctx):
    def t(st):
        c = connect(st.srv)
        c.send(req("/docs/e.txt", "PUT", [("Content-Length", "5"), ("Expect", "100-continue")]))
        eq(c.read_response().status, 100, "acceptable upload: 100 first")
        c.send(b"hello")
        eq(c.read_response().status, 201, "then 201")
        c.close()
        for hdrs, want in (([("Content-Length", "5000")], 413),
                           ([("Content-Length", "5"), ("If-None-Match", "*")], 412)):
            path = "/small/e.txt" if want == 413 else "/docs/e.txt"
            c = connect(st.srv)
            c.send(req(path, "PUT", hdrs + [("Expect", "100-continue")]))
            r = c.read_response()
            eq(r.status, want, "refused without a 100")
            check(c.at_eof(), "and the connection ends, as the body will not come")
            c.close()
    _with(t)


def test_10_mib_round_trips(ctx):
    def t(st):
        data = os.urandom(10 << 20)
        eq(put(st.srv, "/docs/big.bin", data).status, 201, "10 MiB with Content-Length")
        g = get(st.srv, "/docs/big.bin")
        eq(hashlib.sha256(g.body).hexdigest(), hashlib.sha256(data).hexdigest(), "bytes back")
        c = connect(st.srv)
        c.send(req("/docs/big2.bin", "PUT", [("Transfer-Encoding", "chunked")]))
        for i in range(0, len(data), 100000):
            piece = data[i:i + 100000]
            c.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
        c.send(b"0\r\n\r\n")
        eq(c.read_response().status, 201, "10 MiB chunked")
        c.close()
        g = get(st.srv, "/docs/big2.bin")
        eq(hashlib.sha256(g.body).hexdigest(), hashlib.sha256(data).hexdigest(), "chunked bytes back")
    _with(t, extra=["--max-upload", "64M"])


def test_50_concurrent_puts_leave_one_whole_version(ctx):
    def t(st):
        versions = [bytes([i]) * (100000 + i) for i in range(50)]
        results = []

        def one(v):
            results.append(put(st.srv, "/docs/race.bin", v).status)
        ts = [threading.Thread(target=one, args=(v,)) for v in versions]
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        check(all(s in (201, 204) for s in results), "statuses %r" % sorted(set(results)))
        eq(results.count(201) >= 1, True, "one of them created it")
        body = get(st.srv, "/docs/race.bin").body
        check(body in versions, "one complete version, not a mix (%d bytes)" % len(body))
        eq([n for n in os.listdir(st.path("docs")) if n.startswith(".htd-tmp")], [], "no temporary files")
    _with(t)


def test_sigkill_mid_upload_keeps_the_old_version(ctx):
    st = Store(["--max-upload", "64M"])
    root = st.root
    try:
        put(st.srv, "/docs/k.bin", b"old version\n")
        c = connect(st.srv)
        c.send(req("/docs/k.bin", "PUT", [("Content-Length", str(50 << 20))]))
        chunk = os.urandom(1 << 20)
        for _ in range(20):
            c.send(chunk)
        time.sleep(0.2)
        st.srv.proc.send_signal(signal.SIGKILL)
        st.srv.proc.wait(timeout=10)
        c.close()
        eq(open(os.path.join(root, "docs/k.bin"), "rb").read(), b"old version\n", "old version intact")
        tmps = [n for n in os.listdir(os.path.join(root, "docs")) if n.startswith(".htd-tmp")]
        check(tmps, "a killed htd leaves its temporary file (%r)" % tmps)
        srv2 = harness.start_htd(root, threads=1, extra=["--writable", "/docs"])
        try:
            eq(get(srv2, "/docs/" + tmps[0]).status, 403, "a temporary file is never served")
            eq([n for n in os.listdir(os.path.join(root, "docs")) if n.startswith(".htd-tmp")], [],
               "cleaned at start")
            eq(get(srv2, "/docs/k.bin").body, b"old version\n", "served")
        finally:
            srv2.stop()
            srv2.cleanup()
    finally:
        st.srv.cleanup()
        subprocess.run(["rm", "-rf", root])


def test_507_on_a_full_disk(ctx):
    root = tempfile.mkdtemp(prefix="htd-store-")
    full = os.path.join(root, "full")
    os.makedirs(full)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", full]).returncode != 0:
        harness.fail("cannot mount a small tmpfs for the full-disk test (needs root)")
    try:
        st = Store(["--writable", "/full"], root=root)
        try:
            eq(put(st.srv, "/full/a.bin", b"a" * 1000).status, 201, "fits")
            r = put(st.srv, "/full/b.bin", os.urandom(512 * 1024))
            eq(r.status, 507, "the disk is full")
            eq([n for n in os.listdir(full) if n.startswith(".htd-tmp")], [], "partial file removed")
            eq(get(st.srv, "/full/a.bin").body, b"a" * 1000, "other documents intact")
        finally:
            rc = st.srv.stop()
            st.srv.cleanup()
            eq(rc, 0, "exit status")
    finally:
        subprocess.run(["umount", full])
        subprocess.run(["rm", "-rf", root])


def test_slow_upload_does_not_stall_gets(ctx):
    def t(st):
        put(st.srv, "/docs/g.txt", b"get me\n")
        c = connect(st.srv, nodelay=True)
        c.send(req("/docs/slow.bin", "PUT", [("Content-Length", "100000")]))
        worst = 0.0
        for i in range(20):
            c.send(b"z" * 100)
            t0 = time.time()
            eq(get(st.srv, "/docs/g.txt").body, b"get me\n", "GET during the upload")
            worst = max(worst, time.time() - t0)
            time.sleep(0.02)
        check(worst < 0.5, "slowest GET during the upload took %.3f s" % worst)
        c.close()
    _with(t)


def test_client_leaving_mid_upload_leaves_the_old_version(ctx):
    def t(st):
        put(st.srv, "/docs/left.txt", b"old\n")
        for chunked in (False, True):
            c = connect(st.srv)
            if chunked:
                c.send(req("/docs/left.txt", "PUT", [("Transfer-Encoding", "chunked")]))
                c.send(b"10000\r\n" + b"n" * 0x10000 + b"\r\n" + b"10000\r\n" + b"n" * 1000)
            else:
                c.send(req("/docs/left.txt", "PUT", [("Content-Length", "1000000")]) + b"n" * 300000)
            time.sleep(0.2)
            c.close()
            deadline = time.time() + 5
            while time.time() < deadline and any(n.startswith(".htd-tmp") for n in os.listdir(st.path("docs"))):
                time.sleep(0.05)
            eq([n for n in os.listdir(st.path("docs")) if n.startswith(".htd-tmp")], [],
               "the temporary file is removed")
            eq(get(st.srv, "/docs/left.txt").body, b"old\n", "the old version")
    _with(t)


def test_options_in_a_writable_area(ctx):
    def t(st):
        r = get(st.srv, "/docs/", "OPTIONS")
        eq(r.status, 204, "status")
        eq(r.get("Allow"), "GET, HEAD, OPTIONS, PUT, POST, DELETE", "Allow")
    _with(t)


def test_upload_that_stops_after_a_full_buffer_times_out(ctx):
    def t(st):
        c = connect(st.srv)
        c.send(req("/docs/stall.bin", "PUT", [("Content-Length", "200000")]) + b"s" * 65536)
        t0 = time.time()
        r = c.read_response()
        eq(r.status, 408, "the body stopped coming")
        check(time.time() - t0 < 5, "within a few seconds of a 1 s body timeout")
        c.close()
        deadline = time.time() + 5
        while time.time() < deadline and any(n.startswith(".htd-tmp") for n in os.listdir(st.path("docs"))):
            time.sleep(0.05)
        eq([n for n in os.listdir(st.path("docs")) if n.startswith(".htd-tmp")], [], "temporary file removed")
    _with(t, extra=["--body-timeout", "1"])


def test_store_edges(ctx):
    def t(st):
        eq(put(st.srv, "/docs/" + "a" * 300, b"x").status, 414, "a name over 255 bytes")
        os.makedirs(st.path("ro"))
        with open(st.path("ro/keep.txt"), "wb") as f:
            f.write(b"keep\n")
        os.symlink("../ro", st.path("docs/link"))
        eq(put(st.srv, "/docs/link/keep.txt", b"pwned").status, 403, "a symlink out of the area")
        eq(open(st.path("ro/keep.txt"), "rb").read(), b"keep\n", "the read-only file is untouched")
        put(st.srv, "/docs/i.txt", b"i")
        etag = get(st.srv, "/docs/i.txt").get("ETag")
        eq(put(st.srv, "/docs/i.txt", b"j", [("If-None-Match", etag)]).status, 412, "If-None-Match with the ETag")
        eq(put(st.srv, "/docs/n1/n2/f.txt", b"f", [("If-Match", '"x"')]).status, 412, "If-Match on nothing")
        check(not os.path.exists(st.path("docs/n1")), "no directories made for a failed precondition")
        eq(get(st.srv, "/docs", "DELETE").status, 409, "the area itself cannot be deleted")
        eq(put(st.srv, "/docs", b"x").status, 409, "nor replaced")
        check(os.path.isdir(st.path("docs")), "the area stays")
        c = connect(st.srv)
        body = b"ten bytes!"
        c.send(req("/docs/k10.txt", "PUT", [("Content-Length", "10"), ("Connection", "keep-alive")],
                   version="HTTP/1.0") + body)
        r = c.read_response()
        eq(r.status, 201, "PUT over HTTP/1.0")
        eq(r.get("Connection"), "keep-alive", "a 1.0 client is told the connection is kept")
        c.send(req("/docs/k10.txt", version="HTTP/1.0"))
        eq(c.read_response().body, body, "the next request on it")
        c.close()
    _with(t)


def test_a_directory_name_over_255_bytes_is_414_not_500(ctx):
    """Found by the live fuzzer (tests/live/fuzz.py): a directory segment
    the kernel refuses (ENAMETOOLONG) was a 500; static files answer 414."""
    def t(st):
        long = "n" * 300
        body = b"x"
        for method, path in (("PUT", "/docs/%s/x.txt" % long), ("POST", "/docs/%s/" % long),
                             ("POST", "/docs/%s" % long), ("DELETE", "/docs/%s/x.txt" % long)):
            hdrs = [("Content-Length", "1")] if method != "DELETE" else []
            r, c = harness.exchange(st.srv, req(path, method, hdrs) + (body if hdrs else b""))
            harness.check_error(r, 414)
            c.send(req("/readonly.txt"))
            eq(c.read_response().status, 200, "the connection goes on after %s" % method)
            c.close()
        eq(get(st.srv, "/docs/%s/x.txt" % long).status, 414, "as GET answers it")
        eq(os.listdir(st.path("docs")), [], "nothing made, no temporary file left")
    _with(t)


def test_a_chunked_body_sent_at_once_in_small_chunks_is_stored_without_waiting(ctx):
    """Found by the soak run (tests/live/soak.py): the store took at most
    its buffer's room of the read buffer, and chunks' framing yields less
    than it takes, so the last bytes of a body already received waited for
    more from the socket, which never came: a 408 at the body timeout."""
    def t(st):
        for n in (60000, 65000, 65536, 130000):
            body = os.urandom(n)
            c = connect(st.srv)
            t0 = time.monotonic()
            c.send(req("/docs/c%d.bin" % n, "PUT", [("Transfer-Encoding", "chunked")]) +
                   harness.chunk_encode(body, [1]))
            r = c.read_response("PUT")
            c.close()
            eq(r.status, 201, "PUT of %d bytes in 1-byte chunks" % n)
            check(time.monotonic() - t0 < 1.5, "answered after %.1f s" % (time.monotonic() - t0))
            check(get(st.srv, "/docs/c%d.bin" % n).body == body, "the %d bytes stored" % n)
    _with(t, ("--body-timeout", "2"))


def test_an_upload_slower_than_the_minimum_rate_is_cut_with_408(ctx):
    """--min-body-rate 2000 bytes/s judged over 1 s windows: an upload that
    trickles 100 bytes every 0.2 s (500 B/s) is cut with 408 once a window
    has passed, its temporary file removed, while one that keeps up passes;
    a body nobody wanted (discarded after a 405) that trickles is cut too."""
    def t(st):
        c = connect(st.srv)
        c.send(req("/docs/slow.bin", "PUT", [("Content-Length", "1000000")]))
        t0 = time.monotonic()
        status = None
        try:
            while time.monotonic() - t0 < 5:
                c.send(b"x" * 100)
                time.sleep(0.2)
        except OSError:
            pass
        r = c.read_response()
        status = r.status
        took = time.monotonic() - t0
        eq(status, 408, "status of a trickling upload")
        check(1.0 <= took < 3.5, "cut after %.2f s, expected a little over the 1 s window" % took)
        check(c.at_eof(), "connection still open after the 408")
        c.close()
        left = [n for n in os.listdir(st.path("docs")) if n.startswith(".htd-tmp")]
        eq(left, [], "temporary files left behind")
        check(not os.path.exists(st.path("docs/slow.bin")), "a cut upload was stored")
        # One that keeps up: 100 KB in 20 pieces over about 1.5 s (far above 2000 B/s).
        body = bytes(range(256)) * 400
        c = connect(st.srv)
        c.send(req("/docs/fast.bin", "PUT", [("Content-Length", str(len(body)))]))
        for i in range(0, len(body), 5120):
            c.send(body[i:i + 5120])
            time.sleep(0.075)
        eq(c.read_response().status, 201, "status of an upload that keeps up")
        c.close()
        with open(st.path("docs/fast.bin"), "rb") as f:
            eq(f.read(), body, "stored bytes")
        # A body read only to be dropped is held to the same rate.
        c = connect(st.srv)
        c.send(req("/readonly.txt", "POST", [("Content-Length", "100000")]))
        eq(c.read_response().status, 405, "status of a POST outside the writable areas")
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < 5 and not c.at_eof(0.2):
                c.send(b"y" * 100)
        except OSError:
            pass
        check(time.monotonic() - t0 < 3.5, "a trickling body being discarded was not cut")
        c.close()
    _with(t, ["--min-body-rate", "2000", "--min-body-window", "1"])

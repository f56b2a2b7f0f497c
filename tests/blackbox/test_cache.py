# SPDX-License-Identifier: BSD-2-Clause
"""The open-file cache stays correct when files change: every response after a
change (write, replace by rename, delete, create, chmod, symlink retarget,
to a dotfile too) shows the new state, on every worker thread, even right after the old state
was served many times from the cache."""

import os
import time

import harness
from harness import check, eq, get


def _warm(srv, path, n=12):
    """Requests path on n fresh connections, so every worker caches it."""
    rs = [get(srv, path) for _ in range(n)]
    return rs[-1]


def _all(srv, path, n=12):
    return [get(srv, path) for _ in range(n)]


def _server():
    root = harness.Docroot(big=False)
    return root, harness.start_htd(root.path, threads=2)


def _run(fn):
    root, srv = _server()
    try:
        fn(root, srv)
    finally:
        srv.stop()
        srv.cleanup()
        root.cleanup()


def test_cache_sees_rewrite_in_place(ctx):
    def body(root, srv):
        root.write("page.txt", b"version one\n")
        first = _warm(srv, "/page.txt")
        eq(first.body, b"version one\n", "first body")
        with open(os.path.join(root.path, "page.txt"), "r+b") as f:
            f.write(b"VERSION")  # same size: only the bytes change
        for r in _all(srv, "/page.txt"):
            eq(r.body, b"VERSION one\n", "body after rewrite")
            check(r.get("ETag") != first.get("ETag"), "ETag must change with the bytes")
    _run(body)


def test_cache_sees_replace_by_rename(ctx):
    def body(root, srv):
        root.write("doc.txt", b"old document\n")
        old = _warm(srv, "/doc.txt")
        eq(old.body, b"old document\n", "old body")
        tmp = os.path.join(root.path, "doc.txt.tmp")
        with open(tmp, "wb") as f:
            f.write(b"the new document, longer\n")
        os.rename(tmp, os.path.join(root.path, "doc.txt"))
        for r in _all(srv, "/doc.txt"):
            eq(r.status, 200, "status")
            eq(r.body, b"the new document, longer\n", "body after rename")
            check(r.get("ETag") != old.get("ETag"), "ETag changed")
    _run(body)


def test_cache_sees_delete_and_create(ctx):
    def body(root, srv):
        for r in _all(srv, "/later.txt"):
            eq(r.status, 404, "missing before")
        root.write("later.txt", b"now it exists\n")
        for r in _all(srv, "/later.txt"):
            eq(r.status, 200, "created")
            eq(r.body, b"now it exists\n", "body")
        os.unlink(os.path.join(root.path, "later.txt"))
        for r in _all(srv, "/later.txt"):
            eq(r.status, 404, "deleted")
    _run(body)


def test_cache_sees_new_file_in_new_directory(ctx):
    def body(root, srv):
        for r in _all(srv, "/newdir/a/b.txt"):
            eq(r.status, 404, "missing before")
        root.write("newdir/a/b.txt", b"deep\n")
        for r in _all(srv, "/newdir/a/b.txt"):
            eq(r.status, 200, "created in new directories")
    _run(body)


def test_cache_sees_symlink_retarget(ctx):
    def body(root, srv):
        root.write("one.txt", b"one\n")
        root.write("two.txt", b"two\n")
        link = os.path.join(root.path, "cur.txt")
        os.symlink("one.txt", link)
        eq(_warm(srv, "/cur.txt").body, b"one\n", "before")
        os.unlink(link)
        os.symlink("two.txt", link)
        for r in _all(srv, "/cur.txt"):
            eq(r.body, b"two\n", "after retarget")
        os.unlink(link)
        os.symlink(os.path.join(root.outside_dir, "outside.txt"), link)
        for r in _all(srv, "/cur.txt"):
            eq(r.status, 403, "retargeted outside the root")
    _run(body)


def test_cache_sees_directory_swap(ctx):
    def body(root, srv):
        root.write("v1/site.txt", b"v1\n")
        root.write("v2/site.txt", b"v2\n")
        os.symlink("v1", os.path.join(root.path, "live"))
        eq(_warm(srv, "/live/site.txt").body, b"v1\n", "before")
        tmp = os.path.join(root.path, "live.new")
        os.symlink("v2", tmp)
        os.rename(tmp, os.path.join(root.path, "live"))
        for r in _all(srv, "/live/site.txt"):
            eq(r.body, b"v2\n", "after swapping the directory link")
    _run(body)


def test_cache_sees_a_link_retargeted_to_a_dotfile(ctx):
    def body(root, srv):
        root.write("one.txt", b"one\n")
        root.write(".env", b"SECRET\n")
        root.write("v1/site.txt", b"v1\n")
        root.write(".v2/site.txt", b"SECRET\n")
        link = os.path.join(root.path, "cur.txt")
        os.symlink("one.txt", link)
        os.symlink("v1", os.path.join(root.path, "live"))
        eq(_warm(srv, "/cur.txt").body, b"one\n", "the file before")
        eq(_warm(srv, "/live/site.txt").body, b"v1\n", "the directory before")
        os.unlink(link)
        os.symlink(".env", link)
        tmp = os.path.join(root.path, "live.new")
        os.symlink(".v2", tmp)
        os.rename(tmp, os.path.join(root.path, "live"))
        for path in ("/cur.txt", "/live/site.txt"):
            for r in _all(srv, path):
                eq((r.status, r.body), (403, b"dotfiles are not served\n"), "after retarget: " + path)
    _run(body)


def test_cache_sees_new_index_html(ctx):
    def body(root, srv):
        root.write("site/readme.txt", b"x\n")
        for r in _all(srv, "/site/"):
            eq(r.status, 403, "no index yet")
        root.write("site/index.html", b"<p>index</p>\n")
        for r in _all(srv, "/site/"):
            eq(r.status, 200, "index appeared")
            eq(r.body, b"<p>index</p>\n", "index body")
    _run(body)


def test_cache_keep_alive_sees_change(ctx):
    """The same keep-alive connection, cached response, then a change."""
    def body(root, srv):
        root.write("ka.txt", b"first\n")
        c = harness.connect(srv)
        try:
            for _ in range(5):
                c.send(harness.req("/ka.txt"))
                eq(c.read_response().body, b"first\n", "before")
            root.write("ka.txt", b"second version\n")
            c.send(harness.req("/ka.txt"))
            eq(c.read_response().body, b"second version\n", "after")
        finally:
            c.close()
    _run(body)

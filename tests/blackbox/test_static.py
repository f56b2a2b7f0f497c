# SPDX-License-Identifier: BSD-2-Clause
"""Static files: Content-Type by extension, index files, the 301 to the
slash form, dotfiles, symlinks, unreadable files, 404s, traversal attempts in
several encodings, methods (405/OPTIONS), and an 8 MiB file byte-exact."""

import hashlib
import os
import shutil
import sys
import tempfile
import time

import harness
from harness import (ALLOW, APP_JS, DATA_UNKNOWN, FILE_TXT, INDEX_HTML, OUTSIDE, PNG,
                     STYLE_CSS, SUB_INDEX, WELL_KNOWN, Skip, check, check_common,
                     check_error, check_ok_file, connect, eq, exchange, get, req)


def test_content_type_html(ctx):
    check_ok_file(get(ctx.srv, "/index.html"), INDEX_HTML, "text/html; charset=utf-8")


def test_content_type_css(ctx):
    check_ok_file(get(ctx.srv, "/style.css"), STYLE_CSS, "text/css; charset=utf-8")


def test_content_type_png(ctx):
    check_ok_file(get(ctx.srv, "/pixel.png"), PNG, "image/png")


def test_content_type_js(ctx):
    check_ok_file(get(ctx.srv, "/app.js"), APP_JS, "text/javascript; charset=utf-8")


def test_content_type_unknown_extension(ctx):
    check_ok_file(get(ctx.srv, "/data.zzqx"), DATA_UNKNOWN, "application/octet-stream")


def test_root_index_html(ctx):
    check_ok_file(get(ctx.srv, "/"), INDEX_HTML, "text/html; charset=utf-8")


def test_directory_with_slash_serves_index(ctx):
    check_ok_file(get(ctx.srv, "/sub/"), SUB_INDEX, "text/html; charset=utf-8")


def test_301_directory_without_slash(ctx):
    r = get(ctx.srv, "/sub")
    eq(r.status, 301, "status")
    check_common(r)
    eq(r.get("Location"), "/sub/", "Location")


def test_301_keeps_query(ctx):
    r = get(ctx.srv, "/sub?x=1")
    eq(r.status, 301, "status")
    eq(r.get("Location"), "/sub/?x=1", "Location")


def test_query_string_ignored_for_files(ctx):
    check_ok_file(get(ctx.srv, "/file.txt?a=b&c"), FILE_TXT)


def test_percent_encoded_path_decoded(ctx):
    check_ok_file(get(ctx.srv, "/%66ile.txt"), FILE_TXT)


def test_percent_encoded_space(ctx):
    check_ok_file(get(ctx.srv, "/with%20space.txt"), b"a name with a space\n")


def test_errors_do_not_reveal_the_root_path(ctx):
    for path in ("/missing.txt", "/.secret", "/link_out.txt", "/noindex/", "/../etc/passwd"):
        r = get(ctx.srv, path)
        check(r.status >= 400, "%s answered %d" % (path, r.status))
        check(ctx.root.path.encode() not in r.body and
              ctx.root.outside_dir.encode() not in r.body,
              "%s: error body reveals a filesystem path: %r" % (path, r.body))


def test_dot_segments_inside_root_normalised(ctx):
    check_ok_file(get(ctx.srv, "/sub/../file.txt"), FILE_TXT)


def test_403_dotfile_in_root(ctx):
    r = get(ctx.srv, "/.secret")
    check_error(r, 403)
    check(b"dotfile contents" not in r.body, "dotfile contents leaked")


def test_403_dotfile_in_subdir(ctx):
    check_error(get(ctx.srv, "/sub/.hidden"), 403)


def test_well_known_is_served(ctx):
    check_ok_file(get(ctx.srv, "/.well-known/x.txt"), WELL_KNOWN)


def test_403_symlink_out_of_root(ctx):
    r = get(ctx.srv, "/link_out.txt")
    check_error(r, 403)
    check(OUTSIDE not in r.body, "outside file leaked")


def test_symlink_inside_root_served(ctx):
    check_ok_file(get(ctx.srv, "/link_in.txt"), FILE_TXT)


def test_403_directory_without_index(ctx):
    check_error(get(ctx.srv, "/noindex/"), 403)


def test_404_missing_file(ctx):
    check_error(get(ctx.srv, "/missing.txt"), 404)


def test_404_path_under_a_file(ctx):
    check_error(get(ctx.srv, "/file.txt/x"), 404)


def _no_leak(r):
    check(b"root:" not in r.body, "response leaks /etc/passwd: %r" % r.body[:200])
    check(OUTSIDE not in r.body, "response leaks a file outside the root")


def test_400_traversal_plain_dotdot(ctx):
    r, c = exchange(ctx.srv, b"GET /../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n")
    c.close()
    _no_leak(r)
    check_error(r, 400)


def test_400_traversal_percent_encoded_dots(ctx):
    r, c = exchange(ctx.srv, b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n")
    c.close()
    _no_leak(r)
    check_error(r, 400)


def test_400_traversal_encoded_slashes(ctx):
    r, c = exchange(ctx.srv, b"GET /a/..%2f..%2f..%2fetc/passwd HTTP/1.1\r\nHost: x\r\n\r\n")
    c.close()
    _no_leak(r)
    check_error(r, 400)


def test_traversal_deep_dotdot_never_leaks(ctx):
    for target in (b"/sub/../../etc/passwd", b"/%2E%2E/etc/passwd", b"/..%5c..%5cetc/passwd",
                   b"/./../etc/passwd", b"/sub/%2e%2e/%2e%2e/etc/passwd",
                   b"/../" + os.path.basename(ctx.root.outside_dir).encode() + b"/outside.txt"):
        r, c = exchange(ctx.srv, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        c.close()
        _no_leak(r)
        check(r.status >= 400, "%r answered %d" % (target, r.status))


def _check_405(ctx, method):
    c = connect(ctx.srv)
    c.send(req("/file.txt", method, [("Content-Length", "0")]))
    r = c.read_response(method)
    c.close()
    check_error(r, 405)
    eq(r.get("Allow"), ALLOW, "Allow")


def test_405_post(ctx):
    _check_405(ctx, "POST")


def test_405_put(ctx):
    _check_405(ctx, "PUT")


def test_405_delete(ctx):
    _check_405(ctx, "DELETE")


def test_405_patch(ctx):
    _check_405(ctx, "PATCH")


def test_options_file_204_allow(ctx):
    r = get(ctx.srv, "/file.txt", "OPTIONS")
    eq(r.status, 204, "status")
    check_common(r)
    eq(r.get("Allow"), ALLOW, "Allow")


def test_options_asterisk_204(ctx):
    r = get(ctx.srv, "*", "OPTIONS")
    eq(r.status, 204, "status")
    check_common(r)


def test_403_unreadable_file_as_nobody(ctx):
    """Root reads anything, so run a second htd as nobody (setpriv)."""
    if not shutil.which("setpriv"):
        raise Skip("setpriv not found")
    if os.geteuid() != 0:
        raise Skip("needs root to switch to nobody")
    base = tempfile.mkdtemp(prefix="htd-priv-", dir="/tmp")
    srv = None
    try:
        os.chmod(base, 0o755)
        binary = os.path.join(base, "htd")
        shutil.copy2(harness.HTD, binary)
        os.chmod(binary, 0o755)
        root = os.path.join(base, "root")
        os.mkdir(root)
        os.chmod(root, 0o755)
        for name, mode in (("ok.txt", 0o644), ("noread.txt", 0o000)):
            p = os.path.join(root, name)
            with open(p, "wb") as f:
                f.write(b"contents of " + name.encode() + b"\n")
            os.chmod(p, mode)
        srv = harness.Server(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                              binary, "--root", root, "--listen", "127.0.0.1:0",
                              "--threads", "2"])
        check_ok_file(get(srv, "/ok.txt"), b"contents of ok.txt\n")
        r = get(srv, "/noread.txt")
        check_error(r, 403)
        srv.check_health()
        rc = srv.stop()
        eq(rc, 0, "exit status of the nobody htd after SIGTERM")
        rep = srv.sanitizer_report()
        check(rep is None, "sanitizer report: %s" % rep)
    finally:
        if srv:
            srv.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def test_large_file_8mib_byte_exact(ctx):
    big = ctx.root.big
    r = get(ctx.srv, "/big.bin")
    eq(r.status, 200, "status")
    eq(r.get("Content-Length"), str(len(big)), "Content-Length")
    eq(hashlib.sha256(r.body).hexdigest(), ctx.root.big_sha, "sha256 of the body")


def test_large_file_head_content_length(ctx):
    r = get(ctx.srv, "/big.bin", "HEAD")
    eq(r.status, 200, "status")
    eq(r.get("Content-Length"), str(len(ctx.root.big)), "Content-Length")


def test_large_file_slow_reader(ctx):
    """A small receive buffer and a slow start force partial writes."""
    c = connect(ctx.srv, rcvbuf=4096)
    c.send(req("/big.bin"))
    # Read the head and the first 512 KiB in small pieces, slowly.
    t_end = time.monotonic() + 1.5
    data = b""
    while time.monotonic() < t_end:
        d = c.sock.recv(4096)
        if not d:
            break
        data += d
        time.sleep(0.002)
    c.buf = data
    r = c.read_response()
    c.close()
    eq(r.status, 200, "status")
    eq(len(r.body), len(ctx.root.big), "body length")
    eq(hashlib.sha256(r.body).hexdigest(), ctx.root.big_sha, "sha256 of the body")


def test_large_file_head_and_keepalive_after(ctx):
    c = connect(ctx.srv)
    c.send(req("/big.bin") + req("/file.txt"))
    r1 = c.read_response()
    r2 = c.read_response()
    c.close()
    eq(hashlib.sha256(r1.body).hexdigest(), ctx.root.big_sha, "sha256 of the first body")
    check_ok_file(r2, FILE_TXT)


def test_fifo_is_refused_without_blocking(ctx):
    path = os.path.join(ctx.root.path, "pipe.fifo")
    if not os.path.exists(path):
        os.mkfifo(path)
    r = get(ctx.srv, "/pipe.fifo")
    eq(r.status, 403, "a FIFO is not a regular file")
    check_ok_file(get(ctx.srv, "/file.txt"), FILE_TXT)  # and the loop is not stuck
    os.unlink(path)


ENV_SECRET = b"SECRET=dotfile behind a symlink, never served\n"


def test_symlinks_to_dotfiles_are_refused_as_dotfiles_are(ctx):
    root = ctx.root.path
    made = []

    def mk(rel, data=None, link=None):
        full = os.path.join(root, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if link is not None:
            os.symlink(link, full)
        else:
            with open(full, "wb") as f:
                f.write(data)
        made.append(full)

    mk(".env", ENV_SECRET)
    mk(".git/config", ENV_SECRET)
    mk(".git/index.html", ENV_SECRET)
    mk("envlink", link=".env")
    mk("cfg", link=".git")
    mk("gitconfig", link=".git/config")
    mk("idx/index.html", link="../.env")      # a directory's index
    mk("plain.txt", b"plain\n")
    mk("plain.txt.gz", link=".env")           # a precompressed variant
    mk("wk", link=".well-known")              # exempt, as its URL is
    try:
        url_rule = get(ctx.srv, "/.env")
        check_error(url_rule, 403)
        for path in ("/envlink", "/cfg/config", "/cfg/", "/cfg/index.html", "/gitconfig",
                     "/idx/", "/idx/index.html", "//cfg/./config", "/%63fg/config"):
            for method in ("GET", "HEAD"):
                r = get(ctx.srv, path, method)
                check_error(r, 403, method)
                eq(r.body, url_rule.body if method == "GET" else b"",
                   "%s %s answers as the URL /.env does" % (method, path))
            r = get(ctx.srv, path)  # again: from the cache, if anything was kept
            eq(r.status, 403, "again for " + path)
            check(b"SECRET" not in r.body, "the secret was served for " + path)
        eq(get(ctx.srv, "/cfg").status, 403, "no redirect to the slash form either")
        r = get(ctx.srv, "/plain.txt", headers=[("Accept-Encoding", "gzip")])
        eq((r.status, r.body, r.get("Content-Encoding")), (200, b"plain\n", None),
           "a .gz beside it that leads to a dotfile is no variant")
        check_ok_file(get(ctx.srv, "/wk/x.txt"), WELL_KNOWN)
        check_ok_file(get(ctx.srv, "/link_in.txt"), FILE_TXT)
    finally:
        for full in reversed(made):
            os.unlink(full)
        for d in ("idx", ".git"):
            os.rmdir(os.path.join(root, d))


def test_slash_redirect_for_a_path_starting_with_two_slashes_stays_on_this_host(ctx):
    os.makedirs(os.path.join(ctx.root.path, "evil.example", "dir"), exist_ok=True)
    for target, want in (("//evil.example/dir", "/evil.example/dir/"),
                         ("///evil.example//dir?x=1", "/evil.example/dir/?x=1"),
                         ("/%2Fevil.example/dir", "/evil.example/dir/"),
                         ("/./%2F/evil.example/dir", "/evil.example/dir/"),
                         ("http://localhost//evil.example/dir", "/evil.example/dir/")):
        r = get(ctx.srv, target)
        eq(r.status, 301, "status for " + target)
        eq(r.get("Location"), want, "Location for " + target)
    eq(get(ctx.srv, "//evil.example/dir/").status, 403, "the directory itself, no index")


def test_slash_redirect_cannot_name_another_host(ctx):
    r = get(ctx.srv, "//evil.example/..%2fsub")
    eq(r.status, 301, "status")
    eq(r.get("Location"), "/sub/", "Location comes from the normalised path")
    r = get(ctx.srv, "/sub?a=%2F")
    eq(r.get("Location"), "/sub/?a=%2F", "the query as sent")


REFUSE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "refuse_syscall.py")


def test_files_open_by_htds_own_walk_where_openat2_is_refused(ctx):
    """Where openat2(2) cannot be used (ENOSYS from a kernel before 5.6 or
    valgrind, EPERM or ENOSYS from a seccomp filter), every file is opened
    by htd's own walk, a name at a time: the same answers as openat2 gives,
    symlinks out of the root and to dotfiles still refused, and the store
    still writes. Before, every file was a 500."""
    root = ctx.root.path
    os.makedirs(os.path.join(root, "up"), exist_ok=True)
    os.symlink("../link_out.txt", os.path.join(root, "up", "chain.txt"))
    os.symlink(".env-walk", os.path.join(root, "envwalk"))
    with open(os.path.join(root, ".env-walk"), "wb") as f:
        f.write(b"never served\n")
    try:
        for err in ("ENOSYS", "EPERM"):
            srv = harness.start_htd(root, extra=["--writable", "/up"], threads=1,
                                    prefix=(sys.executable, REFUSE, "openat2", err))
            try:
                check_ok_file(get(srv, "/file.txt"), FILE_TXT)
                check_ok_file(get(srv, "/"), INDEX_HTML, "text/html; charset=utf-8")
                check_ok_file(get(srv, "/sub/"), SUB_INDEX, "text/html; charset=utf-8")
                eq(get(srv, "/sub").status, 301, "status of a directory without its slash")
                check_ok_file(get(srv, "/link_in.txt"), FILE_TXT)
                for path in ("/link_out.txt", "/up/chain.txt", "/envwalk", "/noindex/"):
                    r = get(srv, path)
                    check_error(r, 403)
                    check(OUTSIDE not in r.body and b"never served" not in r.body,
                          "%s (%s): a file outside the root or a dotfile leaked" % (path, err))
                check_error(get(srv, "/missing.txt"), 404)
                check_error(get(srv, "/sub/missing/x"), 404)
                body = b"kept by the walk\n"
                r = get(srv, "/up/new.txt", "PUT", headers=[("Content-Length", str(len(body)))],
                        body=body)
                eq(r.status, 201, "PUT status (%s)" % err)
                check_ok_file(get(srv, "/up/new.txt"), body)
                os.unlink(os.path.join(root, "up", "new.txt"))
                eq(srv.stop(), 0, "exit status")
            finally:
                srv.cleanup()
    finally:
        shutil.rmtree(os.path.join(root, "up"))
        os.unlink(os.path.join(root, "envwalk"))
        os.unlink(os.path.join(root, ".env-walk"))

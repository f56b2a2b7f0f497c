# SPDX-License-Identifier: BSD-2-Clause
"""`make install` and `make uninstall` as a packager and an embedder use them.

The build htd was made in is installed with DESTDIR into a temporary
directory (PREFIX=/usr), once for this module; nothing is rebuilt for it but
the manual pages. Against the installed tree, with pkg-config finding htd.pc
there (PKG_CONFIG_PATH, PKG_CONFIG_SYSROOT_DIR), examples/hello.c and a C++
program are built dynamically and fully static (`pkg-config --static`), and
each serves requests. The installed shared library exports htd_ names only
and has the soname libhtd.so.MAJOR; the version agrees everywhere; the
manual pages are installed and render; `make uninstall` leaves no file.

Under a sanitizer build (make asan) these skip: the installed libraries
would need the sanitizer's runtime, and what is checked does not depend on it."""

import atexit
import os
import re
import shutil
import subprocess
import tempfile

import harness
from harness import REPO, check, eq, get

PREFIX = "/usr"

CXX_PROGRAM = r"""
#include <htd.h>

#include <csignal>
#include <cstdio>
#include <string>

static htd_server *server;

static int hello(htd_req *req, void *)
{
    static const std::string body = std::string("Hello from C++, htd ") + htd_version() + "\n";
    return htd_respond(req, 200, "text/plain", body.data(), body.size()) == 0 ? HTD_DONE
                                                                             : HTD_DECLINED;
}

extern "C" void on_term(int) { htd_server_stop(server); }

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    const char *listen[] = {argv[2]};
    htd_config cfg{};
    cfg.root = argv[1];
    cfg.listen = listen;
    cfg.nlisten = 1;
    cfg.threads = 1;
    char err[256];
    if (!(server = htd_server_new(&cfg, err, sizeof err))) {
        std::fprintf(stderr, "cxx: %s\n", err);
        return 2;
    }
    htd_server_handle(server, "/cxx", hello, nullptr);
    std::signal(SIGTERM, on_term);
    std::printf("htd " HTD_VERSION " serving %s at http://%s/\n", argv[1],
                htd_server_address(server, 0));
    std::fflush(stdout);
    int rc = htd_server_run(server);
    htd_server_free(server);
    return rc == 0 ? 0 : 1;
}
"""

_state = {}


def _make(*args, destdir=None):
    return harness.run_make("PREFIX=" + PREFIX, *(["DESTDIR=" + destdir] if destdir else []),
                            *args)


def _installed():
    """The DESTDIR that `make install` filled, made on first use."""
    if "destdir" not in _state:
        harness.build_dir()
        work = tempfile.mkdtemp(prefix="htd-install-")
        atexit.register(shutil.rmtree, work, True)
        _state["work"] = work
        _state["destdir"] = os.path.join(work, "dest")
        _make("install", destdir=_state["destdir"])
    return _state["destdir"]


def _pkg_config(destdir, *args):
    """pkg-config's answer for htd from the DESTDIR (the libraries htd.pc
    requires from the system)."""
    env = harness.build_env()
    env["PKG_CONFIG_PATH"] = os.path.join(destdir, PREFIX.lstrip("/"), "lib", "pkgconfig")
    env["PKG_CONFIG_SYSROOT_DIR"] = destdir
    out = harness.run_ok(["pkg-config"] + list(args) + ["htd"], "pkg-config", env=env).stdout
    return out.decode().split()


def _build(compiler, src, out, destdir, static):
    flags = _pkg_config(destdir, "--cflags", "--libs", *(["--static"] if static else []))
    libdir = os.path.join(destdir, PREFIX.lstrip("/"), "lib")
    argv = [compiler, "-o", out, src] + flags
    argv += ["-static"] if static else ["-Wl,-rpath," + libdir]
    # Debian's static libxml2 brings ICU, which is C++, and its static
    # libbrotlienc needs libm: their .pc files name neither the C++ runtime
    # nor libm after them, so a static C link adds both.
    if static:
        argv += (["-lstdc++"] if "-licuuc" in flags else []) + ["-lm"]
    kind = "static" if static else "dynamic"
    harness.run_ok(argv, "building %s %s" % (os.path.basename(src), kind))
    needed = harness.run_ok(["readelf", "-d", out], "readelf").stdout.decode()
    if static:
        check("NEEDED" not in needed, "%s is static, yet needs:\n%s" % (out, needed))
    else:
        check("Shared library: [libhtd.so.0]" in needed,
              "%s does not need libhtd.so.0:\n%s" % (out, needed))
    return out


def _serves(binary, root, path, body):
    srv = harness.Server([binary, root, "127.0.0.1:0"])
    try:
        r = get(srv, path)
        eq(r.status, 200, "status of %s from %s" % (path, os.path.basename(binary)))
        eq(r.body, body, "body of %s from %s" % (path, os.path.basename(binary)))
        r = get(srv, "/file.txt")
        eq((r.status, r.body), (200, harness.FILE_TXT), "a static file from %s" % binary)
        eq(srv.stop(), 0, "exit status of %s after SIGTERM" % os.path.basename(binary))
    finally:
        srv.cleanup()


def test_install_hello_c_links_dynamic_and_static(ctx):
    destdir = _installed()
    src = os.path.join(REPO, "examples", "hello.c")
    for static in (False, True):
        out = os.path.join(_state["work"], "hello-" + ("static" if static else "dynamic"))
        _build("cc", src, out, destdir, static)
        _serves(out, ctx.root.path, "/hello", b"Hello from an embedded htd\n")


def test_install_cxx_links_dynamic_and_static(ctx):
    destdir = _installed()
    src = os.path.join(_state["work"], "embed.cpp")
    with open(src, "w") as f:
        f.write(CXX_PROGRAM)
    version = harness.run_ok([os.path.join(destdir, "usr/bin/htd"), "--version"], "htd --version")
    version = version.stdout.decode().splitlines()[0].split()[1]
    for static in (False, True):
        out = os.path.join(_state["work"], "cxx-" + ("static" if static else "dynamic"))
        _build("c++", src, out, destdir, static)
        _serves(out, ctx.root.path, "/cxx", ("Hello from C++, htd %s\n" % version).encode())


def test_install_shared_library_exports_htd_names_with_its_soname(ctx):
    destdir = _installed()
    lib = os.path.join(destdir, "usr/lib")
    with open(os.path.join(REPO, "include/htd.h")) as f:
        h = f.read()
    num = [re.search(r"#define HTD_VERSION_%s (\d+)" % k, h).group(1)
           for k in ("MAJOR", "MINOR", "PATCH")]
    version, major = ".".join(num), num[0]
    real = "libhtd.so." + version
    check(os.path.isfile(os.path.join(lib, real)) and not os.path.islink(os.path.join(lib, real)),
          "%s is not installed as a file" % real)
    for link in ("libhtd.so", "libhtd.so." + major):
        eq(os.path.realpath(os.path.join(lib, link)), os.path.join(os.path.realpath(lib), real),
           "where %s leads" % link)
    dyn = harness.run_ok(["readelf", "-d", os.path.join(lib, real)], "readelf").stdout.decode()
    check("Library soname: [libhtd.so.%s]" % major in dyn, "soname of %s:\n%s" % (real, dyn))
    names = harness.run_ok(["nm", "-D", "--defined-only", os.path.join(lib, real)], "nm")
    names = names.stdout.decode()
    names = [ln.split()[-1] for ln in names.splitlines() if ln.strip()]
    check(len(names) > 20, "only %d symbols exported: %r" % (len(names), names))
    eq([n for n in names if not n.startswith("htd_")], [], "exported names not starting htd_")
    # The symbols check of `make symbols` agrees on the installed libraries.
    harness.run_ok([os.path.join(REPO, "scripts/symbols.sh"), os.path.join(lib, "libhtd.so"),
                    os.path.join(lib, "libhtd.a")], "scripts/symbols.sh on the installed libraries")
    # One version: htd.h's numbers are the .pc's, the program's and the library's.
    eq(_pkg_config(destdir, "--modversion"), [version], "pkg-config --modversion htd")
    out = harness.run_ok([os.path.join(destdir, "usr/bin/htd"), "--version"], "htd --version")
    eq(out.stdout.decode().splitlines()[0].split()[:2], ["htd", version], "htd --version")
    pc = harness.read_file(os.path.join(lib, "pkgconfig/htd.pc"))
    check("prefix=/usr\n" in pc, "htd.pc does not say prefix=/usr:\n" + pc)
    for path, mode in (("usr/bin/htd", 0o755), ("usr/include/htd.h", 0o644),
                       ("usr/lib/libhtd.a", 0o644), ("usr/lib/pkgconfig/htd.pc", 0o644),
                       ("usr/share/doc/htd/examples/htd.conf", 0o644)):
        st = os.stat(os.path.join(destdir, path))
        eq(oct(st.st_mode & 0o777), oct(mode), "mode of " + path)


def test_install_man_pages_are_the_built_ones_and_render(ctx):
    destdir = _installed()
    env = harness.build_env()
    env.update(LC_ALL="C.UTF-8", MANWIDTH="80")
    for page in ("man8/htd.8", "man5/htd.conf.5"):
        path = os.path.join(destdir, "usr/share/man", page)
        with open(path, "rb") as f, open(os.path.join(REPO, harness.build_dir(), "man",
                                                      os.path.basename(page)), "rb") as g:
            check(f.read() == g.read(), "%s is not the page make man built" % page)
        p = harness.run_ok(["man", "--warnings", "-l", path], "man -l " + page, env=env)
        eq(p.stderr.decode("utf-8", "replace"), "", "warnings from man -l " + page)


def test_uninstall_removes_what_install_put(ctx):
    destdir = _installed()
    _make("uninstall", destdir=destdir)
    left = []
    for d, _, files in os.walk(destdir):
        left += [os.path.relpath(os.path.join(d, f), destdir) for f in files]
    eq(sorted(left), [], "files left after make uninstall")
    check(not os.path.exists(os.path.join(destdir, "usr/share/doc/htd")),
          "usr/share/doc/htd is left after make uninstall")
    del _state["destdir"]

# SPDX-License-Identifier: BSD-2-Clause
"""The command line: --help, --version, the serving line, bad flags, a missing
root and an address in use (one line on stderr, exit 2), and the defaults
(serve the current directory)."""

import os
import re
import shutil
import socket
import subprocess
import tempfile

import harness
from harness import SERVING_RE, ConfDir, check, check_ok_file, eq, get, wait_until


def run(args, cwd=None):
    try:
        p = subprocess.run([harness.HTD] + args, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=harness.TIMEOUT, cwd=cwd)
    except subprocess.TimeoutExpired:
        harness.fail("htd %s did not exit within %.0f s" % (" ".join(args), harness.TIMEOUT))
    err = p.stderr.decode("utf-8", "replace")
    for m in harness.SANITIZER_MARKERS:
        if m in err:
            harness.fail("sanitizer report from htd %s (exit %d):\n%s"
                         % (" ".join(args), p.returncode, err[:1500]))
    return p


def one_line(err):
    text = err.decode("utf-8", "replace")
    lines = [l for l in text.splitlines() if l.strip()]
    check(len(lines) == 1, "expected exactly one line on stderr, got %r" % text[:2000])
    return lines[0]


def test_help_exit_0_with_usage(ctx):
    p = run(["--help"])
    eq(p.returncode, 0, "exit status of --help")
    check(b"--root" in p.stdout, "usage on stdout does not mention --root: %r" % p.stdout[:500])


def test_version(ctx):
    p = run(["--version"])
    eq(p.returncode, 0, "exit status of --version")
    lines = p.stdout.decode().splitlines()
    check(re.match(r"^htd 0\.1\.0 \(commit ([0-9a-f]{7,}\+?|unknown)\)$", lines[0]),
          "first line of --version: %r" % lines[:1])
    check(len(lines) == 4 and lines[1].strip().startswith("OpenSSL ") and
          re.match(r"^zlib [\d.]+, SQLite [\d.]+, libconfig [\d.]+$", lines[2].strip()) and
          re.match(r"^libdeflate [\d.]+, brotli [\d.]+, PCRE2 [\d.]+ \S+, libxml2 [\d.]+$", lines[3].strip()),
          "the libraries: %r" % lines)


def test_unknown_flag_exit_2(ctx):
    p = run(["--bogus"])
    eq(p.returncode, 2, "exit status")
    check("--bogus" in one_line(p.stderr), "stderr does not name --bogus: %r" % p.stderr)


def test_missing_root_exit_2(ctx):
    path = "/nonexistent-htd-test/really-not-there"
    p = run(["--root", path, "--listen", "127.0.0.1:0"])
    eq(p.returncode, 2, "exit status")
    check(path in one_line(p.stderr), "stderr does not name the path: %r" % p.stderr)


def test_root_is_a_file_exit_2(ctx):
    path = os.path.join(ctx.root.path, "file.txt")
    p = run(["--root", path, "--listen", "127.0.0.1:0"])
    eq(p.returncode, 2, "exit status")
    check(path in one_line(p.stderr), "stderr does not name the path: %r" % p.stderr)


def test_threads_not_a_number_exit_2(ctx):
    p = run(["--root", ctx.root.path, "--listen", "127.0.0.1:0", "--threads", "abc"])
    eq(p.returncode, 2, "exit status")
    one_line(p.stderr)


def test_flag_missing_value_exit_2(ctx):
    p = run(["--root"])
    eq(p.returncode, 2, "exit status")
    check("--root" in one_line(p.stderr), "stderr does not name --root: %r" % p.stderr)


def test_bad_listen_address_exit_2(ctx):
    p = run(["--root", ctx.root.path, "--listen", "not-an-address"])
    eq(p.returncode, 2, "exit status")
    check("not-an-address" in one_line(p.stderr), "stderr does not name the address: %r"
          % p.stderr)


def test_address_in_use_exit_2(ctx):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        addr = "127.0.0.1:%d" % s.getsockname()[1]
        p = run(["--root", ctx.root.path, "--listen", addr, "--threads", "2"])
        eq(p.returncode, 2, "exit status")
        line = one_line(p.stderr)
        check("in use" in line.lower(), "stderr does not say 'in use': %r" % line)
        check(addr in line, "stderr does not name %s: %r" % (addr, line))
    finally:
        s.close()


def test_serving_line_format(ctx):
    srv = ctx.srv
    m = SERVING_RE.match(srv.serving_line)
    check(m is not None, "serving line %r not 'htd 0.1.0 serving ROOT at http://H:P/'"
          % srv.serving_line)
    eq(m.group(1), ctx.root.path, "root in the serving line")
    eq(m.group(2), "127.0.0.1:%d" % srv.port, "address in the serving line")
    check(srv.port != 0, "port 0 printed instead of the bound port")


def test_defaults_serve_current_directory(ctx):
    cwd = os.path.realpath(tempfile.mkdtemp(prefix="htd-cwd-"))
    srv = None
    try:
        os.chmod(cwd, 0o755)
        with open(os.path.join(cwd, "here.txt"), "wb") as f:
            f.write(b"served from the cwd\n")
        srv = harness.Server([harness.HTD, "--listen", "127.0.0.1:0"], cwd=cwd)
        m = SERVING_RE.match(srv.serving_line)
        check(m is not None, "bad serving line %r" % srv.serving_line)
        eq(m.group(1).rstrip("/") or "/", cwd, "root in the serving line")
        check_ok_file(get(srv, "/here.txt"), b"served from the cwd\n")
        srv.check_health()
        eq(srv.stop(), 0, "exit status after SIGTERM")
    finally:
        if srv:
            srv.cleanup()
        shutil.rmtree(cwd, ignore_errors=True)



def test_a_directory_alone_is_the_root(ctx):
    d = ConfDir({"www/a.txt": b"positional\n"})
    srv = None
    try:
        srv = harness.Server([harness.HTD, "--listen", "127.0.0.1:0", d.p("www")])
        check_ok_file(get(srv, "/a.txt"), b"positional\n")
        eq(srv.stop(), 0, "stopped")
    finally:
        if srv:
            srv.cleanup()
        d.cleanup()
    p = run(["--root", ".", "somewhere"])
    eq(p.returncode, 2, "the root twice")
    check("root is given twice" in one_line(p.stderr), "why: %r" % p.stderr)


def test_pid_file_is_written_and_removed(ctx):
    d = ConfDir({"www/a.txt": b"x"})
    srv = None
    try:
        pidf = d.p("htd.pid")
        srv = harness.Server([harness.HTD, "--listen", "127.0.0.1:0", "--root", d.p("www"),
                              "--pid-file", pidf])
        # Written once the ports are open, just after the serving line.
        wait_until(lambda: os.path.exists(pidf) and open(pidf).read(), what="the pid file")
        eq(open(pidf).read(), "%d\n" % srv.proc.pid, "the pid file")
        eq(srv.stop(), 0, "stopped")
        check(not os.path.exists(pidf), "removed at exit")
    finally:
        if srv:
            srv.cleanup()
        d.cleanup()


SCRIPT = b"#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nid -u\n"


def test_scripts_are_refused_as_root_and_run_as_the_user(ctx):
    if os.geteuid() != 0:
        raise harness.Skip("needs root (CI runs as root)")
    d = ConfDir({"www/a.txt": b"x"})
    d.write("www/cgi-bin/id.sh", SCRIPT, 0o755)
    os.chmod(d.path, 0o755)
    try:
        p = run(["--listen", "127.0.0.1:0", "--root", d.p("www"), "--cgi", "/cgi-bin/"])
        eq(p.returncode, 2, "scripts as root: refused")
        check("refusing to run CGI scripts" in one_line(p.stderr) and "--user" in p.stderr.decode(),
              "why, and what to do: %r" % p.stderr)
        srv = harness.Server([harness.HTD, "--listen", "127.0.0.1:0", "--root", d.p("www"),
                              "--cgi", "/cgi-bin/", "--user", "nobody"])
        try:
            with open("/proc/%d/status" % srv.proc.pid) as f:
                uids = [l.split()[1:] for l in f if l.startswith(("Uid:", "Gid:"))]
            nobody = int(subprocess.check_output(["id", "-u", "nobody"]))
            eq(uids[0], [str(nobody)] * 4, "every uid of htd is nobody's")
            r = get(srv, "/cgi-bin/id.sh")
            eq((r.status, r.body), (200, b"%d\n" % nobody), "the script runs as nobody")
            check_ok_file(get(srv, "/a.txt"), b"x")
            eq(srv.stop(), 0, "stopped")
        finally:
            srv.cleanup()
        p = run(["--listen", "127.0.0.1:0", "--root", d.p("www"), "--user", "no-such-user-here"])
        eq(p.returncode, 2, "an unknown user")
        check("no such user" in one_line(p.stderr), "why: %r" % p.stderr)
    finally:
        d.cleanup()


def test_the_config_files_user_pid_file_and_scripts_as_root_apply(ctx):
    """user, pid_file and scripts_as_root from the config file, with no flag:
    the same as --user, --pid-file and --scripts-as-root."""
    if os.geteuid() != 0:
        raise harness.Skip("needs root (CI runs as root)")
    d = ConfDir({"www/a.txt": b"x"})
    d.write("www/cgi-bin/id.sh", SCRIPT, 0o755)
    os.chmod(d.path, 0o755)
    try:
        conf = 'root = "www";\ncgi = ["/cgi-bin/"];\n'
        d.write_conf(conf)
        p = run(["-c", d.conf, "--listen", "127.0.0.1:0"])
        eq(p.returncode, 2, "scripts as root without a word: refused")
        d.write_conf(conf + 'scripts_as_root = true;\n')
        srv = harness.Server([harness.HTD, "--no-scripts-as-root", "-c", d.conf,
                              "--listen", "127.0.0.1:0"])
        try:
            eq(get(srv, "/cgi-bin/id.sh").body, b"0\n", "scripts_as_root = true; lets them run")
        finally:
            srv.stop()
            srv.cleanup()
        d.write_conf(conf + 'user = "nobody";\npid_file = "htd.pid";\n')
        srv = harness.Server([harness.HTD, "-c", d.conf, "--listen", "127.0.0.1:0"])
        try:
            nobody = int(subprocess.check_output(["id", "-u", "nobody"]))
            with open("/proc/%d/status" % srv.proc.pid) as f:
                uids = [l.split()[1:] for l in f if l.startswith("Uid:")]
            eq(uids[0], [str(nobody)] * 4, "user = \"nobody\"; in the config")
            eq(get(srv, "/cgi-bin/id.sh").body, b"%d\n" % nobody, "the script runs as nobody")
            wait_until(lambda: os.path.exists(d.p("htd.pid")) and open(d.p("htd.pid")).read(),
                       what="the pid file")
            eq(open(d.p("htd.pid")).read(), "%d\n" % srv.proc.pid, "pid_file in the config")
        finally:
            srv.stop()
            srv.cleanup()
    finally:
        d.cleanup()


def test_a_writable_area_open_to_everyone_is_warned_of(ctx):
    d = ConfDir({"www/a.txt": b"x"})
    d.mkdir("www/up")
    d.mkdir("www/safe")
    try:
        srv = harness.start_htd_config(
            'root = "www";\nwritable = ["/up/", "/safe/"];\n'
            'rules = ( { prefix = "/safe/"; access = ["allow 127.0.0.1", "deny all"]; } );\n',
            confdir=d)
        try:
            err = srv.stderr()
            check("under /up/ are open to every client" in err, "the warning: %r" % err)
            check("/safe/" not in err, "no warning for an area with an access rule: %r" % err)
        finally:
            srv.stop()
            srv.cleanup()
    finally:
        d.cleanup()

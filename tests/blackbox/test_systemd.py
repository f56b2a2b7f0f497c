# SPDX-License-Identifier: BSD-2-Clause
"""systemd: the notification protocol on a test NOTIFY_SOCKET (READY=1 with
STATUS= once serving, RELOADING=1 with MONOTONIC_USEC= then READY=1 around
SIGHUP, STOPPING=1 on SIGTERM, the periodic STATUS= with the connection
count), and socket activation (LISTEN_FDS/LISTEN_PID) serving on the
inherited socket, emulated here and through systemd-socket-activate."""

import os
import shutil
import signal
import socket
import subprocess
import time

import harness
from harness import ConfDir, check, connect, eq, fail, get_addr


def _notify_socket():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = "\0htd-test-notify-%d-%d" % (os.getpid(), time.monotonic_ns())
    s.bind(name)
    s.settimeout(harness.TIMEOUT)
    return s, "@" + name[1:]


def _wait_for(sock, key, seen):
    """Reads datagrams until one has a line starting with key; returns it."""
    deadline = time.monotonic() + harness.TIMEOUT
    while time.monotonic() < deadline:
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        seen.append(msg)
        if any(line.startswith(key) for line in msg.split("\n")):
            return msg
    fail("no %s on NOTIFY_SOCKET; got %r" % (key, seen))


def test_notify_ready_reload_stop(ctx):
    sock, name = _notify_socket()
    cd = ConfDir({"site/a.txt": b"a\n"})
    cd.write_conf('root = "site";\naccess_log = "off";\n')
    argv = ["env", "NOTIFY_SOCKET=" + name, harness.HTD, "-c", cd.p("htd.conf"),
            "--listen", "127.0.0.1:0", "--threads", "2"]
    srv = harness.Server(argv)
    try:
        seen = []
        msg = _wait_for(sock, "READY=1", seen)
        check("STATUS=0 connections open" in msg, "READY with the status: %r" % msg)
        c = connect(srv)
        c.send(harness.req("/a.txt"))
        eq(c.read_response().status, 200, "status")
        srv.send_signal(signal.SIGHUP)
        msg = _wait_for(sock, "RELOADING=1", seen)
        check("MONOTONIC_USEC=" in msg, "RELOADING with MONOTONIC_USEC: %r" % msg)
        msg = _wait_for(sock, "READY=1", seen)
        check("STATUS=1 connection open" in msg, "READY after reload counts 1: %r" % msg)
        # The periodic status, every few seconds.
        msg = _wait_for(sock, "STATUS=1 connection open", seen)
        c.close()
        srv.send_signal(signal.SIGTERM)
        _wait_for(sock, "STOPPING=1", seen)
        eq(srv.wait(harness.TIMEOUT), 0, "exit status")
    finally:
        srv.cleanup()
        cd.cleanup()
        sock.close()


def test_no_notify_socket_nothing_sent(ctx):
    # The shared server runs without NOTIFY_SOCKET and serves as ever.
    eq(harness.get(ctx.srv, "/").status in (200, 403, 404), True, "served")


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_socket_activation_emulated(ctx):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    port = ls.getsockname()[1]
    # fd 3 in the child, LISTEN_PID the pid htd will have (exec keeps it).
    script = 'exec 3<&%d; LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"' % ls.fileno()
    argv = ["sh", "-c", script, "sh", harness.HTD, "--root", ctx.root.path,
            "--threads", "3"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            pass_fds=(ls.fileno(),))
    try:
        ls.close()  # htd holds it now
        line = proc.stdout.readline().decode()
        check(line.endswith("127.0.0.1:%d/\n" % port),
              "serves on the inherited socket's port: %r" % line)
        for _ in range(6):
            r = get_addr(("127.0.0.1", port), "/")
            check(r.status in (200, 403, 404), "a response: %r" % r)
        proc.send_signal(signal.SIGTERM)
        eq(proc.wait(harness.TIMEOUT), 0, "exit status")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_socket_activation_systemd_socket_activate(ctx):
    tool = shutil.which("systemd-socket-activate")
    if not tool:
        raise harness.Skip("systemd-socket-activate is not installed (package systemd)")
    port = _free_port()
    argv = [tool, "-l", "127.0.0.1:%d" % port, os.path.abspath(harness.HTD),
            "--root", ctx.root.path, "--threads", "2"]
    srv = harness.Server(argv, serving_line=False)
    try:
        # It starts htd on the first connection, which htd then serves.
        deadline = time.monotonic() + harness.TIMEOUT
        while True:
            try:
                r = get_addr(("127.0.0.1", port), "/")
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    fail("nothing listens on %d" % port)
                time.sleep(0.05)
        check(r.status in (200, 403, 404), "a response: %r" % r)
        r = get_addr(("127.0.0.1", port), "/")
        check(r.status in (200, 403, 404), "a second response: %r" % r)
        srv.proc.send_signal(signal.SIGTERM)
        eq(srv.wait(harness.TIMEOUT), 0, "exit status")
    finally:
        srv.cleanup()


def test_units_pass_systemd_analyze_verify(ctx):
    tool = shutil.which("systemd-analyze")
    if not tool:
        raise harness.Skip("systemd-analyze is not installed (package systemd)")
    here = os.path.dirname(os.path.abspath(__file__))
    units = os.path.join(here, "..", "..", "contrib", "systemd")
    d = harness.tempfile.mkdtemp(prefix="htd-units-")
    try:
        # The unit's binary is the installed one; verify wants it to exist.
        with open(os.path.join(units, "htd.service")) as f:
            text = f.read().replace("/usr/bin/htd", os.path.abspath(harness.HTD))
        with open(os.path.join(d, "htd.service"), "w") as f:
            f.write(text)
        shutil.copy(os.path.join(units, "htd.socket"), d)
        p = subprocess.run([tool, "verify", "--man=no", os.path.join(d, "htd.service"),
                            os.path.join(d, "htd.socket")], capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0 and ("Failed to" in p.stderr and "bus" in p.stderr.lower()):
            raise harness.Skip("systemd-analyze cannot run here: %s" % p.stderr.strip())
        eq(p.returncode, 0, "systemd-analyze verify status (stderr %r)" % p.stderr)
        check(p.stderr.strip() == "", "no warnings: %r" % p.stderr)
    finally:
        shutil.rmtree(d)

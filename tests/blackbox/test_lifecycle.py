# SPDX-License-Identifier: BSD-2-Clause
"""Graceful stop: SIGTERM with a download in flight lets it finish intact and
exits 0; idle keep-alive connections are closed by the stop; new connections
are refused once it completes; SIGINT stops with 0 too."""

import signal
import socket
import time

import harness
from harness import FILE_TXT, check, check_ok_file, connect, eq, fail, req


def _refused(srv):
    s = socket.socket()
    s.settimeout(harness.TIMEOUT)
    try:
        s.connect(srv.addr)
    except ConnectionRefusedError:
        return True
    finally:
        s.close()
    return False


def _finish(srv, want_rc=0):
    rep = srv.sanitizer_report()
    check(rep is None, "sanitizer report on stderr:\n%s" % rep)
    eq(srv.proc.returncode, want_rc, "exit status")


def test_sigterm_with_download_in_flight(ctx):
    root = ctx.root
    srv = harness.start_htd(root.path)
    try:
        c = harness.download_in_flight(srv)
        srv.send_signal(signal.SIGTERM)
        # Keep reading slowly for a while, then fast: the response must finish.
        t_slow = time.monotonic() + 0.7
        while time.monotonic() < t_slow:
            d = c.sock.recv(16384)
            if not d:
                break
            c.buf += d
            time.sleep(0.005)
        r = c.read_response()
        t_done = time.monotonic()
        harness.check_big(r, root, "the body after SIGTERM")
        check(c.at_eof(), "connection not closed after the in-flight response during stop")
        c.close()
        rc = srv.wait(5)
        if rc is None:
            fail("htd did not exit within 5 s after the in-flight response finished")
        check(time.monotonic() - t_done < 5, "exit took too long")
        _finish(srv)
        check(_refused(srv), "new connection accepted after the stop completed")
    finally:
        srv.cleanup()


def test_sigterm_closes_idle_keepalive_connections(ctx):
    srv = harness.start_htd(ctx.root.path)
    conns = []
    try:
        # Several, so that both worker threads most likely hold one.
        for _ in range(4):
            c = connect(srv)
            c.send(req("/file.txt"))
            check_ok_file(c.read_response(), FILE_TXT)
            conns.append(c)
        # Connected but silent: with TCP_DEFER_ACCEPT it may never reach
        # htd, so it is only required never to get an answer after the stop.
        silent = connect(srv)
        time.sleep(0.1)
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        for i, c in enumerate(conns):
            check(c.at_eof(5), "idle keep-alive connection %d not closed within 5 s of SIGTERM"
                  % (i + 1))
        rc = srv.wait(5)
        check(rc is not None, "htd did not exit within 5 s of SIGTERM with idle connections")
        check(time.monotonic() - t0 < 5, "stop took too long")
        _finish(srv)
        check(_refused(srv), "new connection accepted after the stop completed")
        try:
            silent.send(req("/file.txt"))
            check(silent.at_eof(5), "a connection made before the stop was answered after it: %r"
                  % silent.buf[:100])
        except (BrokenPipeError, ConnectionResetError):
            pass
    finally:
        for c in conns:
            c.close()
        srv.cleanup()


def test_sigint_stops_with_status_0(ctx):
    srv = harness.start_htd(ctx.root.path)
    try:
        check_ok_file(harness.get(srv, "/file.txt"), FILE_TXT)
        srv.send_signal(signal.SIGINT)
        rc = srv.wait(5)
        check(rc is not None, "htd did not exit within 5 s of SIGINT")
        _finish(srv)
    finally:
        srv.cleanup()


def test_sigterm_idle_server_exits_promptly(ctx):
    srv = harness.start_htd(ctx.root.path, threads=4)
    try:
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait(5)
        check(rc is not None, "idle htd did not exit within 5 s of SIGTERM")
        check(time.monotonic() - t0 < 2, "idle stop took %.1f s" % (time.monotonic() - t0))
        _finish(srv)
    finally:
        srv.cleanup()


def test_sigterm_ends_a_connection_dropping_a_body(ctx):
    """A client trickling an unwanted body cannot hold the stop open."""
    srv = harness.start_htd(ctx.root.path, extra=["--body-timeout", "30"])
    try:
        c = connect(srv)
        c.send(req("/file.txt", "POST", [("Content-Length", "1000000")]) + b"x" * 1000)
        eq(c.read_response().status, 405, "answered before the body")
        c.send(b"x")
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(timeout=5)
        _finish(srv)
        c.close()
    finally:
        srv.cleanup()

# SPDX-License-Identifier: BSD-2-Clause
"""Timeouts and limits, with short values set by flags: a head that never
completes gets 408 and a close; an idle keep-alive connection is closed; a
body that stops arriving ends the connection; a client that stops reading is
dropped; --max-requests closes after the Nth response."""

import time

import harness
from harness import check, connect, eq, req


def _server(ctx, *flags):
    return harness.start_htd(ctx.root.path, extra=list(flags), threads=1)


def _run(ctx, flags, fn):
    srv = _server(ctx, *flags)
    try:
        fn(srv)
    finally:
        eq(srv.stop(), 0, "exit status")
        check(srv.sanitizer_report() is None, "sanitizer report")
        srv.cleanup()


def test_408_when_the_head_never_completes(ctx):
    def body(srv):
        c = connect(srv)
        c.send(b"GET /file.txt HTTP/1.1\r\nHost: x\r\n")  # no empty line
        t0 = time.time()
        r = c.read_response()
        eq(r.status, 408, "status")
        eq(r.get("Connection"), "close", "Connection")
        check(c.at_eof(), "closed after the 408")
        check(time.time() - t0 < 5, "408 within a few seconds of a 0.3 s timeout")
        c.close()
    _run(ctx, ["--header-timeout", "0.3"], body)


def test_slowloris_trickle_still_times_out(ctx):
    """Bytes arriving slowly do not extend the header timeout."""
    def body(srv):
        c = connect(srv, nodelay=True)
        c.send(b"GET /file.txt HTTP/1.1\r\n")
        t0 = time.time()
        try:
            for i in range(40):
                c.send(b"X-%d: y\r\n" % i)
                time.sleep(0.05)
        except OSError:
            pass
        r = c.read_response()
        eq(r.status, 408, "status")
        check(time.time() - t0 < 3, "timed out despite the trickle")
        c.close()
    _run(ctx, ["--header-timeout", "0.5"], body)


def test_idle_keep_alive_connection_is_closed(ctx):
    def body(srv):
        c = connect(srv)
        c.send(req("/file.txt"))
        eq(c.read_response().status, 200, "status")
        t0 = time.time()
        check(c.at_eof(timeout=5), "idle connection closed")
        eq(c.buf, b"", "nothing sent on an idle close")
        check(time.time() - t0 < 4, "closed soon after a 0.3 s idle timeout")
        c.close()
    _run(ctx, ["--idle-timeout", "0.3"], body)


def test_body_that_stops_arriving_ends_the_connection(ctx):
    def body(srv):
        c = connect(srv)
        c.send(req("/file.txt", headers=[("Content-Length", "10")]) + b"12345")
        eq(c.read_response().status, 200, "status")
        check(c.at_eof(timeout=5), "connection ends when the rest of the body never comes")
        c.close()
    _run(ctx, ["--body-timeout", "0.3"], body)


def test_client_that_stops_reading_is_dropped(ctx):
    def body(srv):
        c = connect(srv, rcvbuf=4096)
        c.send(req("/big.bin"))
        time.sleep(2.0)  # read nothing while the send timeout runs out
        got = c.sock.recv(65536)
        check(len(got) > 0, "some of the response arrived")
        data = got + c.read_to_eof()
        check(len(data) < harness.BIG_SIZE, "the response was cut off, %d bytes" % len(data))
        c.close()
    _run(ctx, ["--send-timeout", "0.3"], body)


def test_max_requests_closes_after_the_last(ctx):
    def body(srv):
        c = connect(srv)
        for i in range(3):
            c.send(req("/file.txt"))
            r = c.read_response()
            eq(r.status, 200, "status")
            eq(r.get("Connection"), "close" if i == 2 else None, "Connection on response %d" % i)
        check(c.at_eof(), "closed after the third")
        c.close()
    _run(ctx, ["--max-requests", "3"], body)


def test_timeout_flags_are_checked(ctx):
    import subprocess
    for flag in ("--header-timeout", "--idle-timeout", "--body-timeout", "--send-timeout"):
        p = subprocess.run([harness.HTD, flag, "soon"], capture_output=True, timeout=10)
        eq(p.returncode, 2, flag + " exit status")
        check(flag.encode() in p.stderr, "the message names " + flag)
